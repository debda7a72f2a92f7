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

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls.model_validate(product.to_dict())


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
