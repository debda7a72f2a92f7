"""LangChain adapter: the hybrid retriever as a `BaseRetriever` returning cited `Document`s.

Each Document's metadata names its source ({"sku", "field"} for a product passage, {"document",
"heading"} for a policy section) plus "score", "passage_id" and "method", so a chain can cite it.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from knowledge.retriever import Hit, HybridRetriever


def hit_to_document(hit: Hit) -> LCDocument:
    """A retrieved passage as a LangChain Document with its source in the metadata."""
    metadata: dict[str, Any] = dict(hit.passage.source.to_dict())
    if hit.sku is not None and "sku" not in metadata:
        metadata["sku"] = hit.sku  # an FAQ section tied to a product
    metadata.update({"score": hit.score, "passage_id": hit.passage.passage_id, "method": hit.method})
    return LCDocument(page_content=hit.passage.text, metadata=metadata)


class CatalogLangChainRetriever(BaseRetriever):
    """`retriever.invoke("does the blender come in red")` → the best passages as Documents.

    Attributes:
        retriever: the merchant's hybrid retriever.
        k: passages to return.
        skus: when set, only passages of these products (e.g. the product in focus).
    """

    retriever: HybridRetriever
    k: int = 4
    skus: list[str] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        hits = self.retriever.search(query, self.k, skus=self.skus)
        return [hit_to_document(hit) for hit in hits]
