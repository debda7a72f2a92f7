"""Rows of a sheet (CSV, TSV or XLSX) → products, with one row per product or one row per variant.

One row per product is the plain case. Files with variant columns (`variant_sku`/规格编码, option
columns such as 颜色/尺码 or `option:<name>`) may give several rows per product: rows sharing a product
sku are that product's variants, product-level fields come from the group's first row, and a row
whose sku is empty continues the product above (what merged cells in Excel export as).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from knowledge.loaders.aliases import FIELD_ALIASES, ColumnRole, column_role
from knowledge.loaders.builder import Cell, ProductBuilder, ProductCells, RowCheck
from knowledge.loaders.report import Reporter
from knowledge.loaders.text import shorten
from knowledge.loaders.values import ValueProblem, is_blank, parse_text
from knowledge.models import ImportLimits, SourcedProduct, Variant

#: Fields that vary per variant row when the file has no separate variant price/stock columns.
_PER_ROW_FIELDS = ("price", "stock")


@dataclass(slots=True)
class _Row:
    number: int
    cells: ProductCells
    options: list[tuple[str, Cell]]
    variant: dict[str, Cell]

    def is_variant(self) -> bool:
        if not is_blank(self.variant.get("variant_sku", Cell("", None)).value):
            return True
        return any(not is_blank(cell.value) for _, cell in self.options)

    def sku(self) -> str:
        cell = self.cells.fields.get("sku")
        if cell is None:
            return ""
        try:
            return parse_text(cell.value)
        except ValueProblem:
            return ""


@dataclass(slots=True)
class _Group:
    rows: list[_Row] = field(default_factory=list)
    variant_rows: list[_Row] = field(default_factory=list)


class SheetReader:
    """Reads one sheet's header and rows into `SourcedProduct`s, reporting into `reporter`."""

    def __init__(
        self, reporter: Reporter, limits: ImportLimits, file: str, *, default_currency: str = "CNY"
    ) -> None:
        self.reporter = reporter
        self.limits = limits
        self.file = file
        self.builder = ProductBuilder(reporter, limits, default_currency=default_currency)
        #: Non-blank rows after the header seen by the last `read`.
        self.data_rows = 0

    def read(
        self, header: Sequence[object], header_row: int, rows: Iterable[tuple[int, Sequence[object]]]
    ) -> list[SourcedProduct]:
        roles = self._roles(header, header_row)
        if roles is None:
            return []
        used = {role.name for role in roles if role.kind == "variant"}
        per_row_mode = not ({"variant_price", "variant_stock"} & used)
        groups: dict[str, _Group] = {}
        ordered: list[_Group] = []
        current: _Group | None = None
        count = 0
        unnamed_with_data: set[int] = set()
        for number, values in rows:
            if all(is_blank(v) for v in values):
                continue
            count += 1
            self.data_rows = count
            if count > self.limits.max_rows:
                self.reporter.error(
                    f"the file has more than {self.limits.max_rows:,} rows; the limit is "
                    f"{self.limits.max_rows:,}. Split it into several files."
                )
                return []
            row = self._row(number, roles, values, unnamed_with_data)
            sku = row.sku()
            if not sku and current is not None and current.variant_rows and row.is_variant():
                current.rows.append(row)
                current.variant_rows.append(row)
                continue
            group = groups.get(sku) if sku else None
            if group is not None:
                if group.variant_rows and row.is_variant():
                    group.rows.append(row)
                    group.variant_rows.append(row)
                    current = group
                    continue
                self.reporter.error(
                    f"duplicate sku '{shorten(sku)}' (first used in row {group.rows[0].number})",
                    number,
                    row.cells.fields["sku"].column,
                )
                current = None
                continue
            group = _Group(rows=[row], variant_rows=[row] if row.is_variant() else [])
            if sku:
                groups[sku] = group
            ordered.append(group)
            current = group
        for index in sorted(unnamed_with_data):
            self.reporter.warning(
                f"column {index + 1} has no header; its values are ignored", header_row, f"#{index + 1}"
            )
        products: list[SourcedProduct] = []
        seen_variants: dict[str, int] = {}
        for group in ordered:
            built = self._product(group, per_row_mode, seen_variants)
            if built is not None:
                products.append(built)
        return products

    # -- header ---------------------------------------------------------------------------------

    def _roles(self, header: Sequence[object], header_row: int) -> list[ColumnRole] | None:
        roles: list[ColumnRole] = []
        first_column: dict[tuple[str, str], str] = {}
        for value in header:
            text = "" if value is None else str(value) if not isinstance(value, str) else value
            role = column_role(text)
            if role.kind == "unknown":
                self.reporter.warning(
                    f"unknown column '{shorten(role.header)}' ignored (see docs/catalog-formats.md "
                    "for the column names)",
                    header_row,
                    role.header,
                )
                role = ColumnRole("blank", "", role.header)
            elif role.kind != "blank":
                key = (role.kind, role.name)
                if key in first_column:
                    self.reporter.warning(
                        f"column '{role.header}' means the same as column '{first_column[key]}'; "
                        f"only '{first_column[key]}' is read",
                        header_row,
                        role.header,
                    )
                    role = ColumnRole("blank", "", role.header)
                else:
                    first_column[key] = role.header
            roles.append(role)
        fields = {role.name for role in roles if role.kind == "field"}
        missing = [name for name in ("sku", "title") if name not in fields]
        for name in missing:
            examples = ", ".join(FIELD_ALIASES[name][:5])
            self.reporter.error(f"no {name} column in the header row (use one of: {examples})", header_row)
        return None if missing else roles

    # -- rows -----------------------------------------------------------------------------------

    def _row(self, number: int, roles: list[ColumnRole], values: Sequence[object], unnamed: set[int]) -> _Row:
        cells = ProductCells(number)
        options: list[tuple[str, Cell]] = []
        variant: dict[str, Cell] = {}
        for index, value in enumerate(values):
            if index >= len(roles):
                if not is_blank(value):
                    unnamed.add(index)
                continue
            role = roles[index]
            cell = Cell(role.header, value)
            if role.kind == "field":
                cells.fields[role.name] = cell
            elif role.kind == "attribute":
                cells.attributes.append((role.name, cell))
            elif role.kind == "option":
                options.append((role.name, cell))
            elif role.kind == "variant":
                variant[role.name] = cell
            elif role.kind == "blank" and not role.header.strip() and not is_blank(value):
                unnamed.add(index)
        return _Row(number, cells, options, variant)

    def _product(
        self, group: _Group, per_row_mode: bool, seen_variants: dict[str, int]
    ) -> SourcedProduct | None:
        first = group.rows[0]
        check = RowCheck(self.reporter, first.number)
        cells = first.cells
        variant_mode = bool(group.variant_rows)
        if variant_mode and per_row_mode:
            # price/stock on a variant row belong to that variant, not to the product.
            cells = ProductCells(
                first.number,
                {k: v for k, v in first.cells.fields.items() if k not in _PER_ROW_FIELDS},
                first.cells.attributes,
            )
        product_sku = first.sku()
        variants: list[Variant] = []
        failed = False
        for row in group.variant_rows:
            row_check = check if row is first else RowCheck(self.reporter, row.number)
            if row is not first:
                self._warn_ignored(row, first, per_row_mode, row_check)
            variant = self._variant(row, product_sku, per_row_mode, row_check, seen_variants)
            failed = failed or row_check.failed
            if variant is not None:
                variants.append(variant)
        product = self.builder.product(cells, extra_variants=variants, check=check)
        if product is None or failed:
            return None
        if variant_mode and per_row_mode:
            prices = [v.price for v in variants if v.price is not None]
            product.price = min(prices) if prices else None
            product.stock = None
        return SourcedProduct(product, self.file, first.number)

    def _variant(
        self, row: _Row, product_sku: str, per_row_mode: bool, check: RowCheck, seen: dict[str, int]
    ) -> Variant | None:
        builder = self.builder
        options: dict[str, str] = {}
        for name, cell in row.options:
            value = builder.text(check, cell, f"option {name}")
            if value:
                options[name] = value
        sku = builder.text(check, row.variant.get("variant_sku"), "variant sku")
        if not sku:
            sku = "-".join([product_sku, *options.values()]) if product_sku else ""
        price_cell = row.variant.get("variant_price")
        stock_cell = row.variant.get("variant_stock")
        if per_row_mode:
            price_cell = row.cells.fields.get("price")
            stock_cell = row.cells.fields.get("stock")
        price: Decimal | None
        price, _ = builder.price(check, price_cell, "variant price")
        stock = builder.stock(check, stock_cell, "variant stock")
        if sku:
            first_row = seen.get(sku)
            if first_row is not None:
                column = row.variant.get("variant_sku", Cell("variant_sku", None)).column
                check.error(column, f"duplicate variant sku '{shorten(sku)}' (first used in row {first_row})")
            else:
                seen[sku] = row.number
        if check.failed or not sku:
            return None
        return Variant(sku=sku, options=options, price=price, stock=stock)

    def _warn_ignored(self, row: _Row, first: _Row, per_row_mode: bool, check: RowCheck) -> None:
        """Warn when a later variant row carries product fields that differ from the first row's."""
        differing: list[str] = []
        for name, cell in row.cells.fields.items():
            if name == "sku" or (per_row_mode and name in _PER_ROW_FIELDS) or is_blank(cell.value):
                continue
            head = first.cells.fields.get(name)
            if head is None or str(head.value).strip() != str(cell.value).strip():
                differing.append(cell.column)
        if differing:
            check.warning(
                None,
                f"{', '.join(differing)} differ from row {first.number} (the product's first row) "
                "and are ignored",
            )
