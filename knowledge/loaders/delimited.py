"""CSV and TSV files: encoding and delimiter detection, then the sheet reader or the Shopify loader."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from knowledge.loaders.aliases import header_key
from knowledge.loaders.report import Reporter
from knowledge.loaders.shopify import ShopifyReader
from knowledge.loaders.tabular import SheetReader
from knowledge.loaders.text import decode_bytes
from knowledge.models import ImportLimits, SourcedProduct

_DELIMITERS = (",", "\t", ";")


def sniff_delimiter(text: str, default: str = ",") -> str:
    """The delimiter of the first non-empty line: whichever of comma, tab, semicolon occurs most
    outside quotes; `default` on a tie or when none occurs."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: (counts[d], d == default))
    return best if counts[best] > 0 else default


def is_shopify_header(header: list[str]) -> bool:
    """Shopify's product export starts with Handle and carries its variant columns."""
    keys = {header_key(cell) for cell in header}
    return "handle" in keys and bool({"variantsku", "variantprice", "body(html)"} & keys)


def _records(text: str, delimiter: str, reporter: Reporter) -> Iterator[tuple[int, list[str]]]:
    """Records numbered as a spreadsheet shows them (first record = row 1). A broken record ends the
    file with a problem rather than an exception."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = str(exc)
            if "field larger than field limit" in message:
                message = f"a cell is over {csv.field_size_limit():,} characters"
            elif "unexpected end of data" in message:
                message = 'a quoted cell is never closed (a closing " is missing)'
            elif "expected after" in message:
                message = 'a " inside a quoted cell must be written twice ("")'
            reporter.error(f"cannot read past this row: {message}", number + 1)
            return
        number += 1
        yield number, record


def load_delimited(
    data: bytes,
    *,
    tab_separated: bool,
    reporter: Reporter,
    limits: ImportLimits,
    file: str,
    shopify_currency: str,
) -> list[SourcedProduct]:
    """Products from CSV/TSV bytes. A CSV with Shopify's header goes to the Shopify loader."""
    decoded = decode_bytes(data)
    if decoded is None:
        reporter.error("cannot tell the text encoding; save the file as UTF-8 (CSV UTF-8 in Excel)")
        return []
    if decoded.guessed:
        reporter.warning(
            f"text encoding guessed as {decoded.encoding}; if characters look wrong, save the file as UTF-8"
        )
    text = decoded.text
    if not text.strip():
        reporter.error("the file is empty")
        return []
    delimiter = sniff_delimiter(text, "\t" if tab_separated else ",")
    records = _records(text, delimiter, reporter)
    header_row, header = 0, []
    for number, record in records:
        if any(cell.strip() for cell in record):
            header_row, header = number, record
            break
    if not header:
        reporter.error("the file has no header row")
        return []
    reader: ShopifyReader | SheetReader
    if is_shopify_header(header):
        reader = ShopifyReader(reporter, limits, file, currency=shopify_currency)
    else:
        reader = SheetReader(reporter, limits, file)
    products = reader.read(header, header_row, records)
    if reader.data_rows == 0 and not any(p.severity == "error" for p in reporter.problems):
        reporter.error("the file has a header row but no data rows", header_row)
    return products
