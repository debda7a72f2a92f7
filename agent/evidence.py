"""Evidence for an answer: structured facts read from the store, plus retrieved passages.

Exact facts (price, stock, variants) always come from the `Product` record, never from passage text, so
an answer can never quote a stale or invented number. Everything an answer may say is in here; the
guard checks the answer against `Evidence.supports_number`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from knowledge.models import Product, Variant
from knowledge.retriever import Hit

LOW_STOCK = 5

StockState = Literal["in_stock", "low", "sold_out", "unknown"]


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a statement comes from: a product field or a document section."""

    sku: str | None = None
    field: str | None = None
    document: str | None = None
    heading: str | None = None

    def to_dict(self) -> dict[str, str]:
        data = {"sku": self.sku, "field": self.field, "document": self.document, "heading": self.heading}
        return {k: v for k, v in data.items() if v is not None}

    def label(self) -> str:
        if self.sku is not None:
            return f"{self.sku}#{self.field}" if self.field else self.sku
        return f"{self.document}#{self.heading}" if self.heading else str(self.document)

    @classmethod
    def of_hit(cls, hit: Hit) -> Citation:
        src = hit.passage.source
        if src.sku is not None:
            return cls(sku=src.sku, field=src.field)
        return cls(document=src.doc_id, heading=src.heading)


def stock_state(stock: int | None) -> StockState:
    if stock is None:
        return "unknown"
    if stock <= 0:
        return "sold_out"
    if stock <= LOW_STOCK:
        return "low"
    return "in_stock"


_NUMBER = re.compile(r"(?<![\d.,])(\d+(?:[.,]\d+)*)(?![\d])")


def numbers_in(text: str) -> set[Decimal]:
    """Every number written in `text` (``1,299.00`` → 1299), normalised for comparison."""
    found: set[Decimal] = set()
    for match in _NUMBER.finditer(text):
        raw = match.group(1)
        candidates = {raw.replace(",", "")}
        if raw.count(",") == 1 and "." not in raw:  # "3,5" may be a decimal comma
            candidates.add(raw.replace(",", "."))
        for cand in candidates:
            try:
                found.add(Decimal(cand).normalize())
            except InvalidOperation:
                continue
    return found


@dataclass(slots=True)
class Evidence:
    """What the writer may state. `product` is the product in focus (None for a policy question)."""

    product: Product | None = None
    passages: list[Hit] = field(default_factory=list)
    policies: list[Hit] = field(default_factory=list)
    #: Variants the question names (e.g. the XL ones when asked "有XL吗").
    asked_variants: list[Variant] = field(default_factory=list)
    #: Option values the question names that the product does not have.
    missing_options: list[str] = field(default_factory=list)
    #: Further products the answer may speak about (recommendations, comparisons).
    others: list[Product] = field(default_factory=list)
    #: Extra text the writer may repeat (e.g. numbers from the question such as a link number).
    extra_numbers: set[Decimal] = field(default_factory=set)
    #: Which line of `product` answers the question, by meaning (`agent.writers.matching.AspectMatch`).
    match: Any = None
    #: Medical or efficacy results the question asks the product to deliver ("祛斑", "cure").
    efficacy: tuple[str, ...] = ()
    #: The answering line's quantities in the unit the question asks in (`knowledge.units.Conversion`);
    #: their numbers are in `extra_numbers`, derived from the catalog's.
    conversions: list[Any] = field(default_factory=list)
    #: The merchant's compliance word base (`agent.compliance.CompiledBase`; None: the packaged one).
    words: Any = None

    def citations_for_product(self, *fields: str) -> list[Citation]:
        if self.product is None:
            return []
        return [Citation(sku=self.product.sku, field=f) for f in fields]

    def corpus(self) -> str:
        """All evidence as text: the product record and every passage."""
        parts: list[str] = []
        for product in self.products():
            parts.append(_product_text(product))
        parts.extend(h.passage.text for h in self.passages)
        parts.extend(h.passage.text for h in self.policies)
        return "\n".join(parts)

    def supported_numbers(self) -> set[Decimal]:
        numbers = numbers_in(self.corpus())
        numbers |= self.extra_numbers
        for product in self.products():
            for value in (product.price, product.list_price):
                if value is not None:
                    numbers.add(value.normalize())
            if product.price is not None and product.list_price is not None:
                saving = product.list_price - product.price
                if saving > 0:
                    numbers.add(saving.normalize())
            total = product.total_stock()
            if total is not None:
                numbers.add(Decimal(total))
        return numbers

    def products(self) -> list[Product]:
        return ([self.product] if self.product is not None else []) + self.others

    def supports_number(self, value: Decimal) -> bool:
        return value.normalize() in self.supported_numbers()

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": None if self.product is None else self.product.sku,
            "passages": [h.passage.passage_id for h in self.passages],
            "policies": [h.passage.passage_id for h in self.policies],
            "asked_variants": [v.sku for v in self.asked_variants],
            "missing_options": list(self.missing_options),
        }


def _product_text(product: Product) -> str:
    lines = [product.title, product.brand, product.category, product.description]
    lines += product.selling_points
    lines += [f"{k}: {v}" for k, v in product.attributes.items()]
    for variant in product.variants:
        lines.append(
            f"{variant.label()} {variant.price or ''} {variant.stock if variant.stock is not None else ''}"
        )
    return "\n".join(x for x in lines if x)
