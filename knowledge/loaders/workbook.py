"""XLSX workbooks via openpyxl (read-only, cached formula values): one sheet of products."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from knowledge.loaders.report import Reporter
from knowledge.loaders.tabular import SheetReader
from knowledge.loaders.text import shorten
from knowledge.loaders.values import is_blank
from knowledge.models import ImportLimits, SourcedProduct

#: A sheet with one of these names is read in preference to the first sheet.
PRODUCT_SHEET_NAMES = ("products", "product", "商品", "商品信息", "商品列表", "产品")

_BROKEN = "not a readable .xlsx workbook"


def _cell(value: object) -> object:
    """Dates become ISO text; everything else is passed on as openpyxl read it."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def load_workbook_products(
    path: Path, *, reporter: Reporter, limits: ImportLimits, file: str
) -> list[SourcedProduct]:
    """Products from the first sheet, or from a sheet named like products/商品."""
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except zipfile.BadZipFile:
        reporter.error(f"{_BROKEN} (not a zip archive; old .xls files must be saved as .xlsx)")
        return []
    except Exception as exc:  # openpyxl raises KeyError, ValueError, InvalidFileException...
        reporter.error(f"{_BROKEN} ({type(exc).__name__}: {shorten(str(exc), 80)})")
        return []
    try:
        return _read_workbook(workbook, reporter, limits, file)
    except zipfile.BadZipFile as exc:
        reporter.error(f"{_BROKEN} (damaged archive: {shorten(str(exc), 80)})")
        return []
    except Exception as exc:  # a damaged sheet part fails only while rows are read
        reporter.error(f"{_BROKEN} ({type(exc).__name__}: {shorten(str(exc), 80)})")
        return []
    finally:
        workbook.close()


def _read_workbook(
    workbook: Any, reporter: Reporter, limits: ImportLimits, file: str
) -> list[SourcedProduct]:
    sheets = list(workbook.worksheets)
    if not sheets:
        reporter.error("the workbook has no sheets")
        return []
    preferred = [s for s in sheets if str(s.title).strip().casefold() in PRODUCT_SHEET_NAMES]
    sheet = preferred[0] if preferred else sheets[0]
    if len(sheets) > 1:
        others = ", ".join(f"'{s.title}'" for s in sheets if s is not sheet)
        reporter.warning(f"only sheet '{sheet.title}' was read; other sheets ignored: {others}")
    rows: Iterator[tuple[int, list[object]]] = (
        (number, [_cell(v) for v in values])
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
    )
    header_row, header = 0, []
    for number, values in rows:
        if not all(is_blank(v) for v in values):
            header_row, header = number, values
            break
    if not header:
        reporter.error(f"sheet '{sheet.title}' is empty")
        return []
    reader = SheetReader(reporter, limits, file)
    products = reader.read(header, header_row, rows)
    if reader.data_rows == 0 and not any(p.severity == "error" for p in reporter.problems):
        reporter.error(f"sheet '{sheet.title}' has a header row but no data rows", header_row)
    return products
