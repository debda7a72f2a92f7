"""Importing catalog files into the store: validated, atomic and incremental.

One import loads every file, checks rows across files (a sku or doc_id defined twice), diffs the result
against the store by content hash and applies the difference in one transaction. By default any error
means nothing is applied; with ``skip_invalid`` the valid rows are applied and the rest reported.
Re-importing the same files changes nothing and embeds nothing: the index is synced only when the
catalog changed (or when asked). The store is the source of truth; the index can always be rebuilt.

``replace`` removes stored items absent from the import, per kind: products only when the import
contains product rows, documents only when it contains documents (so importing a policies folder with
``replace`` never empties the product list). Removal is withheld when any row was rejected, because a
rejected row's product would otherwise be deleted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from knowledge.db import MAX_PRICE
from knowledge.import_report import INDEX_LABEL, REQUEST_LABEL, STORE_LABEL, ImportReport, summarize
from knowledge.loaders import load_file
from knowledge.models import (
    Document,
    ImportLimits,
    IndexSyncStats,
    LoadResult,
    Problem,
    Product,
    ProgressFn,
    SourcedProduct,
)
from knowledge.store import CatalogStore, validate_merchant_id

__all__ = ["CatalogImporter", "ImportReport", "IndexSink"]

logger = logging.getLogger(__name__)


_MAX_STOCK = 2**63 - 1


class IndexSink(Protocol):
    """What the importer needs from a retrieval index (`knowledge.index.CatalogIndex` implements it)."""

    def sync(
        self,
        products: Sequence[Product],
        documents: Sequence[Document],
        progress: ProgressFn | None = None,
    ) -> IndexSyncStats:
        """Bring the index up to date with the merchant's whole catalog; re-embed only what changed."""
        ...


@dataclass(slots=True)
class _Batch:
    """The valid, de-duplicated content of all files of one import."""

    products: list[SourcedProduct]
    documents: list[tuple[Document, str]]
    has_product_rows: bool
    has_documents: bool


class CatalogImporter:
    """Imports catalog files for one merchant at a time.

    Args:
        store: where the catalog lives.
        limits: bounds passed to the loaders.
    """

    def __init__(self, store: CatalogStore, limits: ImportLimits = ImportLimits()) -> None:
        self._store = store
        self._limits = limits

    def run(
        self,
        files: Sequence[Path],
        merchant: str,
        *,
        replace: bool = False,
        skip_invalid: bool = False,
        index: IndexSink | None = None,
        progress: ProgressFn | None = None,
        display_names: Sequence[str] | None = None,
        force_index: bool = False,
    ) -> ImportReport:
        """Import `files` into `merchant`'s catalog. Problems are reported, never raised.

        Args:
            replace: remove stored products/documents that the import does not contain.
            skip_invalid: apply the valid rows even when some rows have errors.
            index: synced with the whole catalog after a change (or always with `force_index`).
            progress: called as ("load", done, total) per file, and passed to `index.sync` ("index").
            display_names: how to name each file in problems (e.g. the uploaded file's name).
        """
        started = time.perf_counter()
        if display_names is not None and len(display_names) != len(files):
            raise ValueError("display_names must name every file")
        names = list(display_names) if display_names is not None else [Path(f).name for f in files]
        report = ImportReport(files=names, merchant=merchant)
        try:
            validate_merchant_id(merchant)
        except ValueError as exc:
            report.errors.append(Problem(REQUEST_LABEL, str(exc)))
            return self._finish(report, started)
        if not files:
            report.errors.append(Problem(REQUEST_LABEL, "no files to import"))
            return self._finish(report, started)

        results = self._load(files, names, progress, report)
        batch = self._check(results, report)
        try:
            self._diff(merchant, batch, replace, report)
            report.version = self._store.catalog_version(merchant)
        except SQLAlchemyError as exc:
            logger.exception("reading the catalog of %s failed", merchant)
            report.errors.append(
                Problem(STORE_LABEL, f"the catalog could not be read, nothing was applied: {_cause(exc)}")
            )
            return self._finish(report, started)
        if report.errors and not skip_invalid:
            return self._finish(report, started)

        if report.changed:
            changed_skus = {*report.added, *report.updated}
            changed_docs = {*report.documents_added, *report.documents_updated}
            try:
                report.version = self._store.apply(
                    merchant,
                    upsert_products=[sp.product for sp in batch.products if sp.product.sku in changed_skus],
                    delete_skus=report.removed,
                    upsert_documents=[d for d, _ in batch.documents if d.doc_id in changed_docs],
                    delete_doc_ids=report.documents_removed,
                )
            except SQLAlchemyError as exc:
                logger.exception("catalog import for %s failed in the store", merchant)
                report.errors.append(
                    Problem(
                        STORE_LABEL, f"the database refused the import, nothing was applied: {_cause(exc)}"
                    )
                )
                return self._finish(report, started)
        report.applied = True
        if index is not None:
            # Always: "unchanged" must mean unchanged in the index too. An import killed after the store's
            # commit left the index behind; the sync finds that (the catalog's fingerprint differs) and
            # rebuilds, and is a no-op when the index already matches.
            self._sync(merchant, index, progress, report)
        return self._finish(report, started)

    def remove_products(
        self, merchant: str, skus: Sequence[str], index: IndexSink | None = None
    ) -> ImportReport:
        """Delete products (one transaction) and resync the index; unknown skus become warnings."""
        started = time.perf_counter()
        report = ImportReport(files=[], merchant=merchant)
        try:
            validate_merchant_id(merchant)
        except ValueError as exc:
            report.errors.append(Problem(REQUEST_LABEL, str(exc)))
            return self._finish(report, started)
        try:
            found = self._store.get_products(merchant, skus)
            report.removed = sorted(found)
            report.version = (
                self._store.apply(merchant, delete_skus=report.removed)
                if report.removed
                else self._store.catalog_version(merchant)
            )
        except SQLAlchemyError as exc:
            logger.exception("removing products of %s failed in the store", merchant)
            report.errors.append(Problem(STORE_LABEL, f"nothing was removed: {_cause(exc)}"))
            report.removed = []
            return self._finish(report, started)
        for sku in dict.fromkeys(skus):
            if sku not in found:
                report.warnings.append(
                    Problem(REQUEST_LABEL, f"sku {sku!r} not found", column="sku", severity="warning")
                )
        report.applied = True
        if index is not None and report.removed:
            self._sync(merchant, index, None, report)
        return self._finish(report, started)

    # -- stages ------------------------------------------------------------------------------------

    def _load(
        self, files: Sequence[Path], names: list[str], progress: ProgressFn | None, report: ImportReport
    ) -> list[LoadResult]:
        results: list[LoadResult] = []
        if progress is not None:
            progress("load", 0, len(files))
        for done, (path, name) in enumerate(zip(files, names, strict=True), start=1):
            try:
                result = load_file(Path(path), self._limits, display_name=name)
            except Exception as exc:  # a loader bug must still end as a report, not a traceback
                logger.exception("loading %s failed", path)
                result = LoadResult(file=name, problems=[Problem(name, f"could not be read: {exc}")])
            results.append(result)
            report.errors.extend(result.errors)
            report.warnings.extend(result.warnings)
            report.rejected_rows += result.rejected_rows
            if progress is not None:
                progress("load", done, len(files))
        return results

    def _check(self, results: list[LoadResult], report: ImportReport) -> _Batch:
        """Cross-file checks: a sku or doc_id defined twice, values the store cannot hold."""
        by_sku: dict[str, list[SourcedProduct]] = {}
        for result in results:
            for sourced in result.products:
                by_sku.setdefault(sourced.product.sku, []).append(sourced)
        products: list[SourcedProduct] = []
        for sku, places in by_sku.items():
            if len(places) > 1:
                # Which definition is right is unknowable: none of them is imported.
                first = places[0]
                for later in places[1:]:
                    report.errors.append(
                        Problem(
                            later.file,
                            f"sku {sku!r} is defined twice: here and in {first.file} row {first.row}; "
                            "neither row is imported",
                            row=later.row,
                            column="sku",
                        )
                    )
                report.rejected_rows += len(places)
                continue
            problems = _storable(places[0])
            if problems:
                report.errors.extend(problems)
                report.rejected_rows += 1
                continue
            products.append(places[0])

        by_doc: dict[str, list[tuple[Document, str]]] = {}
        for result in results:
            for document in result.documents:
                by_doc.setdefault(document.doc_id, []).append((document, result.file))
        documents: list[tuple[Document, str]] = []
        for doc_id, doc_places in by_doc.items():
            if len(doc_places) > 1:
                first_file = doc_places[0][1]
                for _, later_file in doc_places[1:]:
                    report.errors.append(
                        Problem(
                            later_file,
                            f"doc_id {doc_id!r} is defined twice: here and in {first_file}; "
                            "neither is imported",
                            column="doc_id",
                        )
                    )
                continue
            documents.append(doc_places[0])
        return _Batch(
            products=products,
            documents=documents,
            has_product_rows=bool(by_sku) or report.rejected_rows > 0,
            has_documents=bool(by_doc),
        )

    def _diff(self, merchant: str, batch: _Batch, replace: bool, report: ImportReport) -> None:
        stored = self._store.product_hashes(merchant)
        for sourced in batch.products:
            product = sourced.product
            known = stored.get(product.sku)
            if known is None:
                report.added.append(product.sku)
            elif known != product.content_hash():
                report.updated.append(product.sku)
            else:
                report.unchanged.append(product.sku)
        stored_docs = self._store.document_hashes(merchant)
        for document, _ in batch.documents:
            known = stored_docs.get(document.doc_id)
            if known is None:
                report.documents_added.append(document.doc_id)
            elif known != document.content_hash():
                report.documents_updated.append(document.doc_id)
            else:
                report.documents_unchanged.append(document.doc_id)
        if not replace:
            return
        absent = sorted(set(stored) - {sp.product.sku for sp in batch.products})
        absent_docs = sorted(set(stored_docs) - {d.doc_id for d, _ in batch.documents})
        if report.errors and (absent or absent_docs):
            report.warnings.append(
                Problem(
                    REQUEST_LABEL,
                    f"replace: {len(absent)} product(s) and {len(absent_docs)} document(s) absent from "
                    "the import were kept because some rows were rejected; fix the errors and re-import "
                    "to remove them",
                    severity="warning",
                )
            )
            return
        if batch.has_product_rows:
            report.removed = absent
        if batch.has_documents:
            report.documents_removed = absent_docs

    def _sync(
        self, merchant: str, index: IndexSink, progress: ProgressFn | None, report: ImportReport
    ) -> None:
        try:
            report.index_stats = index.sync(
                self._store.all_products(merchant), self._store.documents(merchant), progress
            )
        except Exception as exc:  # the index is derived data; the committed catalog stands
            logger.exception("index sync for %s failed", merchant)
            report.index_error = f"{type(exc).__name__}: {exc}"
            report.errors.append(
                Problem(
                    INDEX_LABEL,
                    f"updating the search index failed ({report.index_error}). The catalog itself was "
                    f"saved (version {report.version}); the store is the source of truth, so rebuild "
                    "the index from it to make search match",
                )
            )

    @staticmethod
    def _finish(report: ImportReport, started: float) -> ImportReport:
        report.seconds = time.perf_counter() - started
        report.message = summarize(report)
        return report


def _storable(sourced: SourcedProduct) -> list[Problem]:
    """Problems with values the loaders accept but the store's columns cannot hold."""
    product = sourced.product
    problems: list[Problem] = []
    for column, value in (("price", product.price), ("list_price", product.list_price)):
        if value is not None and abs(value) > MAX_PRICE:
            problems.append(
                Problem(sourced.file, f"{value} is larger than {MAX_PRICE}", row=sourced.row, column=column)
            )
    if product.stock is not None and abs(product.stock) > _MAX_STOCK:
        problems.append(
            Problem(sourced.file, f"{product.stock} is too large a stock", row=sourced.row, column="stock")
        )
    return problems


def _cause(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
