from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.embedders import HashEmbedder, make_embedder
from knowledge.fusion import FusionConfig
from knowledge.index import CatalogIndex
from knowledge.retriever import HybridRetriever
from tests.knowledge.retrieval_catalog import documents, products

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> CatalogIndex:
    built = CatalogIndex(tmp_path_factory.mktemp("idx"), "shop", HashEmbedder(256))
    built.sync(products(), documents())
    return built


@pytest.fixture
def retriever(index: CatalogIndex) -> HybridRetriever:
    return HybridRetriever(index)


@pytest.mark.parametrize(
    ("question", "sku"),
    [
        ("EB-X3多少钱", "EB-X3"),  # product sku
        ("eb-x3-red 还有吗", "EB-X3"),  # variant sku, any case
        ("Vita Pro Countertop Blender red?", "BL-200"),  # exact title
        ("北风男士纯棉连帽卫衣有XL吗", "ZH-HD-09"),  # exact title without spaces
        ("PB-10000 能带上飞机吗", "ZH-PB-10"),  # model number
        ("Acme的耳机有红色吗", "EB-X3"),  # brand + type across languages (耳机 = earbuds)
        ("花语防晒霜敏感肌能用吗", "ZH-SS-01"),  # brand + type
    ],
)
def test_lookup_finds_named_products(retriever: HybridRetriever, question: str, sku: str) -> None:
    assert retriever.lookup(question) == [sku]
    top = retriever.search_products(question, k=3)[0]
    assert top.sku == sku
    assert top.method in {"sku", "title", "model", "brand"}


@pytest.mark.parametrize("question", ["多少钱", "does it come in red", "有优惠吗", "3号链接"])
def test_lookup_names_nothing_for_vague_questions(retriever: HybridRetriever, question: str) -> None:
    assert retriever.lookup(question) == []


@pytest.mark.parametrize(
    ("question", "sku"),
    [
        ("does the blender come in red", "BL-200"),
        ("适合敏感肌吗 无酒精", "ZH-SS-01"),
        ("卫衣有XL吗", "ZH-HD-09"),
        ("earl grey with bergamot", "EN-TEA-4"),
        ("宽松的纯棉卫衣", "ZH-HD-09"),
    ],
)
def test_search_products_ranks_the_right_product_first(
    retriever: HybridRetriever, question: str, sku: str
) -> None:
    hits = retriever.search_products(question, k=3)
    assert hits[0].sku == sku
    assert hits[0].passages
    assert all(h.sku == sku for h in hits[0].passages)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_can_be_restricted_to_the_product_in_focus(retriever: HybridRetriever) -> None:
    hits = retriever.search("battery and waterproof", k=10, skus={"EB-X3"})
    assert hits
    assert {h.sku for h in hits} == {"EB-X3"}
    assert all(h.passage.source.sku == "EB-X3" for h in hits)
    assert retriever.search("battery", k=5, skus={"NO-SUCH-SKU"}) == []


def test_policy_question_finds_the_document_section_with_its_source(retriever: HybridRetriever) -> None:
    hit = retriever.search("七天无理由退货怎么申请", k=3)[0]
    assert hit.passage.source.doc_id == "returns-zh"
    assert hit.passage.source.heading == "七天无理由退货"
    assert hit.sku is None


def test_faq_section_tied_to_a_product_counts_for_that_product(retriever: HybridRetriever) -> None:
    hits = retriever.search("Can I crush ice with the blender pulse", k=5)
    faq = [h for h in hits if h.passage.source.doc_id == "faq-en"]
    assert faq
    assert faq[0].sku == "BL-200"


@pytest.mark.parametrize("mode", ["dense", "lexical", "rrf", "hybrid"])
def test_every_mode_ranks_products(index: CatalogIndex, mode: str) -> None:
    retriever = HybridRetriever(index, mode=mode)  # type: ignore[arg-type]
    hits = retriever.search_products("Acme wireless earbuds noise cancelling", k=3)
    assert hits[0].sku == "EB-X3"
    passages = retriever.search("Acme wireless earbuds noise cancelling", k=3)
    assert passages[0].sku == "EB-X3"


def test_lexical_bonus_is_bounded_and_dense_stays_the_base(index: CatalogIndex) -> None:
    plain = HybridRetriever(index, config=FusionConfig(lexical_weight=0.0))
    fused = HybridRetriever(index)
    q = "earl grey black tea"
    dense_top = plain.search_products(q, k=1)[0]
    fused_top = fused.search_products(q, k=1)[0]
    assert fused_top.sku == dense_top.sku == "EN-TEA-4"
    assert 0 < fused_top.score - dense_top.score <= FusionConfig().lexical_weight + 1e-6


def test_retriever_follows_a_new_generation(tmp_path: Path) -> None:
    idx = CatalogIndex(tmp_path, "shop", HashEmbedder(64))
    idx.sync(products()[:2], [])
    retriever = HybridRetriever(idx)
    assert retriever.lookup("Highland Earl Grey Black Tea, 50 Bags") == []
    idx.sync(products(), [])
    assert retriever.lookup("Highland Earl Grey Black Tea, 50 Bags") == ["EN-TEA-4"]


@pytest.mark.integration
@pytest.mark.slow
def test_cross_lingual_questions_with_the_real_model(tmp_path: Path) -> None:
    idx = CatalogIndex(tmp_path, "shop", make_embedder("use-multilingual"))
    idx.sync(products(), documents())
    retriever = HybridRetriever(idx)
    # Chinese questions about English listings and back, none naming the product.
    assert retriever.search_products("有没有能降噪的无线耳机", k=3)[0].sku == "EB-X3"
    assert retriever.search_products("做奶昔的搅拌机", k=3)[0].sku == "BL-200"
    assert retriever.search_products("sunscreen that is gentle for sensitive skin", k=3)[0].sku == "ZH-SS-01"
    assert retriever.search_products("warm cotton hoodie for men", k=3)[0].sku == "ZH-HD-09"
