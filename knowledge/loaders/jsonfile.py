"""JSON and JSONL catalogs in the canonical field names (see `knowledge.models.PRODUCT_FIELDS`).

JSON: a list of products, or {"products": [...], "documents": [...]} with documents in
`Document.to_dict` form. JSONL: one product per line; a line with "doc_id" is a document.
Rows are items (JSON: position in its list, from 1) or lines (JSONL).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from knowledge.loaders.builder import Cell, ProductBuilder, ProductCells, RowCheck
from knowledge.loaders.report import Reporter
from knowledge.loaders.text import clean_text, shorten
from knowledge.loaders.values import type_name
from knowledge.models import PRODUCT_FIELDS, DocSection, Document, ImportLimits, SourcedProduct

_DOCUMENT_KEYS = frozenset({"doc_id", "title", "kind", "locale", "source", "sections"})
_SECTION_KEYS = frozenset({"heading", "text", "sku"})


@dataclass(slots=True)
class JsonCatalog:
    """What a JSON/JSONL file held after validation."""

    products: list[SourcedProduct] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)


class JsonReader:
    """Validates JSON items into products and documents, reporting bad items by row."""

    def __init__(self, reporter: Reporter, limits: ImportLimits, file: str) -> None:
        self.reporter = reporter
        self.limits = limits
        self.file = file
        self.builder = ProductBuilder(reporter, limits)
        self.catalog = JsonCatalog()
        self._skus: dict[str, int] = {}
        self._variant_skus: dict[str, int] = {}
        self._doc_ids: dict[str, int] = {}
        self._unknown: dict[str, tuple[int, int]] = {}

    # -- entry points ---------------------------------------------------------------------------

    def read_json(self, text: str) -> JsonCatalog:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            self.reporter.error(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
            return self.catalog
        if isinstance(data, list):
            self._items(enumerate(data, start=1), documents_too=True)
        elif isinstance(data, dict) and ("products" in data or "documents" in data):
            for key in data:
                if key not in ("products", "documents"):
                    self.reporter.warning(f"top-level key '{shorten(str(key))}' ignored", None, str(key))
            for key in ("products", "documents"):
                items = data.get(key)
                if items is None:
                    continue
                if not isinstance(items, list):
                    self.reporter.error(f"'{key}' must be a list, got {type_name(items)}", None, key)
                    continue
                if key == "products":
                    self._items(enumerate(items, start=1), documents_too=False)
                else:
                    for row, item in enumerate(items, start=1):
                        self._document(row, item)
        elif isinstance(data, dict):
            self._item(1, data, documents_too=True)
        else:
            self.reporter.error(
                f"expected a list of products or an object with 'products' and 'documents', "
                f"got {type_name(data)}"
            )
        self._report_unknown()
        return self.catalog

    def read_jsonl(self, text: str) -> JsonCatalog:
        count = 0
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            count += 1
            if count > self.limits.max_rows:
                self.reporter.error(
                    f"the file has more than {self.limits.max_rows:,} lines; the limit is "
                    f"{self.limits.max_rows:,}. Split it into several files."
                )
                return JsonCatalog()
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                self.reporter.error(f"not valid JSON: {exc.msg} (column {exc.colno})", number)
                continue
            self._item(number, item, documents_too=True)
        self._report_unknown()
        return self.catalog

    # -- items ----------------------------------------------------------------------------------

    def _items(self, items: Iterable[tuple[int, object]], *, documents_too: bool) -> None:
        for row, item in items:
            if row > self.limits.max_rows:
                self.reporter.error(
                    f"the file has more than {self.limits.max_rows:,} items; the limit is "
                    f"{self.limits.max_rows:,}. Split it into several files."
                )
                self.catalog = JsonCatalog()
                return
            self._item(row, item, documents_too=documents_too)

    def _item(self, row: int, item: object, *, documents_too: bool) -> None:
        if not isinstance(item, dict):
            self.reporter.error(f"expected an object, got {type_name(item)}", row)
            return
        if documents_too and "doc_id" in item and "sku" not in item:
            self._document(row, item)
            return
        cells = ProductCells(row)
        for key, value in item.items():
            name = str(key)
            if name in PRODUCT_FIELDS:
                cells.fields[name] = Cell(name, value)
            elif name != "name":
                first, seen = self._unknown.get(name, (row, 0))
                self._unknown[name] = (first, seen + 1)
        if "name" in item:
            if "title" in cells.fields:
                self.reporter.warning("both 'name' and 'title' given; 'title' is used", row, "name")
            else:
                cells.fields["title"] = Cell("name", item["name"])
        cells.fields.setdefault("sku", Cell("sku", None))
        cells.fields.setdefault("title", Cell("title", None))
        check = RowCheck(self.reporter, row)
        product = self.builder.product(cells, check=check)
        if product is None:
            return
        first_row = self._skus.get(product.sku)
        if first_row is not None:
            check.error("sku", f"duplicate sku '{shorten(product.sku)}' (first used in row {first_row})")
            return
        for position, variant in enumerate(product.variants, start=1):
            seen_in = self._variant_skus.get(variant.sku)
            if seen_in is not None:
                check.error(
                    "variants",
                    f"variant {position}: duplicate variant sku '{shorten(variant.sku)}' "
                    f"(first used in row {seen_in})",
                )
        if check.failed:
            return
        self._skus[product.sku] = row
        for variant in product.variants:
            self._variant_skus[variant.sku] = row
        self.catalog.products.append(SourcedProduct(product, self.file, row))

    def _report_unknown(self) -> None:
        for name, (first, count) in self._unknown.items():
            where = f"in {count} items" if count > 1 else "in 1 item"
            self.reporter.warning(f"unknown field '{shorten(name)}' ignored ({where})", first, name)

    # -- documents ------------------------------------------------------------------------------

    def _document(self, row: int, item: object) -> None:
        check = RowCheck(self.reporter, row)
        if not isinstance(item, dict):
            check.error(None, f"document: expected an object, got {type_name(item)}")
            return
        for key in item:
            if key not in _DOCUMENT_KEYS:
                check.warning(str(key), f"unknown document field '{shorten(str(key))}' ignored")
        doc_id = _text_field(check, item, "doc_id")
        if not doc_id and not check.failed:
            check.error("doc_id", "missing doc_id")
        title = _text_field(check, item, "title") or doc_id
        kind = _text_field(check, item, "kind") or "policy"
        if kind not in ("policy", "faq", "page"):
            check.error("kind", f"kind '{shorten(kind)}' is not one of policy, faq, page")
        sections = self._sections(check, item.get("sections"))
        total = sum(len(s.heading) + len(s.text) for s in sections)
        if total > self.limits.max_document_chars:
            check.error(
                "sections",
                f"document is {total:,} characters; the limit is {self.limits.max_document_chars:,}",
            )
        if doc_id in self._doc_ids:
            check.error(
                "doc_id", f"duplicate doc_id '{shorten(doc_id)}' (first used in row {self._doc_ids[doc_id]})"
            )
        if check.failed:
            return
        self._doc_ids[doc_id] = row
        document = Document.from_dict(
            {"doc_id": doc_id, "title": title, "kind": kind, "locale": _text_field(check, item, "locale")}
        )
        document.sections = sections
        document.source = _text_field(check, item, "source") or self.file
        self.catalog.documents.append(document)

    def _sections(self, check: RowCheck, raw: object) -> list[DocSection]:
        if raw is None:
            check.error("sections", "missing sections")
            return []
        if not isinstance(raw, list):
            check.error("sections", f"expected a list of sections, got {type_name(raw)}")
            return []
        sections: list[DocSection] = []
        for position, item in enumerate(raw, start=1):
            if not isinstance(item, dict):
                check.error("sections", f"section {position}: expected an object, got {type_name(item)}")
                continue
            values: dict[str, str] = {}
            for key in _SECTION_KEYS:
                value = item.get(key)
                if value is not None and not isinstance(value, str):
                    check.error(
                        "sections", f"section {position}, field {key}: expected text, got {type_name(value)}"
                    )
                values[key] = clean_text(value) if isinstance(value, str) else ""
            if not values["text"]:
                check.error("sections", f"section {position}: missing text")
                continue
            sections.append(DocSection(values["heading"], values["text"], values["sku"] or None))
        return sections


def _text_field(check: RowCheck, item: dict[str, object], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        check.error(key, f"expected text, got {type_name(value)}")
        return ""
    return clean_text(value)
