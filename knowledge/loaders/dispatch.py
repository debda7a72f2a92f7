"""`load_file`: pick the loader by suffix, check the file's size first, never raise for bad content."""

from __future__ import annotations

import logging
from pathlib import Path

from knowledge.loaders.delimited import load_delimited
from knowledge.loaders.jsonfile import JsonReader
from knowledge.loaders.markdown import load_document
from knowledge.loaders.report import LoaderError, Reporter
from knowledge.loaders.text import decode_bytes
from knowledge.loaders.workbook import load_workbook_products
from knowledge.models import ImportLimits, LoadResult

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".xlsx", ".json", ".jsonl", ".md", ".markdown", ".txt")
_DOCUMENT_SUFFIXES = (".md", ".markdown", ".txt")
_HINTS = {
    ".xls": "save it as .xlsx (Excel: File → Save As → Excel Workbook)",
    ".numbers": "export it as .xlsx or .csv",
    ".docx": "save it as .md or .txt",
    ".pdf": "copy the text into a .md or .txt file",
}


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} bytes"


def load_file(
    path: Path,
    limits: ImportLimits = ImportLimits(),
    *,
    display_name: str | None = None,
    shopify_currency: str = "USD",
) -> LoadResult:
    """Read one catalog or policy file into products, documents and problems.

    Bad content never raises: every problem (unreadable, missing, empty, oversized, unsupported file,
    bad cell) is a `Problem` in the result, and rows with errors are left out of `products`.

    Args:
        path: The file on disk. Its suffix picks the format (see `SUPPORTED_SUFFIXES`).
        limits: Size, row and field limits.
        display_name: What problems call the file (e.g. the uploaded file's name); default `path.name`.
            Documents take their id and title from it.
        shopify_currency: Currency of prices in a Shopify export (the export does not say).

    Raises:
        LoaderError: Only when called wrongly (not a path, limits of the wrong type).
    """
    if not isinstance(path, Path | str):
        raise LoaderError(f"load_file needs a Path, got {type(path).__name__}")
    if not isinstance(limits, ImportLimits):
        raise LoaderError(f"limits must be ImportLimits, got {type(limits).__name__}")
    path = Path(path)
    name = display_name or path.name
    reporter = Reporter(name)
    result = LoadResult(file=name)
    try:
        _load(path, name, limits, reporter, result, shopify_currency)
    except Exception as exc:  # the promise is "never a traceback" for any file a merchant sends
        logger.exception("loader failed on %s", name)
        reporter.error(f"could not read the file ({type(exc).__name__}: {exc})")
        result.products.clear()
        result.documents.clear()
    bad_rows = reporter.error_rows()
    result.products = [p for p in result.products if p.row not in bad_rows]
    # File-level problems first, then by row; the order found within a row is kept.
    result.problems = sorted(reporter.problems, key=lambda p: (p.row is not None, p.row or 0))
    result.rejected_rows = len(bad_rows)
    return result


def _load(
    path: Path, name: str, limits: ImportLimits, reporter: Reporter, result: LoadResult, shopify_currency: str
) -> None:
    suffix = Path(name).suffix.lower() if Path(name).suffix else path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        hint = _HINTS.get(suffix)
        supported = ", ".join(SUPPORTED_SUFFIXES)
        reporter.error(
            f"unsupported file type '{suffix or '(none)'}'; supported: {supported}"
            + (f"; {hint}" if hint else "")
        )
        return
    try:
        stat = path.stat()
    except FileNotFoundError:
        reporter.error("file not found")
        return
    except OSError as exc:
        reporter.error(f"cannot read the file: {exc.strerror or exc}")
        return
    if path.is_dir():
        reporter.error("is a folder, not a file")
        return
    if stat.st_size > limits.max_file_bytes:
        reporter.error(
            f"the file is {_size(stat.st_size)}; the limit is {_size(limits.max_file_bytes)} "
            "(split it into several files)"
        )
        return
    if stat.st_size == 0:
        reporter.error("the file is empty")
        return
    if suffix == ".xlsx":
        result.products = load_workbook_products(path, reporter=reporter, limits=limits, file=name)
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        reporter.error(f"cannot read the file: {exc.strerror or exc}")
        return
    if suffix in (".csv", ".tsv"):
        result.products = load_delimited(
            data,
            tab_separated=suffix == ".tsv",
            reporter=reporter,
            limits=limits,
            file=name,
            shopify_currency=shopify_currency,
        )
        return
    decoded = decode_bytes(data)
    if decoded is None:
        reporter.error("cannot tell the text encoding; save the file as UTF-8")
        return
    if not decoded.text.strip():
        reporter.error("the file is empty")
        return
    if suffix in (".json", ".jsonl"):
        reader = JsonReader(reporter, limits, name)
        catalog = reader.read_json(decoded.text) if suffix == ".json" else reader.read_jsonl(decoded.text)
        result.products = catalog.products
        result.documents = catalog.documents
        return
    document = load_document(decoded.text, display_name=name, reporter=reporter, limits=limits)
    if document is not None:
        result.documents = [document]
