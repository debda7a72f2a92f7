"""Shopify product CSV export: variants grouped by Handle, HTML bodies, default-title products."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from knowledge.loaders import load_file
from knowledge.models import Product

pytestmark = pytest.mark.unit

HEADER = [
    "Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published",
    "Option1 Name", "Option1 Value", "Option1 Linked To", "Option2 Name", "Option2 Value",
    "Option3 Name", "Option3 Value", "Variant SKU", "Variant Grams", "Variant Inventory Tracker",
    "Variant Inventory Qty", "Variant Inventory Policy", "Variant Fulfillment Service", "Variant Price",
    "Variant Compare At Price", "Variant Requires Shipping", "Variant Taxable", "Variant Barcode",
    "Image Src", "Image Position", "Image Alt Text", "Gift Card", "SEO Title", "SEO Description",
    "Variant Image", "Variant Weight Unit", "Cost per item", "Status",
]  # fmt: skip

BODY = (
    "<p>Soft <strong>organic cotton</strong> tee &amp; everyday basic.</p>"
    "<ul><li>100% cotton</li><li>Machine wash</li></ul><p>Made in Portugal&nbsp;🇵🇹</p>"
)


def row(**cells: str) -> list[str]:
    names = {h.lower().replace(" ", "_").replace("(", "").replace(")", ""): h for h in HEADER}
    values = dict.fromkeys(HEADER, "")
    for key, value in cells.items():
        values[names[key]] = value
    return [values[h] for h in HEADER]


def export(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


# A realistic export: a tee in 2 colours x 2 sizes (4 rows, plus an image-only row) and a mug.
EXPORT_ROWS = [
    row(handle="organic-tee", title="Organic Tee", body_html=BODY, vendor="Acme",
        product_category="Apparel & Accessories > Clothing > Shirts & Tops", type="T-Shirts",
        tags="cotton, summer, basics", published="TRUE", option1_name="Color", option1_value="White",
        option2_name="Size", option2_value="M", variant_sku="TEE-W-M", variant_inventory_qty="5",
        variant_price="25.00", variant_compare_at_price="30.00", image_src="https://cdn/tee-1.jpg",
        image_position="1", status="active"),
    row(handle="organic-tee", option1_value="White", option2_value="L", variant_sku="TEE-W-L",
        variant_inventory_qty="0", variant_price="25.00", variant_compare_at_price="30.00",
        image_src="https://cdn/tee-2.jpg", image_position="2"),
    row(handle="organic-tee", option1_value="Black", option2_value="M", variant_sku="TEE-B-M",
        variant_inventory_qty="-2", variant_price="27.00", variant_image="https://cdn/tee-black.jpg"),
    row(handle="organic-tee", option1_value="Black", option2_value="L", variant_sku="",
        variant_inventory_qty="7", variant_price="27.00"),
    row(handle="stoneware-mug", title="Stoneware Mug", body_html="<div>Holds 350&nbsp;ml.<br>Dishwasher safe.</div>",
        vendor="Acme", product_category="Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs",
        tags="kitchen", published="TRUE", option1_name="Title", option1_value="Default Title",
        variant_sku="MUG-1", variant_inventory_qty="12", variant_price="18.50", image_src="https://cdn/mug.jpg",
        status="active"),
]  # fmt: skip


def products(result) -> dict[str, Product]:
    return {sp.product.sku: sp.product for sp in result.products}


def test_shopify_export_groups_variants_by_handle(tmp_path: Path) -> None:
    path = tmp_path / "products_export_1.csv"
    path.write_text(export(EXPORT_ROWS), encoding="utf-8")
    result = load_file(path)
    assert result.errors == []
    got = products(result)
    assert list(got) == ["organic-tee", "stoneware-mug"]
    tee = got["organic-tee"]
    assert (tee.title, tee.brand, tee.category, tee.currency) == ("Organic Tee", "Acme", "T-Shirts", "USD")
    assert tee.tags == ["cotton", "summer", "basics"]
    assert tee.images == ["https://cdn/tee-1.jpg", "https://cdn/tee-2.jpg", "https://cdn/tee-black.jpg"]
    assert [(v.sku, v.options, v.price, v.stock) for v in tee.variants] == [
        ("TEE-W-M", {"Color": "White", "Size": "M"}, Decimal("25.00"), 5),
        ("TEE-W-L", {"Color": "White", "Size": "L"}, Decimal("25.00"), 0),
        ("TEE-B-M", {"Color": "Black", "Size": "M"}, Decimal("27.00"), 0),
        ("organic-tee-Black-L", {"Color": "Black", "Size": "L"}, Decimal("27.00"), 7),
    ]
    assert (tee.price, tee.list_price) == (Decimal("25.00"), Decimal("30.00"))
    assert tee.description == (
        "Soft organic cotton tee & everyday basic.\n\n- 100% cotton\n- Machine wash\n\nMade in Portugal 🇵🇹"
    )
    assert tee.locale == "en"
    assert [sp.row for sp in result.products] == [2, 6]
    # negative (oversold) inventory reads as 0, with a warning on its row
    (warning,) = result.warnings
    assert (warning.row, warning.column) == (4, "Variant Inventory Qty")


def test_default_title_product_has_no_variants(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(export(EXPORT_ROWS), encoding="utf-8")
    mug = products(load_file(path))["stoneware-mug"]
    assert mug.variants == []
    assert (mug.price, mug.stock) == (Decimal("18.50"), 12)
    assert mug.description == "Holds 350 ml.\nDishwasher safe."
    assert mug.category == "Mugs"


def test_shopify_currency_can_be_set(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(export(EXPORT_ROWS), encoding="utf-8")
    result = load_file(path, shopify_currency="CAD")
    assert {sp.product.currency for sp in result.products} == {"CAD"}


def test_bad_shopify_rows_are_reported(tmp_path: Path) -> None:
    rows = [
        row(handle="a", title="", option1_name="Title", option1_value="Default Title", variant_price="5"),
        row(handle="b", title="B", option1_name="Size", option1_value="S", variant_sku="B-S",
            variant_price="abc"),
        row(handle="b", option1_value="M", variant_sku="B-S", variant_price="6"),
        row(handle="", title="Orphan"),
        row(handle="c", title="Draft thing", status="draft", variant_price="1"),
    ]  # fmt: skip
    path = tmp_path / "bad.csv"
    path.write_text(export(rows), encoding="utf-8")
    result = load_file(path)
    assert result.products == []
    assert [(p.row, p.column) for p in result.errors] == [
        (2, "Title"),
        (3, "Variant Price"),
        (4, "Variant SKU"),
        (5, "Handle"),
    ]
    assert "missing title" in result.errors[0].message
    assert "duplicate variant sku 'B-S'" in result.errors[2].message
    assert any(w.row == 6 and "skipped: Status draft" in w.message for w in result.warnings)


def test_unknown_columns_in_a_shopify_export_warn(tmp_path: Path) -> None:
    text = export(EXPORT_ROWS[4:]).replace("Status\r\n", "Status,Supplier note\r\n", 1)
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    result = load_file(path)
    assert [(w.row, w.column) for w in result.warnings] == [(1, "Supplier note")]
    assert len(result.products) == 1
