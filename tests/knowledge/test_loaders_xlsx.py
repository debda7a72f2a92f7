"""XLSX loader: real workbooks written with openpyxl; broken files become problems."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from knowledge.loaders import load_file
from knowledge.models import Product

pytestmark = pytest.mark.unit


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for values in rows:
            sheet.append(values)
    book.save(path)
    return path


def products(result) -> dict[str, Product]:
    return {sp.product.sku: sp.product for sp in result.products}


def test_typed_cells_are_read(tmp_path: Path) -> None:
    path = workbook(tmp_path / "商品.xlsx", {"Sheet1": [
        [None, None, None],
        ["商品编码", "商品名称", "价格", "库存", "上架日期"],
        [10001, "保温杯 500ml", 99.9, 12.0, dt.date(2024, 5, 1)],
        ["A-2", "台灯", "￥149.50", None, None],
    ]})  # fmt: skip
    result = load_file(path)
    assert result.errors == []
    got = products(result)
    cup = got["10001"]  # a numeric sku is text, without '.0'
    assert (cup.title, cup.price, cup.stock) == ("保温杯 500ml", Decimal("99.90"), 12)
    assert got["A-2"].price == Decimal("149.50")
    assert [sp.row for sp in result.products] == [3, 4]  # the sheet's own row numbers
    assert [(w.row, w.column) for w in result.warnings] == [(2, "上架日期")]


def test_bad_cells_report_the_sheet_row(tmp_path: Path) -> None:
    path = workbook(tmp_path / "p.xlsx", {"Sheet1": [
        ["sku", "title", "price", "stock"],
        ["A", "Apple", 1, 1],
        [],
        ["B", "Banana", -1, 2.5],
        ["A", "Again", 1, 1],
    ]})  # fmt: skip
    result = load_file(path)
    assert list(products(result)) == ["A"]
    assert [(e.row, e.column) for e in result.errors] == [(4, "price"), (4, "stock"), (5, "sku")]
    assert result.rejected_rows == 2


def test_a_sheet_named_products_is_preferred(tmp_path: Path) -> None:
    path = workbook(tmp_path / "book.xlsx", {
        "说明": [["填写说明：每行一个商品"]],
        "商品": [["sku", "title"], ["A", "Apple"]],
    })  # fmt: skip
    result = load_file(path)
    assert list(products(result)) == ["A"]
    assert "only sheet '商品' was read" in result.warnings[0].message


def test_grouped_variant_rows_in_a_workbook(tmp_path: Path) -> None:
    path = workbook(tmp_path / "v.xlsx", {"Sheet1": [
        ["款号", "标题", "颜色", "尺码", "规格编码", "售价", "库存"],
        ["D-1", "连衣裙", "红", "S", "D-1-RS", 199, 3],
        [None, None, "红", "M", "D-1-RM", 199, 0],
    ]})  # fmt: skip
    result = load_file(path)
    assert result.problems == []
    dress = products(result)["D-1"]
    assert [v.sku for v in dress.variants] == ["D-1-RS", "D-1-RM"]
    assert dress.total_stock() == 3


@pytest.mark.parametrize(
    "content",
    [b"this is not a workbook", b"PK\x03\x04broken zip", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600],
)
def test_broken_workbooks_are_problems(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(content)
    result = load_file(path)
    assert result.products == []
    (error,) = result.errors
    assert "not a readable .xlsx workbook" in error.message
    assert error.row is None


def test_zip_without_workbook_parts(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    result = load_file(path)
    assert [e.message.split(" (")[0] for e in result.errors] == ["not a readable .xlsx workbook"]


def test_empty_and_header_only_sheets(tmp_path: Path) -> None:
    empty = load_file(workbook(tmp_path / "e.xlsx", {"Sheet1": []}))
    assert [e.message for e in empty.errors] == ["sheet 'Sheet1' is empty"]
    header_only = load_file(workbook(tmp_path / "h.xlsx", {"Sheet1": [["sku", "title"]]}))
    assert [e.message for e in header_only.errors] == ["sheet 'Sheet1' has a header row but no data rows"]
