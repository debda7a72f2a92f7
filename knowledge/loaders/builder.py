"""Turning one record's raw cells into a validated `Product`, reporting every bad cell.

Every loader (CSV, XLSX, JSON, JSONL) ends here, so a price or a title is judged the same way
whatever file it came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from knowledge.loaders.report import Reporter
from knowledge.loaders.text import guess_locale, shorten
from knowledge.loaders.values import (
    ListKind,
    ValueProblem,
    is_blank,
    parse_attributes,
    parse_currency,
    parse_list,
    parse_locale,
    parse_price,
    parse_stock,
    parse_text,
    type_name,
)
from knowledge.models import ImportLimits, Product, Variant


@dataclass(frozen=True, slots=True)
class Cell:
    """A raw value and the column (or JSON field) it came from, as the merchant names it."""

    column: str
    value: object


@dataclass(slots=True)
class ProductCells:
    """The raw cells of one product record: canonical field → cell, plus `attr:` columns."""

    row: int
    fields: dict[str, Cell] = field(default_factory=dict)
    attributes: list[tuple[str, Cell]] = field(default_factory=list)


class RowCheck:
    """Reports problems for one row and remembers whether any was an error."""

    def __init__(self, reporter: Reporter, row: int) -> None:
        self.reporter = reporter
        self.row = row
        self.failed = False
        self.errors = 0

    def error(self, column: str | None, message: str) -> None:
        self.failed = True
        self.errors += 1
        self.reporter.error(message, self.row, column)

    def warning(self, column: str | None, message: str) -> None:
        self.reporter.warning(message, self.row, column)


class ProductBuilder:
    """Validates records against `ImportLimits` and builds products and variants from them."""

    def __init__(self, reporter: Reporter, limits: ImportLimits, *, default_currency: str = "CNY") -> None:
        self.reporter = reporter
        self.limits = limits
        self.default_currency = default_currency

    # -- single values ---------------------------------------------------------------------------

    def text(self, check: RowCheck, cell: Cell | None, what: str, limit: int | None = None) -> str:
        if cell is None:
            return ""
        try:
            value = parse_text(cell.value)
        except ValueProblem as exc:
            check.error(cell.column, f"{what}: {exc}")
            return ""
        limit = self.limits.max_field_chars if limit is None else limit
        if len(value) > limit:
            check.error(cell.column, f"{what} is {len(value):,} characters; the limit is {limit:,}")
            return ""
        return value

    def price(self, check: RowCheck, cell: Cell | None, what: str) -> tuple[Decimal | None, str | None]:
        if cell is None:
            return None, None
        try:
            return parse_price(cell.value, what)
        except ValueProblem as exc:
            check.error(cell.column, str(exc))
            return None, None

    def stock(self, check: RowCheck, cell: Cell | None, what: str = "stock") -> int | None:
        if cell is None:
            return None
        try:
            return parse_stock(cell.value, what)
        except ValueProblem as exc:
            check.error(cell.column, str(exc))
            return None

    def items(self, check: RowCheck, cell: Cell | None, kind: ListKind) -> list[str]:
        if cell is None:
            return []
        try:
            values = parse_list(cell.value, kind)
        except ValueProblem as exc:
            check.error(cell.column, f"{kind}: {exc}")
            return []
        if len(values) > self.limits.max_list_items:
            check.error(
                cell.column, f"{kind} has {len(values)} items; the limit is {self.limits.max_list_items}"
            )
            return []
        for value in values:
            if len(value) > self.limits.max_field_chars:
                check.error(
                    cell.column,
                    f"{kind} item '{shorten(value)}' is {len(value):,} characters; "
                    f"the limit is {self.limits.max_field_chars:,}",
                )
                return []
        return values

    def attributes(self, check: RowCheck, cells: ProductCells) -> dict[str, str]:
        result: dict[str, str] = {}
        pieces: list[tuple[str, dict[str, str]]] = []
        whole = cells.fields.get("attributes")
        if whole is not None:
            try:
                pieces.append((whole.column, parse_attributes(whole.value)))
            except ValueProblem as exc:
                check.error(whole.column, str(exc))
        for name, cell in cells.attributes:
            if not is_blank(cell.value):
                value = self.text(check, cell, f"attribute {name}")
                pieces.append((cell.column, {name: value} if value else {}))
        for column, values in pieces:
            for key, value in values.items():
                if len(value) > self.limits.max_field_chars or len(key) > self.limits.max_field_chars:
                    check.error(
                        column,
                        f"attribute '{shorten(key)}' is over {self.limits.max_field_chars:,} characters",
                    )
                    continue
                result[key] = value
        if len(result) > self.limits.max_list_items:
            check.error(
                whole.column if whole else None,
                f"{len(result)} attributes; the limit is {self.limits.max_list_items}",
            )
        return result

    # -- variants ---------------------------------------------------------------------------------

    def variants_json(self, check: RowCheck, cell: Cell | None) -> list[Variant]:
        """Variants from a JSON list (a JSON field, or a spreadsheet cell holding JSON text)."""
        if cell is None or is_blank(cell.value):
            return []
        raw = cell.value
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                check.error(cell.column, f"variants are not valid JSON ({exc.msg} at character {exc.pos})")
                return []
        if not isinstance(raw, list):
            check.error(cell.column, f"variants: expected a list of objects, got {type_name(raw)}")
            return []
        variants: list[Variant] = []
        for position, item in enumerate(raw, start=1):
            variant = self._variant_object(check, cell.column, position, item)
            if variant is not None:
                variants.append(variant)
        return variants

    def _variant_object(self, check: RowCheck, column: str, position: int, item: object) -> Variant | None:
        where = f"variant {position}"
        if not isinstance(item, dict):
            check.error(column, f"{where}: expected an object, got {type_name(item)}")
            return None
        failed_before = check.failed
        check.failed = False
        sku = self.text(check, Cell(column, item.get("sku")), f"{where} sku")
        if not sku and not check.failed:
            check.error(column, f"{where}: missing sku")
        options_raw = item.get("options")
        extra = {k: v for k, v in item.items() if k not in ("sku", "options", "price", "stock")}
        options: dict[str, str] = {}
        if options_raw is not None:
            if not isinstance(options_raw, dict):
                check.error(column, f"{where} options: expected an object, got {type_name(options_raw)}")
            else:
                options.update(self._options(check, column, where, options_raw))
            if extra:
                names = ", ".join(sorted(str(k) for k in extra))
                check.error(column, f"{where}: unknown field(s) {names}")
        else:
            # {"sku": "T-RED-M", "颜色": "红", "尺码": "M"}: the other keys are the options.
            options.update(self._options(check, column, where, extra))
        price, _ = self.price(check, Cell(column, item.get("price")), f"{where} price")
        stock = self.stock(check, Cell(column, item.get("stock")), f"{where} stock")
        failed = check.failed
        check.failed = failed_before or failed
        return None if failed else Variant(sku=sku, options=options, price=price, stock=stock)

    def _options(self, check: RowCheck, column: str, where: str, raw: dict[object, object]) -> dict[str, str]:
        options: dict[str, str] = {}
        for key, value in raw.items():
            if isinstance(value, list | dict | bool):
                check.error(column, f"{where} option '{key}': expected text, got {type_name(value)}")
                continue
            text = self.text(check, Cell(column, value), f"{where} option '{key}'")
            if text:
                options[str(key).strip()] = text
        return options

    # -- the whole product ------------------------------------------------------------------------

    def product(
        self,
        cells: ProductCells,
        *,
        extra_variants: list[Variant] | None = None,
        check: RowCheck | None = None,
    ) -> Product | None:
        """Build the product of one record; None when any cell had an error (all are reported)."""
        check = check or RowCheck(self.reporter, cells.row)
        get = cells.fields.get
        limits = self.limits
        before = check.errors
        sku = self.text(check, get("sku"), "sku")
        if not sku and check.errors == before:
            check.error(get("sku", Cell("sku", None)).column, "missing sku")
        before = check.errors
        title = self.text(check, get("title"), "title", limits.max_title_chars)
        if not title and check.errors == before:
            check.error(get("title", Cell("title", None)).column, "missing title")
        price, price_currency = self.price(check, get("price"), "price")
        list_price, list_currency = self.price(check, get("list_price"), "list price")
        currency: str | None = None
        currency_cell = get("currency")
        if currency_cell is not None:
            try:
                currency = parse_currency(currency_cell.value)
            except ValueProblem as exc:
                check.error(currency_cell.column, str(exc))
        currency = currency or price_currency or list_currency or self.default_currency
        locale: str | None = None
        locale_cell = get("locale")
        if locale_cell is not None:
            try:
                locale = parse_locale(locale_cell.value)
            except ValueProblem as exc:
                check.error(locale_cell.column, str(exc))
        description = self.text(check, get("description"), "description", limits.max_description_chars)
        variants = self.variants_json(check, get("variants")) + list(extra_variants or [])
        if len(variants) > limits.max_variants:
            check.error(
                get("variants", Cell("variants", None)).column,
                f"{len(variants)} variants; the limit is {limits.max_variants}",
            )
        product = Product(
            sku=sku,
            title=title,
            brand=self.text(check, get("brand"), "brand"),
            category=self.text(check, get("category"), "category"),
            price=price,
            currency=currency,
            list_price=list_price,
            stock=self.stock(check, get("stock")),
            variants=variants,
            attributes=self.attributes(check, cells),
            selling_points=self.items(check, get("selling_points"), "selling_points"),
            description=description,
            tags=self.items(check, get("tags"), "tags"),
            images=self.items(check, get("images"), "images"),
            url=self.text(check, get("url"), "url"),
            locale=locale or guess_locale(f"{title}\n{description}"),
        )
        if price is not None and list_price is not None and list_price < price:
            check.warning(
                get("list_price", Cell("list_price", None)).column,
                f"list price {list_price} is lower than the price {price}; are the two columns swapped?",
            )
        return None if check.failed else product
