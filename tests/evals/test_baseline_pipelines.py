"""The two baseline Q&A systems of the side-by-side benchmark, on a tiny catalog.

The difflib table is matched for real; the LangChain pipeline runs FAISS, the stuff chain and ChatOpenAI
against the loopback fake model, and the test reads the request the server received.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from evals.baselines_impl import DifflibQA, QAPair, qa_pairs_from_catalog
from evals.baselines_impl.difflib_qa import IDK_ZH
from evals.baselines_impl.extractive_llm import (
    REFUSAL_EN,
    extractive_answer,
    extractive_reply,
    read_prompt,
)
from evals.baselines_impl.langchain_stuff import LangChainStuffQA, catalog_documents
from evals.bench.baselines_bench import comparable, has_comparable_check, ratios, select_cases
from evals.dataset import Case
from evals.fakes import FakeOpenAIServer
from evals.reference import Reference
from evals.scoring import score_case
from knowledge.embedders import HashEmbedder
from knowledge.models import DocSection, Document, Product, Variant

pytestmark = pytest.mark.integration


def hoodie() -> Product:
    return Product(
        sku="H-1",
        title="暖禾 加绒连帽卫衣",
        brand="暖禾",
        price=Decimal("159.00"),
        list_price=Decimal("229.00"),
        variants=[
            Variant("H-1-PNK-M", {"颜色": "粉色", "尺码": "M"}, Decimal("159.00"), 20),
            Variant("H-1-BLK-XL", {"颜色": "黑色", "尺码": "XL"}, Decimal("159.00"), 0),
        ],
        attributes={"面料成分": "棉80% 聚酯纤维20%"},
        selling_points=["内里加绒，秋冬单穿也暖和"],
        locale="zh-CN",
    )


def lamp() -> Product:
    return Product(
        sku="L-1",
        title="Lumora Clip-On LED Desk Lamp",
        brand="Lumora",
        price=Decimal("34.99"),
        currency="USD",
        stock=3,
        attributes={"Mount": "Clamp clips to desk edges up to 5.5 cm thick"},
        locale="en-US",
    )


def shipping() -> Document:
    return Document(
        doc_id="shipping-zh",
        title="发货与配送说明",
        sections=[
            DocSection("包邮条件", "单笔实付满99元包邮，不满99元收取运费8元。"),
            DocSection("发货时间", "付款后48小时内发货。"),
        ],
    )


def reference() -> Reference:
    return Reference(products={"H-1": hoodie(), "L-1": lamp()}, documents={"shipping-zh": shipping()})


def case(**fields: object) -> Case:
    data: dict[str, object] = {"id": "c1", "lang": "zh", "slice": "zh", "expect": {}}
    data.update(fields)
    return Case.model_validate(data)


# -- difflib Q&A -------------------------------------------------------------------------------------
def test_qa_table_is_written_from_the_catalog_in_each_products_language() -> None:
    pairs = qa_pairs_from_catalog([hoodie(), lamp()], [shipping()])
    by_question = {p.question: p for p in pairs}
    assert by_question["暖禾 加绒连帽卫衣多少钱"].answer == "暖禾 加绒连帽卫衣现在¥159.00，原价¥229.00"
    assert by_question["加绒连帽卫衣有什么颜色"].answer == "暖禾 加绒连帽卫衣的颜色有：粉色、黑色"
    assert by_question["加绒连帽卫衣有货吗"].answer == "暖禾 加绒连帽卫衣有货（20件）"
    assert by_question["How much is the Clip-On LED Desk Lamp"].answer.endswith("is now $34.99")
    assert by_question["包邮条件"].document == "shipping-zh"
    assert all(p.sku in ("H-1", "L-1") or p.document == "shipping-zh" for p in pairs)


def test_difflib_matches_a_paraphrase_above_the_cutoff() -> None:
    qa = DifflibQA.from_catalog([hoodie(), lamp()], [shipping()])
    matched = qa.match("暖禾加绒连帽卫衣多少钱啊")
    assert matched is not None
    pair, ratio = matched
    assert pair.sku == "H-1"
    assert ratio >= qa.cutoff
    answer = qa.answer("暖禾加绒连帽卫衣多少钱啊")
    assert answer.refused is False
    assert answer.focus_sku == "H-1"
    assert "159.00" in answer.answer
    assert answer.citations == ({"sku": "H-1", "field": "qa"},)
    english = qa.answer("how much is the clip on led desk lamp?")
    assert english.focus_sku == "L-1"
    assert "$34.99" in english.answer


def test_difflib_says_it_does_not_know_below_the_cutoff() -> None:
    qa = DifflibQA.from_catalog([hoodie(), lamp()], [shipping()])
    assert qa.match("你们店卖不卖猫粮") is None
    answer = qa.answer("你们店卖不卖猫粮")
    assert answer.refused is True
    assert answer.answer == IDK_ZH
    assert answer.focus_sku is None
    # A loose paraphrase (ratio 0.5) is missed at the default cutoff and matched at a lower one.
    table = [QAPair("加绒连帽卫衣多少钱", "¥159", sku="H-1")]
    assert DifflibQA(table).answer("加绒卫衣什么价").refused is True
    matched = DifflibQA(table, cutoff=0.4).match("加绒卫衣什么价")
    assert matched is not None
    assert matched[0].sku == "H-1"
    assert 0.4 <= matched[1] < 0.6
    with pytest.raises(ValueError, match="cutoff"):
        DifflibQA([], cutoff=1.5)


def test_a_baseline_answer_is_scored_like_the_products() -> None:
    ref = reference()
    qa = DifflibQA.from_catalog(ref.products.values(), list(ref.documents.values()))
    question = "暖禾加绒连帽卫衣多少钱啊"
    checked = case(
        text=question,
        expect={"route": "product_question", "product": "H-1", "facts": [{"kind": "price", "sku": "H-1"}]},
    )
    outcome = score_case(comparable(checked), qa.answer(question).to_observed(wall_ms=1.0), ref)
    assert outcome.passed, outcome.failures
    assert [f.ok for f in outcome.facts] == [True]
    # With the product-only route check kept, the baseline (which has no route) fails it.
    strict = score_case(checked, qa.answer(question).to_observed(wall_ms=1.0), ref)
    assert any(f.startswith("route:") for f in strict.failures)


# -- the extractive stand-in model ------------------------------------------------------------------
def test_extractive_answer_rules() -> None:
    docs = [
        "暖禾 加绒连帽卫衣: 内里加绒，秋冬单穿也暖和。面料成分: 棉80%。",
        "暖禾 加绒连帽卫衣：价格¥159.00，原价¥229.00。",
    ]
    assert extractive_answer("这件卫衣多少钱", docs) == "暖禾 加绒连帽卫衣：价格¥159.00，原价¥229.00。"
    assert extractive_answer("卫衣的面料成分是什么", docs) == "面料成分: 棉80%。"
    assert extractive_answer("Do you sell dog food?", docs) == REFUSAL_EN


# -- LangChain stuff chain ---------------------------------------------------------------------------
def test_langchain_stuff_chain_end_to_end_against_the_fake_model() -> None:
    ref = reference()
    products = list(ref.products.values())
    documents = list(ref.documents.values())
    corpus = catalog_documents(products, documents)
    assert any(d.page_content.startswith("暖禾 加绒连帽卫衣：价格¥159.00") for d in corpus)
    assert any("粉色/M 有货（20件）" in d.page_content and "黑色/XL 售罄" in d.page_content for d in corpus)
    with FakeOpenAIServer(extractive_reply) as server:
        qa = LangChainStuffQA(HashEmbedder(), products, documents, base_url=server.base_url, k=4)
        answer = qa.answer("暖禾加绒连帽卫衣多少钱")
        unknown = qa.answer("Do you sell dog food?")
        assert len(server.requests) == 2
        request = server.requests[0]
    messages = request["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[1]["content"] == "暖禾加绒连帽卫衣多少钱"
    question, stuffed = read_prompt(request)
    assert question == "暖禾加绒连帽卫衣多少钱"
    assert len(stuffed) == 4
    # Every stuffed document is a catalog document, and the answer is quoted from the prompt.
    texts = {d.page_content for d in corpus}
    assert all(d in texts for d in stuffed)
    assert answer.answer in messages[0]["content"]
    assert answer.answer == extractive_answer(question, stuffed)
    assert len(answer.citations) == 4
    assert set(answer.timings_ms) == {"retrieve", "llm"}
    # The price question is answered from the stuffed price card, about the hoodie.
    assert answer.answer == "暖禾 加绒连帽卫衣：价格¥159.00，原价¥229.00。"
    assert answer.focus_sku == "H-1"
    assert answer.refused is False
    assert unknown.refused is True
    assert unknown.answer == REFUSAL_EN


# -- the benchmark's case handling -------------------------------------------------------------------
def test_comparison_keeps_only_checks_every_system_can_meet() -> None:
    handoff = case(text="我要退款", expect={"route": "after_sales", "escalate": True, "refuse": False})
    product = case(id="c2", text="卫衣多少钱", expect={"route": "product_question", "product": "H-1"})
    routed_only = case(id="c3", text="你好", expect={"route": "greeting"})
    two_turns = case(id="c4", text=None, turns=["卫衣", "多少钱"], expect={"product": "H-1"})
    assert not has_comparable_check(handoff)
    assert has_comparable_check(product)
    assert not has_comparable_check(routed_only)
    assert select_cases([handoff, product, routed_only, two_turns], quick=False) == [product]
    stripped = comparable(product).expect
    assert stripped.route is None
    assert stripped.product == "H-1"


def test_ratios_are_product_over_baseline() -> None:
    product = {"pass_rate": 0.9, "fact_accuracy": 0.8, "latency_ms": {"p50": 10.0, "p95": 20.0}}
    baseline = {"pass_rate": 0.3, "fact_accuracy": 0.0, "latency_ms": {"p50": 40.0, "p95": 80.0}}
    got = ratios(product, baseline)
    assert got["pass_rate"] == 3.0
    assert got["fact_accuracy"] is None  # nothing to divide by
    assert got["latency_p50"] == 0.25
    assert got["refusal_accuracy"] is None
