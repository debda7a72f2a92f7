from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document as LCDocument

from knowledge.embedders import HashEmbedder
from knowledge.index import CatalogIndex
from knowledge.langchain_retriever import CatalogLangChainRetriever
from knowledge.retriever import HybridRetriever
from tests.knowledge.retrieval_catalog import documents, products

pytestmark = pytest.mark.unit


@pytest.fixture
def hybrid(tmp_path: Path) -> HybridRetriever:
    index = CatalogIndex(tmp_path, "shop", HashEmbedder(256))
    index.sync(products(), documents())
    return HybridRetriever(index)


def test_invoke_returns_documents_citing_the_right_product(hybrid: HybridRetriever) -> None:
    docs = CatalogLangChainRetriever(retriever=hybrid, k=3).invoke("does the blender come in red")
    assert 0 < len(docs) <= 3
    assert all(isinstance(d, LCDocument) for d in docs)
    top = docs[0]
    assert top.metadata["sku"] == "BL-200"
    assert top.metadata["field"] in {"summary", "variants", "description", "selling_points", "attributes"}
    assert top.metadata["passage_id"].startswith("p:BL-200:")
    assert isinstance(top.metadata["score"], float)
    assert top.page_content.startswith("Vita Pro Countertop Blender:")


def test_policy_documents_carry_document_and_heading(hybrid: HybridRetriever) -> None:
    docs = CatalogLangChainRetriever(retriever=hybrid, k=2).invoke("七天无理由退货")
    assert docs[0].metadata["document"] == "returns-zh"
    assert docs[0].metadata["heading"] == "七天无理由退货"
    assert "sku" not in docs[0].metadata


def test_restricted_to_the_product_in_focus(hybrid: HybridRetriever) -> None:
    docs = CatalogLangChainRetriever(retriever=hybrid, k=5, skus=["ZH-HD-09"]).invoke("尺码")
    assert docs
    assert {d.metadata["sku"] for d in docs} == {"ZH-HD-09"}


async def test_ainvoke_works_too(hybrid: HybridRetriever) -> None:
    docs = await CatalogLangChainRetriever(retriever=hybrid, k=1).ainvoke("earl grey tea")
    assert docs[0].metadata["sku"] == "EN-TEA-4"
