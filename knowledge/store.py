"""The catalog store: products and documents per merchant, on SQLite or PostgreSQL through one engine.

Every method takes the merchant and filters by it; nothing here can read across merchants. Changes go
through `CatalogStore.apply` (one transaction, all or nothing) or `delete_product`; each bumps the
merchant's catalog version, which an index records to know what it was built from.

Example:
    engine = create_engine_for("sqlite:///var/anchor.db")
    store = CatalogStore(engine)
    store.create_schema()
    version = store.apply("demo", upsert_products=[product])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar, TypeVarTuple, cast

from sqlalchemy import CursorResult, Engine, Select, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from knowledge.db import (
    DocumentRow,
    MerchantRow,
    ProductRow,
    create_catalog_schema,
    create_engine_for,
    document_from_row,
    document_values,
    product_from_row,
    product_values,
    utcnow,
)
from knowledge.models import Document, Product

__all__ = ["CatalogStore", "create_engine_for", "validate_merchant_id"]

#: Longest merchant id (the ``merchants.id`` column).
MAX_MERCHANT_ID = 64

#: Keys per ``IN (...)`` clause; well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def validate_merchant_id(merchant: str) -> str:
    """Return `merchant` if it is a usable merchant id, else raise ValueError saying why."""
    if not isinstance(merchant, str) or not merchant.strip() or len(merchant) > MAX_MERCHANT_ID:
        raise ValueError(f"merchant id must be 1 to {MAX_MERCHANT_ID} characters, got {merchant!r}")
    return merchant


class CatalogStore:
    """Products and documents of every merchant, read and written one merchant at a time.

    Args:
        engine: from `create_engine_for`; shared with the other components' tables.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        return self._engine

    def create_schema(self) -> None:
        """Create the catalog tables if they do not exist (safe to call at every start)."""
        create_catalog_schema(self._engine)

    # -- merchants ---------------------------------------------------------------------------------

    def ensure_merchant(self, merchant: str, name: str | None = None) -> None:
        """Register a merchant if it is new; an existing merchant is left as it is."""
        validate_merchant_id(merchant)
        with self._sessions.begin() as session:
            self._ensure_merchant(session, merchant, name)

    def has_merchant(self, merchant: str) -> bool:
        """True when the merchant is registered (it loaded a catalog, or was created)."""
        with self._sessions() as session:
            return session.get(MerchantRow, merchant) is not None

    def merchants(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(MerchantRow.id).order_by(MerchantRow.id)))

    def merchant_names(self) -> dict[str, str]:
        """Every registered merchant's display name (its id when none was given), by id in id order."""
        with self._sessions() as session:
            rows = session.execute(select(MerchantRow.id, MerchantRow.name).order_by(MerchantRow.id))
            return {merchant: name or merchant for merchant, name in rows}

    def merchant_name(self, merchant: str) -> str | None:
        """The merchant's display name, or None when it is not registered."""
        with self._sessions() as session:
            row = session.get(MerchantRow, merchant)
            return None if row is None else (row.name or row.id)

    def catalog_version(self, merchant: str) -> int:
        """How many changes were applied to the merchant's catalog (0 for an unknown merchant)."""
        with self._sessions() as session:
            version = session.scalar(
                select(MerchantRow.catalog_version).where(MerchantRow.id == validate_merchant_id(merchant))
            )
        return int(version or 0)

    # -- products ----------------------------------------------------------------------------------

    def get_product(self, merchant: str, sku: str) -> Product | None:
        with self._sessions() as session:
            row = session.scalar(self._products(merchant).where(ProductRow.sku == sku))
            return None if row is None else product_from_row(row)

    def get_products(self, merchant: str, skus: Sequence[str]) -> dict[str, Product]:
        """The products among `skus` that exist, by sku."""
        found: dict[str, Product] = {}
        wanted = list(dict.fromkeys(skus))
        with self._sessions() as session:
            for chunk in _chunks(wanted):
                for row in session.scalars(self._products(merchant).where(ProductRow.sku.in_(chunk))):
                    found[row.sku] = product_from_row(row)
        return found

    def list_products(
        self,
        merchant: str,
        *,
        offset: int = 0,
        limit: int = 50,
        search: str | None = None,
        category: str | None = None,
    ) -> list[Product]:
        """One page of products ordered by sku.

        Args:
            search: case-insensitive substring of the sku, title or brand.
            category: exact category.
        """
        if offset < 0 or limit < 1:
            raise ValueError(f"offset must be >= 0 and limit >= 1, got offset={offset}, limit={limit}")
        stmt = self._filtered(self._products(merchant), search, category)
        stmt = stmt.order_by(ProductRow.sku).offset(offset).limit(limit)
        with self._sessions() as session:
            return [product_from_row(row) for row in session.scalars(stmt)]

    def count_products(self, merchant: str, *, search: str | None = None, category: str | None = None) -> int:
        """How many products the merchant has (matching `search`/`category` when given)."""
        stmt = self._filtered(
            select(func.count(ProductRow.id)).where(ProductRow.merchant_id == validate_merchant_id(merchant)),
            search,
            category,
        )
        with self._sessions() as session:
            return int(session.scalar(stmt) or 0)

    def all_products(self, merchant: str) -> list[Product]:
        """Every product of the merchant, ordered by sku."""
        with self._sessions() as session:
            rows = session.scalars(self._products(merchant).order_by(ProductRow.sku))
            return [product_from_row(row) for row in rows]

    def categories(self, merchant: str) -> list[str]:
        """The merchant's distinct non-empty categories, sorted."""
        stmt = (
            select(ProductRow.category)
            .where(ProductRow.merchant_id == validate_merchant_id(merchant), ProductRow.category != "")
            .distinct()
            .order_by(ProductRow.category)
        )
        with self._sessions() as session:
            return list(session.scalars(stmt))

    def product_hashes(self, merchant: str) -> dict[str, str]:
        """sku → content hash of every stored product (what an import diffs against)."""
        stmt = select(ProductRow.sku, ProductRow.content_hash).where(
            ProductRow.merchant_id == validate_merchant_id(merchant)
        )
        with self._sessions() as session:
            return dict(session.execute(stmt).all())

    def delete_product(self, merchant: str, sku: str) -> bool:
        """Delete one product; True when it existed (and the catalog version was bumped)."""
        validate_merchant_id(merchant)
        with self._sessions.begin() as session:
            result = session.execute(
                delete(ProductRow)
                .where(ProductRow.merchant_id == merchant, ProductRow.sku == sku)
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], result).rowcount == 0:
                return False
            self._bump_version(session, merchant)
        return True

    # -- documents ---------------------------------------------------------------------------------

    def documents(self, merchant: str) -> list[Document]:
        """Every document of the merchant, ordered by doc_id."""
        stmt = (
            select(DocumentRow)
            .where(DocumentRow.merchant_id == validate_merchant_id(merchant))
            .order_by(DocumentRow.doc_id)
        )
        with self._sessions() as session:
            return [document_from_row(row) for row in session.scalars(stmt)]

    def get_document(self, merchant: str, doc_id: str) -> Document | None:
        stmt = select(DocumentRow).where(
            DocumentRow.merchant_id == validate_merchant_id(merchant), DocumentRow.doc_id == doc_id
        )
        with self._sessions() as session:
            row = session.scalar(stmt)
            return None if row is None else document_from_row(row)

    def document_hashes(self, merchant: str) -> dict[str, str]:
        """doc_id → content hash of every stored document."""
        stmt = select(DocumentRow.doc_id, DocumentRow.content_hash).where(
            DocumentRow.merchant_id == validate_merchant_id(merchant)
        )
        with self._sessions() as session:
            return dict(session.execute(stmt).all())

    # -- changes -----------------------------------------------------------------------------------

    def apply(
        self,
        merchant: str,
        *,
        upsert_products: Sequence[Product] = (),
        delete_skus: Sequence[str] = (),
        upsert_documents: Sequence[Document] = (),
        delete_doc_ids: Sequence[str] = (),
    ) -> int:
        """Apply a set of changes in ONE transaction: all of them or, on any error, none.

        Products and documents are inserted or replaced by sku / doc_id. The merchant is registered if
        new. Concurrent calls for the same merchant serialise on the merchant's row.

        Returns:
            The merchant's new catalog version.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database refused a change (nothing was applied).
        """
        validate_merchant_id(merchant)
        now = utcnow()
        with self._sessions.begin() as session:
            # Writing the merchant row first takes the write lock before anything is read.
            self._ensure_merchant(session, merchant, None)
            version = self._bump_version(session, merchant)
            self._upsert_products(session, merchant, upsert_products, now)
            for chunk in _chunks(list(delete_skus)):
                session.execute(
                    delete(ProductRow)
                    .where(ProductRow.merchant_id == merchant, ProductRow.sku.in_(chunk))
                    .execution_options(synchronize_session=False)
                )
            self._upsert_documents(session, merchant, upsert_documents, now)
            for chunk in _chunks(list(delete_doc_ids)):
                session.execute(
                    delete(DocumentRow)
                    .where(DocumentRow.merchant_id == merchant, DocumentRow.doc_id.in_(chunk))
                    .execution_options(synchronize_session=False)
                )
        return version

    # -- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _products(merchant: str) -> Select[ProductRow]:
        return select(ProductRow).where(ProductRow.merchant_id == validate_merchant_id(merchant))

    @staticmethod
    def _filtered(stmt: Select[*_Ts], search: str | None, category: str | None) -> Select[*_Ts]:
        if category is not None:
            stmt = stmt.where(ProductRow.category == category)
        if search and search.strip():
            term = search.strip().lower()
            stmt = stmt.where(
                or_(
                    func.lower(ProductRow.sku).contains(term, autoescape=True),
                    func.lower(ProductRow.title).contains(term, autoescape=True),
                    func.lower(ProductRow.brand).contains(term, autoescape=True),
                )
            )
        return stmt

    @staticmethod
    def _ensure_merchant(session: Session, merchant: str, name: str | None) -> None:
        values = {"id": merchant, "name": name or merchant, "catalog_version": 0, "created_at": utcnow()}
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            session.execute(postgresql.insert(MerchantRow).values(values).on_conflict_do_nothing())
        elif dialect == "sqlite":
            session.execute(sqlite.insert(MerchantRow).values(values).on_conflict_do_nothing())
        elif session.get(MerchantRow, merchant) is None:
            session.execute(insert(MerchantRow).values(values))

    @staticmethod
    def _bump_version(session: Session, merchant: str) -> int:
        session.execute(
            update(MerchantRow)
            .where(MerchantRow.id == merchant)
            .values(catalog_version=MerchantRow.catalog_version + 1)
            .execution_options(synchronize_session=False)
        )
        version = session.scalar(select(MerchantRow.catalog_version).where(MerchantRow.id == merchant))
        return int(version or 0)

    @staticmethod
    def _upsert_products(session: Session, merchant: str, products: Sequence[Product], now: datetime) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for chunk in _chunks(list(products)):
            existing = dict(
                session.execute(
                    select(ProductRow.sku, ProductRow.id).where(
                        ProductRow.merchant_id == merchant,
                        ProductRow.sku.in_([p.sku for p in chunk]),
                    )
                ).all()
            )
            for product in chunk:
                values = product_values(product)
                row_id = existing.get(product.sku)
                if row_id is None:
                    inserts.append({**values, "merchant_id": merchant, "created_at": now, "updated_at": now})
                else:
                    updates.append({**values, "id": row_id, "updated_at": now})
        if updates:
            session.execute(update(ProductRow), updates)
        if inserts:
            session.execute(insert(ProductRow), inserts)

    @staticmethod
    def _upsert_documents(
        session: Session, merchant: str, documents: Sequence[Document], now: datetime
    ) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for chunk in _chunks(list(documents)):
            existing = dict(
                session.execute(
                    select(DocumentRow.doc_id, DocumentRow.id).where(
                        DocumentRow.merchant_id == merchant,
                        DocumentRow.doc_id.in_([d.doc_id for d in chunk]),
                    )
                ).all()
            )
            for document in chunk:
                values = document_values(document)
                row_id = existing.get(document.doc_id)
                if row_id is None:
                    inserts.append({**values, "merchant_id": merchant, "created_at": now, "updated_at": now})
                else:
                    updates.append({**values, "id": row_id, "updated_at": now})
        if updates:
            session.execute(update(DocumentRow), updates)
        if inserts:
            session.execute(insert(DocumentRow), inserts)
