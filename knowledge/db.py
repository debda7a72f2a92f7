"""The catalog's tables and the one engine they live on (SQLite by default, PostgreSQL from a URL).

The schema is created with ``CatalogBase.metadata.create_all`` (no migrations framework yet), so the table
names here are stable and are the contract: ``merchants``, ``products``, ``documents``. Other parts of the
product define their own tables with their own metadata on the same engine.

Every catalog row belongs to a merchant (``merchant_id``); ``merchants.catalog_version`` counts the changes
applied to that merchant's catalog, so an index can record which version it was built from.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from knowledge.models import DocSection, Document, Product, Variant

#: How long a SQLite connection waits for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 10_000

#: Largest absolute price ``Numeric(14, 2)`` holds.
MAX_PRICE = Decimal("999999999999.99")

#: Surrogate keys: 64-bit on PostgreSQL, SQLite's rowid alias on SQLite.
_RowId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json_dumps(value: Any) -> str:
    # Keys keep their order (PostgreSQL ``json``, not ``jsonb``) and CJK text stays readable.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class CatalogBase(DeclarativeBase):
    """Declarative base of the catalog tables (its own metadata; other components keep theirs)."""

    type_annotation_map = {  # noqa: RUF012  SQLAlchemy reads this class attribute.
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
        Decimal: Numeric(14, 2),
    }


class MerchantRow(CatalogBase):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    catalog_version: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductRow(CatalogBase):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("merchant_id", "sku", name="uq_products_merchant_sku"),
        Index("ix_products_merchant_category", "merchant_id", "category"),
    )

    id: Mapped[int] = mapped_column(_RowId, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String)
    title: Mapped[str] = mapped_column(Text)
    brand: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String, default="")
    price: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(8), default="CNY")
    list_price: Mapped[Decimal | None]
    stock: Mapped[int | None] = mapped_column(BigInteger)
    locale: Mapped[str] = mapped_column(String(35), default="")
    url: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    variants: Mapped[list[Any]]
    attributes: Mapped[dict[str, Any]]
    selling_points: Mapped[list[Any]]
    tags: Mapped[list[Any]]
    images: Mapped[list[Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentRow(CatalogBase):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("merchant_id", "doc_id", name="uq_documents_merchant_doc"),)

    id: Mapped[int] = mapped_column(_RowId, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    doc_id: Mapped[str] = mapped_column(String)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="policy")
    locale: Mapped[str] = mapped_column(String(35), default="")
    source: Mapped[str] = mapped_column(Text, default="")
    sections: Mapped[list[Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- rows <-> catalog values -------------------------------------------------------------------

_CENT = Decimal("0.01")


def _cents(value: Decimal | None) -> Decimal | None:
    # The same rounding as the canonical form the content hash is computed from.
    return None if value is None else value.quantize(_CENT)


def product_values(product: Product) -> dict[str, Any]:
    canonical = product.to_dict()
    return {
        "sku": product.sku,
        "title": product.title,
        "brand": product.brand,
        "category": product.category,
        "price": _cents(product.price),
        "currency": product.currency,
        "list_price": _cents(product.list_price),
        "stock": product.stock,
        "locale": product.locale,
        "url": product.url,
        "description": product.description,
        "variants": canonical["variants"],
        "attributes": canonical["attributes"],
        "selling_points": canonical["selling_points"],
        "tags": canonical["tags"],
        "images": canonical["images"],
        "content_hash": product.content_hash(),
    }


def product_from_row(row: ProductRow) -> Product:
    return Product(
        sku=row.sku,
        title=row.title,
        brand=row.brand,
        category=row.category,
        price=row.price,
        currency=row.currency,
        list_price=row.list_price,
        stock=row.stock,
        variants=[Variant.from_dict(v) for v in row.variants],
        attributes={str(k): str(v) for k, v in row.attributes.items()},
        selling_points=[str(s) for s in row.selling_points],
        description=row.description,
        tags=[str(t) for t in row.tags],
        images=[str(i) for i in row.images],
        url=row.url,
        locale=row.locale,
    )


def document_values(document: Document) -> dict[str, Any]:
    canonical = document.to_dict()
    return {
        "doc_id": document.doc_id,
        "title": document.title,
        "kind": document.kind,
        "locale": document.locale,
        "source": document.source,
        "sections": canonical["sections"],
        "content_hash": document.content_hash(),
    }


def document_from_row(row: DocumentRow) -> Document:
    kind = row.kind if row.kind in ("policy", "faq", "page") else "policy"
    return Document(
        doc_id=row.doc_id,
        title=row.title,
        kind=cast(Any, kind),
        locale=row.locale,
        source=row.source,
        sections=[DocSection(str(s["heading"]), str(s["text"]), s.get("sku")) for s in row.sections],
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # WAL lets readers run while one writer commits; in-memory databases keep "memory".
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def create_engine_for(url: str | URL, *, echo: bool = False) -> Engine:
    """One engine for a database URL, configured the same way wherever it is created.

    SQLite (``sqlite:///path/anchor.db``): the parent directory is created; every connection gets WAL mode,
    foreign keys and a busy timeout. PostgreSQL: ``postgresql+psycopg://user@host/db`` (a bare
    ``postgresql://`` URL is given the psycopg 3 driver); connections are pinged before use.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, json_serializer=_json_dumps)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, echo=echo, json_serializer=_json_dumps, pool_pre_ping=True)


def create_catalog_schema(engine: Engine) -> None:
    """Create the catalog tables that do not exist yet (idempotent)."""
    CatalogBase.metadata.create_all(engine)
