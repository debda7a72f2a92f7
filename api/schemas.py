"""Pydantic payloads of the public API (documented in OpenAPI)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from knowledge.models import Product

#: The largest offset or id a query may name: a SQLite INTEGER (and a PostgreSQL BIGINT) holds 2**63 - 1.
MAX_OFFSET = 2**63 - 1


class VariantOut(BaseModel):
    sku: str
    options: dict[str, str]
    price: str | None = Field(description="Decimal string with two places, e.g. '199.00'")
    stock: int | None


class StockSummaryOut(BaseModel):
    """Stock computed from the variants (see `knowledge.models.StockSummary`)."""

    total: int | None = Field(
        description="Known stock: the variants' sum when any variant states its stock, else the product's own; "
        "null when unknown"
    )
    variants: int = Field(description="How many variants the product has (0: none)")
    sold_out: int = Field(description="Variants whose stock is 0 (a variant of unknown stock is not counted)")
    unknown: int = Field(description="Variants whose stock is not stated")
    partial: bool = Field(
        description="`total` leaves out variants of unknown stock: the real total may be higher"
    )


class ProductOut(BaseModel):
    sku: str
    title: str
    brand: str
    category: str
    price: str | None = Field(description="Decimal string with two places; null when not listed")
    currency: str
    list_price: str | None
    stock: int | None
    variants: list[VariantOut]
    attributes: dict[str, str]
    selling_points: list[str]
    description: str
    tags: list[str]
    images: list[str]
    url: str
    locale: str
    stock_summary: StockSummaryOut

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls.model_validate({**product.to_dict(), "stock_summary": product.stock_summary().to_dict()})


class ProductPage(BaseModel):
    merchant: str
    total: int
    offset: int
    limit: int
    items: list[ProductOut]


class SearchHitOut(BaseModel):
    rank: int
    score: float
    method: str
    sku: str | None
    document: str | None
    field: str | None
    heading: str | None
    passage_id: str
    text: str


class SearchOut(BaseModel):
    merchant: str
    query: str
    hits: list[SearchHitOut]


class ImportReportOut(BaseModel):
    """The importer's report as JSON (see `knowledge.importer.ImportReport.to_dict`)."""

    model_config = {"extra": "allow"}
    applied: bool
    ok: bool

    @classmethod
    def of(cls, data: dict[str, Any]) -> ImportReportOut:
        return cls.model_validate(data)


class MerchantOut(BaseModel):
    id: str
    name: str = Field(description="The merchant's display name (its id when none was given)")


class MeOut(BaseModel):
    """Who an API key belongs to: for the pages' sign-in with the key alone."""

    key_id: str
    name: str = Field(description="The key's name (its display prefix when unnamed)")
    role: str = Field(description="admin, merchant or agent")
    admin: bool = Field(description="An admin key acts for every merchant and chooses one of `merchants`")
    merchant: MerchantOut | None = Field(description="The merchant the key acts for; null for an admin key")
    merchants: list[MerchantOut] = Field(
        description="The merchants the key may act for: its own, or every existing merchant for an admin key"
    )
