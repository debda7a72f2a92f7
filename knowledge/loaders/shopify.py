"""Shopify's product CSV export: rows grouped by Handle, one row per variant.

The product sku is the Handle (Shopify's stable product key). The first row of a Handle carries the
product fields; every row may add an image; rows with option values, a Variant SKU or a Variant Price
are variants. A product whose only option is "Title: Default Title" has no variants and takes its
price and stock from that row. Products with Status draft/archived (or, in exports without a Status
column, Published = FALSE) are skipped with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from knowledge.loaders.aliases import header_key
from knowledge.loaders.builder import Cell, ProductBuilder, ProductCells, RowCheck
from knowledge.loaders.html_text import html_to_text
from knowledge.loaders.report import Reporter
from knowledge.loaders.text import clean_text, shorten
from knowledge.loaders.values import is_blank
from knowledge.models import ImportLimits, SourcedProduct, Variant

#: Columns read, by their comparable key.
_USED = (
    "handle", "title", "body(html)", "vendor", "productcategory", "type", "tags", "published", "status",
    "option1name", "option1value", "option2name", "option2value", "option3name", "option3value",
    "variantsku", "variantinventoryqty", "variantprice", "variantcompareatprice", "imagesrc", "variantimage",
)  # fmt: skip
#: Columns of Shopify's export that carry nothing the anchor uses; ignored without a warning.
_KNOWN_UNUSED = (
    "option1linkedto", "option2linkedto", "option3linkedto", "variantgrams", "variantinventorytracker",
    "variantinventorypolicy", "variantfulfillmentservice", "variantrequiresshipping", "varianttaxable",
    "variantbarcode", "imageposition", "imagealttext", "giftcard", "seotitle", "seodescription",
    "variantweightunit", "varianttaxcode", "costperitem", "unitpricetotalmeasure",
    "unitpricetotalmeasureunit", "unitpricebasemeasure", "unitpricebasemeasureunit", "includedunitedstates",
    "priceunitedstates", "compareatpriceunitedstates", "includedinternational", "priceinternational",
    "compareatpriceinternational", "url", "publishedonthirdpartysales",
)  # fmt: skip
_DEFAULT_OPTION = ("title", "default title")


@dataclass(slots=True)
class _Handle:
    first_row: int
    first: dict[str, Cell]
    images: list[str] = field(default_factory=list)
    variant_rows: list[tuple[int, dict[str, Cell]]] = field(default_factory=list)
    failed: bool = False


class ShopifyReader:
    """Reads the rows of a Shopify product export into products."""

    def __init__(self, reporter: Reporter, limits: ImportLimits, file: str, *, currency: str = "USD") -> None:
        self.reporter = reporter
        self.limits = limits
        self.file = file
        self.builder = ProductBuilder(reporter, limits, default_currency=currency)
        #: Non-blank rows after the header seen by the last `read`.
        self.data_rows = 0

    def read(
        self, header: Sequence[str], header_row: int, rows: Iterable[tuple[int, Sequence[str]]]
    ) -> list[SourcedProduct]:
        keys = [header_key(h) for h in header]
        for key, name in zip(keys, header, strict=True):
            if key and key not in _USED and key not in _KNOWN_UNUSED and not _is_extension_column(key):
                self.reporter.warning(f"unknown column '{shorten(name)}' ignored", header_row, name.strip())
        handles: dict[str, _Handle] = {}
        count = 0
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
            cells = {
                key: Cell(name.strip(), value)
                for key, name, value in zip(keys, header, values, strict=False)
                if key in _USED
            }
            self._row(number, cells, handles)
        products: list[SourcedProduct] = []
        seen_variants: dict[str, int] = {}
        for handle, group in handles.items():
            product = self._product(handle, group, seen_variants)
            if product is not None:
                products.append(product)
        return products

    def _row(self, number: int, cells: dict[str, Cell], handles: dict[str, _Handle]) -> None:
        handle = _text(cells, "handle")
        if not handle:
            self.reporter.error("missing Handle", number, "Handle")
            return
        group = handles.get(handle)
        title = _text(cells, "title")
        if group is None:
            group = handles[handle] = _Handle(number, cells)
        elif title and title != _text(group.first, "title"):
            self.reporter.error(
                f"duplicate Handle '{shorten(handle)}' with another title (first used in row "
                f"{group.first_row})",
                number,
                "Handle",
            )
            group.failed = True
            return
        for key in ("imagesrc", "variantimage"):
            image = _text(cells, key)
            if image and image not in group.images:
                group.images.append(image)
        if any(_text(cells, key) for key in ("option1value", "variantsku", "variantprice")):
            group.variant_rows.append((number, cells))

    def _product(self, handle: str, group: _Handle, seen: dict[str, int]) -> SourcedProduct | None:
        first = group.first
        status = _text(first, "status").casefold()
        published = _text(first, "published").casefold()
        if status in ("draft", "archived") or (not status and published == "false"):
            state = f"Status {status}" if status else "Published FALSE"
            self.reporter.warning(f"product '{shorten(handle)}' skipped: {state}", group.first_row, "Handle")
            return None
        option_names = [_text(first, f"option{i}name") for i in (1, 2, 3)]
        check = RowCheck(self.reporter, group.first_row)
        category = _text(first, "type") or _text(first, "productcategory").split(">")[-1].strip()
        fields = {
            "sku": Cell(first.get("handle", Cell("Handle", None)).column, handle),
            "title": first.get("title", Cell("Title", None)),
            "brand": first.get("vendor", Cell("Vendor", None)),
            "category": Cell("Type", category),
            "tags": first.get("tags", Cell("Tags", None)),
            "images": Cell("Image Src", group.images),
        }
        body = first.get("body(html)")
        if body is not None and isinstance(body.value, str):
            fields["description"] = Cell(body.column, html_to_text(body.value))
        default_row = self._default_variant_row(group, option_names)
        if default_row is not None:
            fields["price"] = default_row.get("variantprice", Cell("Variant Price", None))
            fields["list_price"] = default_row.get(
                "variantcompareatprice", Cell("Variant Compare At Price", None)
            )
            fields["stock"] = Cell("Variant Inventory Qty", self._inventory(group.first_row, default_row))
            variants: list[Variant] = []
            list_prices: dict[str, Decimal | None] = {}
            failed = False
        else:
            variants, list_prices, failed = self._variants(handle, group, option_names, seen)
        product = self.builder.product(
            ProductCells(group.first_row, fields), extra_variants=variants, check=check
        )
        if product is None or failed or group.failed:
            return None
        if variants:
            priced = [v for v in variants if v.price is not None]
            cheapest = min(priced, key=lambda v: v.price or Decimal(0)) if priced else None
            product.price = cheapest.price if cheapest else None
            product.list_price = list_prices.get(cheapest.sku) if cheapest else None
        return SourcedProduct(product, self.file, group.first_row)

    def _default_variant_row(self, group: _Handle, option_names: list[str]) -> dict[str, Cell] | None:
        """The single row of a product without real options ("Title: Default Title")."""
        if len(group.variant_rows) > 1:
            return None
        if not group.variant_rows:
            return group.first
        _, cells = group.variant_rows[0]
        named = [n for n in option_names if n]
        value = _text(cells, "option1value")
        if not named or (len(named) == 1 and (named[0].casefold(), value.casefold()) == _DEFAULT_OPTION):
            return cells
        return None

    def _inventory(self, number: int, cells: dict[str, Cell]) -> object:
        """Shopify lets oversold stock go negative; the anchor reads that as sold out."""
        cell = cells.get("variantinventoryqty")
        if cell is None:
            return None
        text = _text(cells, "variantinventoryqty")
        if text.startswith("-") and text[1:].isdigit():
            self.reporter.warning(f"inventory {text} is negative (oversold); read as 0", number, cell.column)
            return "0"
        return cell.value

    def _variants(
        self, handle: str, group: _Handle, option_names: list[str], seen: dict[str, int]
    ) -> tuple[list[Variant], dict[str, Decimal | None], bool]:
        variants: list[Variant] = []
        list_prices: dict[str, Decimal | None] = {}
        failed = False
        builder = self.builder
        for number, cells in group.variant_rows:
            check = RowCheck(self.reporter, number)
            options: dict[str, str] = {}
            for index, name in enumerate(option_names, start=1):
                value = _text(cells, f"option{index}value")
                if value:
                    options[name or f"Option{index}"] = value
            sku = _text(cells, "variantsku") or "-".join([handle, *options.values()])
            if len(sku) > self.limits.max_field_chars:
                check.error("Variant SKU", f"variant sku is over {self.limits.max_field_chars:,} characters")
            price, _ = builder.price(check, cells.get("variantprice"), "variant price")
            compare_at, _ = builder.price(check, cells.get("variantcompareatprice"), "compare-at price")
            stock = builder.stock(
                check, Cell("Variant Inventory Qty", self._inventory(number, cells)), "inventory"
            )
            if sku in seen:
                check.error(
                    "Variant SKU", f"duplicate variant sku '{shorten(sku)}' (first used in row {seen[sku]})"
                )
            else:
                seen[sku] = number
            if check.failed:
                failed = True
                continue
            variants.append(Variant(sku=sku, options=options, price=price, stock=stock))
            list_prices[sku] = compare_at
        return variants, list_prices, failed


def _text(cells: dict[str, Cell], key: str) -> str:
    cell = cells.get(key)
    if cell is None or not isinstance(cell.value, str):
        return ""
    return clean_text(cell.value)


def _is_extension_column(key: str) -> bool:
    """Metafield and Google Shopping columns that Shopify appends per store; ignored silently."""
    return "metafields" in key or key.startswith(("googleshopping/", "variant"))
