"""The catalog's values: products, documents, passages and the problems found while loading them.

These are plain dataclasses shared by the loaders, the store and the indexes. Money is `Decimal` so a
price read from a file is the price spoken, to the cent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

#: Canonical product field names, in the order the JSON/JSONL format documents them.
PRODUCT_FIELDS: tuple[str, ...] = (
    "sku",
    "title",
    "brand",
    "category",
    "price",
    "currency",
    "list_price",
    "stock",
    "variants",
    "attributes",
    "selling_points",
    "description",
    "tags",
    "images",
    "url",
    "locale",
)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.01")), "f")


@dataclass(frozen=True, slots=True)
class Variant:
    """One purchasable variant of a product (a size, a colour, a spec)."""

    sku: str
    options: dict[str, str] = field(default_factory=dict)
    price: Decimal | None = None
    stock: int | None = None

    def label(self) -> str:
        """Options joined for display, e.g. ``"颜色: 红 / 尺码: XL"``."""
        return " / ".join(f"{k}: {v}" for k, v in self.options.items()) or self.sku

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "options": dict(self.options),
            "price": _money(self.price),
            "stock": self.stock,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        price = data.get("price")
        return cls(
            sku=str(data["sku"]),
            options={str(k): str(v) for k, v in (data.get("options") or {}).items()},
            price=None if price is None else Decimal(str(price)),
            stock=None if data.get("stock") is None else int(data["stock"]),
        )


@dataclass(frozen=True, slots=True)
class StockSummary:
    """What a product's stock amounts to, computed from its variants (or its own stock when it has none).

    `total` is the sum of the stock that is known: the variants' when any variant states its stock, else the
    product's own; None when nothing is known. `sold_out` counts the variants whose stock is 0; a variant
    whose stock is not stated is counted in `unknown`, never as sold out. `partial` says `total` leaves out
    variants of unknown stock (so the real total may be higher).
    """

    total: int | None
    variants: int = 0
    sold_out: int = 0
    unknown: int = 0
    partial: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "variants": self.variants,
            "sold_out": self.sold_out,
            "unknown": self.unknown,
            "partial": self.partial,
        }

    def text(self) -> str:
        """A short English line: ``"12 · 2 of 8 sold out"``, ``"12 · 2 of 8 sold out · 1 unknown"``,
        ``"unknown · 8 variants of unknown stock"``, ``"0 · sold out"``, ``"unknown"``."""
        head = "unknown" if self.total is None else str(self.total)
        if self.variants == 0:
            return f"{head} · sold out" if self.total is not None and self.total <= 0 else head
        if self.unknown == self.variants:
            return f"{head} · {self.variants} variants of unknown stock"
        parts = [head, f"{self.sold_out} of {self.variants} sold out"]
        if self.unknown:
            parts.append(f"{self.unknown} unknown")
        return " · ".join(parts)


@dataclass(slots=True)
class Product:
    """A product as the merchant describes it. `sku` is unique per merchant."""

    sku: str
    title: str
    brand: str = ""
    category: str = ""
    price: Decimal | None = None
    currency: str = "CNY"
    list_price: Decimal | None = None
    stock: int | None = None
    variants: list[Variant] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    selling_points: list[str] = field(default_factory=list)
    description: str = ""
    tags: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    url: str = ""
    locale: str = ""

    def total_stock(self) -> int | None:
        """Stock across variants when they carry it, else the product's own stock."""
        counted = [v.stock for v in self.variants if v.stock is not None]
        if counted:
            return sum(counted)
        return self.stock

    def stock_summary(self) -> StockSummary:
        """Total stock and how many variants are sold out (stock 0) or of unknown stock (see `StockSummary`)."""
        known = [v.stock for v in self.variants if v.stock is not None]
        return StockSummary(
            total=sum(known) if known else self.stock,
            variants=len(self.variants),
            sold_out=sum(1 for stock in known if stock <= 0),
            unknown=len(self.variants) - len(known),
            partial=bool(known) and len(known) < len(self.variants),
        )

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form (money as strings with two decimals)."""
        return {
            "sku": self.sku,
            "title": self.title,
            "brand": self.brand,
            "category": self.category,
            "price": _money(self.price),
            "currency": self.currency,
            "list_price": _money(self.list_price),
            "stock": self.stock,
            "variants": [v.to_dict() for v in self.variants],
            "attributes": dict(self.attributes),
            "selling_points": list(self.selling_points),
            "description": self.description,
            "tags": list(self.tags),
            "images": list(self.images),
            "url": self.url,
            "locale": self.locale,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Product:
        """Inverse of `to_dict` for already-validated data (the store's rows)."""

        def dec(key: str) -> Decimal | None:
            value = data.get(key)
            return None if value is None else Decimal(str(value))

        return cls(
            sku=str(data["sku"]),
            title=str(data["title"]),
            brand=str(data.get("brand") or ""),
            category=str(data.get("category") or ""),
            price=dec("price"),
            currency=str(data.get("currency") or "CNY"),
            list_price=dec("list_price"),
            stock=None if data.get("stock") is None else int(data["stock"]),
            variants=[Variant.from_dict(v) for v in data.get("variants") or []],
            attributes={str(k): str(v) for k, v in (data.get("attributes") or {}).items()},
            selling_points=[str(s) for s in data.get("selling_points") or []],
            description=str(data.get("description") or ""),
            tags=[str(t) for t in data.get("tags") or []],
            images=[str(i) for i in data.get("images") or []],
            url=str(data.get("url") or ""),
            locale=str(data.get("locale") or ""),
        )

    def content_hash(self) -> str:
        """Stable hash of everything the product says; unchanged rows re-import for free."""
        canonical = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class DocSection:
    """One chunk of a document: the text under a heading (or one FAQ pair)."""

    heading: str
    text: str
    sku: str | None = None


DocumentKind = Literal["policy", "faq", "page"]


@dataclass(slots=True)
class Document:
    """A merchant document (policy, FAQ, size chart), chunked by heading."""

    doc_id: str
    title: str
    kind: DocumentKind = "policy"
    locale: str = ""
    sections: list[DocSection] = field(default_factory=list)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "kind": self.kind,
            "locale": self.locale,
            "source": self.source,
            "sections": [{"heading": s.heading, "text": s.text, "sku": s.sku} for s in self.sections],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        raw_kind = data.get("kind") or "policy"
        kind: DocumentKind = "policy"
        if raw_kind == "faq":
            kind = "faq"
        elif raw_kind == "page":
            kind = "page"
        return cls(
            doc_id=str(data["doc_id"]),
            title=str(data.get("title") or data["doc_id"]),
            kind=kind,
            locale=str(data.get("locale") or ""),
            source=str(data.get("source") or ""),
            sections=[
                DocSection(str(s.get("heading") or ""), str(s.get("text") or ""), s.get("sku"))
                for s in data.get("sections") or []
            ],
        )

    def content_hash(self) -> str:
        canonical = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Source:
    """Where a passage comes from: a product field, or a document section."""

    sku: str | None = None
    field: str | None = None
    doc_id: str | None = None
    heading: str | None = None

    def label(self) -> str:
        if self.sku is not None:
            return f"{self.sku}#{self.field}" if self.field else self.sku
        return f"{self.doc_id}#{self.heading}" if self.heading else str(self.doc_id)

    def to_dict(self) -> dict[str, str | None]:
        if self.sku is not None:
            return {"sku": self.sku, "field": self.field}
        return {"document": self.doc_id, "heading": self.heading}


@dataclass(frozen=True, slots=True)
class Passage:
    """The retrievable unit. `text` starts with brand and title so every chunk knows its product."""

    passage_id: str
    text: str
    source: Source
    locale: str = ""


Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem found in an input file, precise enough to fix without guessing."""

    file: str
    message: str
    row: int | None = None
    column: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class SourcedProduct:
    """A loaded product with the file and row it came from (for duplicate-sku reports)."""

    product: Product
    file: str
    row: int


@dataclass(slots=True)
class LoadResult:
    """What a loader read from one file: valid products and documents, plus every problem."""

    file: str
    products: list[SourcedProduct] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Rows that had at least one error (and so are not in `products`).
    rejected_rows: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Bounds on what one import may contain. All configurable through settings."""

    max_file_bytes: int = 50 * 1024 * 1024
    max_rows: int = 200_000
    max_title_chars: int = 300
    max_field_chars: int = 2_000
    max_description_chars: int = 20_000
    max_variants: int = 500
    max_list_items: int = 100
    max_document_chars: int = 2_000_000


#: Progress callback: (stage, done, total). Long work reports through it; the CLI draws a bar.
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class IndexSyncStats:
    """What bringing an index up to date with the catalog cost."""

    passages: int
    embedded: int
    reused: int
    seconds: float
