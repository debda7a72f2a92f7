"""What a catalog import found and did: the `ImportReport` and its one-paragraph summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from knowledge.models import IndexSyncStats, Problem

__all__ = ["INDEX_LABEL", "REQUEST_LABEL", "STORE_LABEL", "ImportReport", "summarize"]

#: Pseudo file names for problems that do not come from an input file.
STORE_LABEL = "catalog store"
INDEX_LABEL = "search index"
REQUEST_LABEL = "request"


@dataclass(slots=True)
class ImportReport:
    """What an import found and did.

    `applied` says whether the store now reflects the import. When it is False the added/updated/removed
    lists say what the import would have done; `errors` say why it did not.
    """

    files: list[str]
    merchant: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    documents_added: list[str] = field(default_factory=list)
    documents_updated: list[str] = field(default_factory=list)
    documents_unchanged: list[str] = field(default_factory=list)
    documents_removed: list[str] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    applied: bool = False
    rejected_rows: int = 0
    index_stats: IndexSyncStats | None = None
    index_error: str | None = None
    seconds: float = 0.0
    version: int = 0
    message: str = ""
    #: Side files the caller stored with the import (a merchant's compliance words file, say).
    side_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors at all (rows, store or index)."""
        return not self.errors

    @property
    def changed(self) -> bool:
        """Whether the import changes (or changed) anything in the store."""
        return any(
            (
                self.added,
                self.updated,
                self.removed,
                self.documents_added,
                self.documents_updated,
                self.documents_removed,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` output and the API)."""
        return {
            "merchant": self.merchant,
            "files": list(self.files),
            "ok": self.ok,
            "applied": self.applied,
            "version": self.version,
            "message": self.message,
            "added": list(self.added),
            "updated": list(self.updated),
            "unchanged": list(self.unchanged),
            "removed": list(self.removed),
            "documents_added": list(self.documents_added),
            "documents_updated": list(self.documents_updated),
            "documents_unchanged": list(self.documents_unchanged),
            "documents_removed": list(self.documents_removed),
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
            "rejected_rows": self.rejected_rows,
            "index_stats": None if self.index_stats is None else asdict(self.index_stats),
            "index_error": self.index_error,
            "seconds": round(self.seconds, 3),
            "side_files": list(self.side_files),
        }


def summarize(report: ImportReport) -> str:
    """One paragraph a merchant can read: what changed, what was skipped, what to do next."""
    counts = (
        f"products: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed; "
        f"documents: {len(report.documents_added)} added, {len(report.documents_updated)} updated, "
        f"{len(report.documents_unchanged)} unchanged, {len(report.documents_removed)} removed"
    )
    row_errors = [p for p in report.errors if p.file not in (STORE_LABEL, INDEX_LABEL)]
    if not report.applied:
        store_errors = [p for p in report.errors if p.file == STORE_LABEL]
        if store_errors:
            text = store_errors[0].message
            return f"{text[:1].upper()}{text[1:]}."
        return (
            f"Nothing was applied: {len(row_errors)} error(s) in the input "
            f"({report.rejected_rows} row(s) rejected). Fix them, or import with skip-invalid "
            "to apply the valid rows."
        )
    if not report.changed:
        head = f"Catalog unchanged (version {report.version}); {counts}."
    else:
        head = f"Catalog updated to version {report.version}; {counts}."
    if row_errors:
        head += f" {len(row_errors)} error(s) skipped ({report.rejected_rows} row(s) rejected)."
    if report.index_error is not None:
        head += (
            f" The search index could not be updated ({report.index_error}); the store is the source of "
            "truth and the index can be rebuilt from it."
        )
    elif report.index_stats is not None:
        stats = report.index_stats
        head += f" Index: {stats.passages} passages, {stats.embedded} embedded, {stats.reused} reused."
    return head
