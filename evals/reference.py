"""The ground truth an evaluation checks answers against: the merchant's products and documents.

In-process runs read the same store the pipeline answers from; runs against a server read the catalog
files the server was given (by default the demo catalog), since only the products are exposed over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.models import Document, Product, Variant
from knowledge.store import CatalogStore

ROOT = Path(__file__).resolve().parents[1]
DEMO_PRODUCTS = ROOT / "samples" / "demo" / "products.jsonl"
DEMO_POLICIES = ROOT / "samples" / "demo" / "policies"


def demo_catalog_files() -> list[Path]:
    """The demo catalog: products plus every policy document."""
    return [DEMO_PRODUCTS, *sorted(DEMO_POLICIES.glob("*.md"))]


@dataclass(slots=True)
class Reference:
    """Products (by sku, variants resolved to their parent) and documents (by id)."""

    products: dict[str, Product] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)
    _parents: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for product in self.products.values():
            self._parents[product.sku] = product.sku
            for variant in product.variants:
                self._parents[variant.sku] = product.sku

    @classmethod
    def from_store(cls, store: CatalogStore, merchant: str) -> Reference:
        return cls(
            products={p.sku: p for p in store.all_products(merchant)},
            documents={d.doc_id: d for d in store.documents(merchant)},
        )

    @classmethod
    def from_files(cls, paths: Sequence[Path]) -> Reference:
        """Read products and documents with the catalog loaders (any supported format)."""
        from knowledge.loaders import load_file

        products: dict[str, Product] = {}
        documents: dict[str, Document] = {}
        for path in paths:
            result = load_file(path)
            if path.suffix == ".jsonl" and not result.products and not result.documents:
                with path.open(encoding="utf-8") as fh:
                    for line in fh:
                        if line.strip():
                            product = Product.from_dict(json.loads(line))
                            products[product.sku] = product
                continue
            for sourced in result.products:
                products[sourced.product.sku] = sourced.product
            for document in result.documents:
                documents[document.doc_id] = document
        return cls(products=products, documents=documents)

    def known_skus(self) -> set[str]:
        return set(self._parents)

    def parent_sku(self, sku: str | None) -> str | None:
        """The product sku for a product or variant sku; None when unknown."""
        if sku is None:
            return None
        return self._parents.get(sku)

    def product(self, sku: str) -> Product | None:
        parent = self._parents.get(sku)
        return None if parent is None else self.products.get(parent)

    def variant(self, sku: str) -> Variant | None:
        product = self.product(sku)
        if product is None:
            return None
        return next((v for v in product.variants if v.sku == sku), None)

    def section_text(self, doc_id: str, heading: str | None) -> str:
        """The text under `heading` of a document, or the whole document when no heading is given."""
        document = self.documents.get(doc_id)
        if document is None:
            return ""
        sections = [s for s in document.sections if heading is None or s.heading == heading]
        if not sections:
            sections = document.sections
        return "\n".join(f"{s.heading}\n{s.text}" for s in sections)
