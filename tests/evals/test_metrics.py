"""Metric functions and answer checks on hand-computed examples."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evals.dataset import FactSpec
from evals.facts import check_fact, expresses_state, numbers, unsupported_numbers
from evals.metrics import (
    category_metrics,
    confusion,
    precision_recall,
    rate,
    recall_at_k,
    reciprocal_rank,
    summarise,
)
from evals.reference import Reference
from evals.scoring import Observed, ranked_products, score_case
from tests.evals.conftest import make_case

pytestmark = pytest.mark.unit


def test_recall_at_k_and_reciprocal_rank() -> None:
    ranked = [None, "B", "A", "C"]
    assert recall_at_k(ranked, "A", 1) == 0.0
    assert recall_at_k(ranked, "A", 2) == 0.0
    assert recall_at_k(ranked, "A", 3) == 1.0
    assert reciprocal_rank(ranked, "A") == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, "Z") == 0.0
    assert reciprocal_rank(["A"], "A") == 1.0


def test_precision_recall_counts() -> None:
    # (expected, predicted): 2 true positives, 1 false positive, 1 false negative, 1 true negative.
    pairs = [(True, True), (True, True), (False, True), (True, False), (False, False)]
    result = precision_recall(pairs)
    assert result["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["support"] == 3
    assert result["predicted"] == 3


def test_rates_are_none_when_nothing_was_measured() -> None:
    assert rate(0, 0) is None
    assert precision_recall([(False, False)])["precision"] is None
    assert summarise([])["fact_accuracy"] is None


def test_numbers_found_next_to_chinese_and_letters() -> None:
    assert numbers("仅剩4件") == {Decimal(4)}
    assert numbers("降噪深度约42dB，SPF50+") == {Decimal(42), Decimal(50)}
    assert numbers("价格是¥1,299.00（原价¥229）") == {Decimal(1299), Decimal(229)}
    assert numbers("$25.90.") == {Decimal("25.9")}


@pytest.mark.parametrize(
    ("text", "state", "count", "lang", "expected"),
    [
        ("目前库存紧张，仅剩3件", "low", 3, "zh", True),
        ("目前有货", "low", 3, "zh", False),
        ("已经售罄了", "sold_out", 0, "zh", True),
        ("有货", "sold_out", 0, "zh", False),
        ("It is in stock.", "in_stock", 20, "en", True),
        ("It is sold out.", "in_stock", 20, "en", False),
        ("low in stock (only 3 left)", "low", 3, "en", True),
    ],
)
def test_expresses_state(text: str, state: str, count: int, lang: str, expected: bool) -> None:
    assert expresses_state(text, state, count, lang) is expected


def test_price_fact_reads_the_store(reference: Reference) -> None:
    ok = check_fact("现在的价格是¥159（原价¥229）。", FactSpec(kind="price", sku="H-1"), reference, "zh")
    assert ok.ok
    assert ok.expected == "159"
    wrong = check_fact("现在的价格是¥199。", FactSpec(kind="price", sku="H-1"), reference, "zh")
    assert not wrong.ok
    listed = check_fact("原价¥229", FactSpec(kind="list_price", sku="H-1"), reference, "zh")
    assert listed.ok


def test_price_fact_follows_a_catalog_change(reference: Reference) -> None:
    answer = "现在的价格是¥159。"
    fact = FactSpec(kind="price", sku="H-1")
    assert check_fact(answer, fact, reference, "zh").ok
    reference.products["H-1"].price = Decimal("149.00")
    changed = check_fact(answer, fact, reference, "zh")
    assert not changed.ok
    assert changed.expected == "149"


def test_stock_fact_low_needs_the_count(reference: Reference) -> None:
    fact = FactSpec(kind="stock_state", sku="L-1")
    assert check_fact("Only 3 left, low in stock.", fact, reference, "en").ok
    assert not check_fact("It is in stock.", fact, reference, "en").ok


def test_variant_fact_per_clause(reference: Reference) -> None:
    fact = FactSpec(kind="variant_available", sku="H-1", value="XL")
    good = "粉色/XL已经售罄了，¥159。黑色/XL有货，¥159。"
    assert check_fact(good, fact, reference, "zh").ok
    swapped = "粉色/XL有货，¥159。黑色/XL已经售罄了。"
    assert not check_fact(swapped, fact, reference, "zh").ok
    one = FactSpec(kind="variant_sold_out", sku="H-1-PNK-XL")
    assert check_fact(good, one, reference, "zh").ok
    low = FactSpec(kind="variant_available", sku="H-1-BLK-M")
    assert check_fact("黑色/M库存紧张，仅剩3件，¥159。", low, reference, "zh").ok


def test_attribute_fact(reference: Reference) -> None:
    fabric = FactSpec(kind="attribute", sku="H-1", field="面料成分")
    assert check_fact("面料为棉80%和聚酯纤维20%", fabric, reference, "zh").ok
    assert not check_fact("面料很舒服", fabric, reference, "zh").ok
    heat = FactSpec(kind="attribute", sku="H-1", field="是否能加热")
    assert check_fact("这款不能加热哦", heat, reference, "zh").ok
    missing = check_fact("x", FactSpec(kind="attribute", sku="H-1", field="颜色"), reference, "zh")
    assert not missing.ok
    assert "no attribute" in missing.detail


def test_unsupported_numbers(reference: Reference) -> None:
    cites = [{"sku": "H-1", "field": "price"}]
    assert unsupported_numbers("价格¥159，原价¥229，省70", cites, reference) == []
    assert unsupported_numbers("价格¥159，限时¥99", cites, reference) == ["99"]
    doc = [{"document": "shipping-zh", "heading": "包邮条件"}]
    assert unsupported_numbers("满99元包邮，不满收8元", doc, reference) == []
    assert unsupported_numbers("3号的价格¥159", cites, reference, context=["3号多少钱"]) == []
    assert unsupported_numbers("工单号T-9ABC", [], reference, ignore=["T-9ABC"]) == []


def test_ranked_products_focus_first_then_citations(reference: Reference) -> None:
    observed = Observed(focus_sku=None, citations=[{"sku": "H-1-BLK-XL"}, {"sku": "L-1"}, {"sku": "H-1"}])
    assert ranked_products(observed, reference) == [None, "H-1", "L-1"]


def test_score_and_summarise_hand_computed(reference: Reference) -> None:
    right = score_case(
        make_case(
            id="a",
            expect={
                "route": "product_question",
                "product": "H-1",
                "facts": [{"kind": "price", "sku": "H-1"}],
            },
        ),
        Observed(answer="现在¥159", route="product_question", focus_sku="H-1", citations=[{"sku": "H-1"}]),
        reference,
    )
    wrong = score_case(
        make_case(
            id="b",
            expect={
                "route": "product_question",
                "product": "H-1",
                "facts": [{"kind": "price", "sku": "H-1"}],
            },
        ),
        Observed(
            answer="现在¥99", route="chitchat", focus_sku="L-1", citations=[{"sku": "L-1"}, {"sku": "H-1"}]
        ),
        reference,
    )
    refused = score_case(
        make_case(id="c", channel="live", expect={"refuse": True, "route": "product_question"}),
        Observed(answer="联系13812345678", route="product_question", refused=True),
        reference,
    )
    assert right.passed
    assert not wrong.passed
    assert not refused.passed
    assert any(f.startswith("grounding") for f in wrong.failures)
    summary = summarise([right, wrong, refused])
    assert summary["cases"] == 3
    assert summary["passed"] == 1
    assert summary["recall@1"] == 0.5  # a: H-1 first; b: L-1 first
    assert summary["mrr"] == 0.75  # (1 + 1/2) / 2
    assert summary["fact_accuracy"] == 0.5
    assert summary["groundedness"] == 0.5  # a grounded, b has 99; c was refused
    assert summary["routing_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["refusal_accuracy"] == 1.0
    assert summary["pii_leaks"] == 1
    assert confusion([right, wrong, refused]) == {"product_question": {"product_question": 2, "chitchat": 1}}


def test_category_metrics(reference: Reference) -> None:
    def outcome(expected: str | None, route: str, category: str | None):
        expect = {"category": expected} if expected else {}
        return score_case(
            make_case(expect=expect), Observed(answer="x", route=route, category=category), reference
        )

    outcomes = [
        outcome("refund", "after_sales", "refund"),
        outcome("refund", "after_sales", "return"),
        outcome("return", "after_sales", "return"),
        outcome(None, "product_question", None),
    ]
    cats = category_metrics(outcomes)
    assert cats["refund"]["precision"] == 1.0
    assert cats["refund"]["recall"] == 0.5
    assert cats["return"]["precision"] == 0.5
    assert cats["return"]["recall"] == 1.0
