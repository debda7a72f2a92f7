"""JSON and JSONL loaders: canonical names, clear type errors, documents alongside products."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from knowledge.loaders import load_file
from knowledge.models import DocSection, Document, ImportLimits, Product

pytestmark = pytest.mark.unit

GOOD = {
    "sku": "A-1",
    "title": "保温杯 500ml",
    "brand": "Thermo",
    "category": "水杯",
    "price": "99.00",
    "currency": "CNY",
    "list_price": 129,
    "stock": 10,
    "variants": [{"sku": "A-1-R", "options": {"颜色": "红"}, "price": 99, "stock": 4}],
    "attributes": {"容量": "500ml", "材质": "316不锈钢"},
    "selling_points": ["12小时保温", "一键开盖"],
    "description": "双层真空。",
    "tags": ["杯子", "保温"],
    "images": ["https://img/a1.jpg"],
    "url": "https://shop/a1",
    "locale": "zh",
}


def products(result) -> dict[str, Product]:
    return {sp.product.sku: sp.product for sp in result.products}


def test_a_full_product_round_trips_through_to_dict(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps([GOOD], ensure_ascii=False), encoding="utf-8")
    result = load_file(path)
    assert result.problems == []
    product = products(result)["A-1"]
    expected = dict(GOOD, price="99.00", list_price="129.00")
    expected["variants"] = [{"sku": "A-1-R", "options": {"颜色": "红"}, "price": "99.00", "stock": 4}]
    assert product.to_dict() == expected


def test_wrong_types_get_clear_messages(tmp_path: Path) -> None:
    items = [
        {"sku": "A", "title": "Apple"},
        {"sku": "B", "title": "Banana", "price": [1, 2]},
        {"sku": "C", "name": "Cherry", "stock": "3.5", "tags": {"a": 1}},
        "not an object",
        {"sku": "A", "title": "Again"},
        {"sku": ["x"], "title": 5},
    ]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    result = load_file(path)
    assert list(products(result)) == ["A"]
    got = [str(p) for p in result.errors]
    assert got == [
        "p.json row 2, column price: expected a number or numeric string, got list",
        "p.json row 3, column stock: stock '3.5' is not a whole number",
        "p.json row 3, column tags: tags: expected a list or text, got object",
        "p.json row 4: expected an object, got text",
        "p.json row 5, column sku: duplicate sku 'A' (first used in row 1)",
        "p.json row 6, column sku: sku: expected text, got list",
    ]
    assert result.rejected_rows == 5


def test_name_is_accepted_for_title_and_unknown_fields_warn_once(tmp_path: Path) -> None:
    items = [{"sku": f"S{i}", "name": f"Item {i}", "colour": "red"} for i in range(3)]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    result = load_file(path)
    assert [p.product.title for p in result.products] == ["Item 0", "Item 1", "Item 2"]
    (warning,) = result.warnings
    assert (warning.row, warning.column) == (1, "colour")
    assert "in 3 items" in warning.message


def test_object_with_products_and_documents(tmp_path: Path) -> None:
    document = Document("returns", "退货政策", "policy", "zh", [DocSection("7天无理由", "签收7天内可退。")])
    data = {"products": [{"sku": "A", "title": "Apple", "price": 1.5}], "documents": [document.to_dict()]}
    path = tmp_path / "all.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = load_file(path)
    assert result.problems == []
    assert products(result)["A"].price == Decimal("1.50")
    (loaded,) = result.documents
    assert loaded.to_dict()["sections"] == document.to_dict()["sections"]
    assert (loaded.doc_id, loaded.title, loaded.kind) == ("returns", "退货政策", "policy")


def test_bad_documents_are_reported(tmp_path: Path) -> None:
    data = {"documents": [{"title": "No id", "sections": []}, {"doc_id": "x", "sections": "text"}]}
    path = tmp_path / "docs.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = load_file(path)
    assert result.documents == []
    assert [(p.row, p.column) for p in result.errors] == [(1, "doc_id"), (2, "sections")]


def test_invalid_json_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"sku": "A",}]', encoding="utf-8")
    result = load_file(path)
    (error,) = result.errors
    assert error.message.startswith("not valid JSON")
    assert "line 1" in error.message


def test_jsonl_lines_are_rows_and_doc_id_lines_are_documents(tmp_path: Path) -> None:
    lines = [
        json.dumps({"sku": "A", "title": "Apple", "price": "¥5"}),
        "",
        json.dumps({"doc_id": "faq", "title": "FAQ", "kind": "faq",
                    "sections": [{"heading": "包邮吗？", "text": "满99包邮", "sku": "A"}]}),
        "{broken",
        json.dumps({"sku": "B", "title": "Banana", "price": "free"}),
    ]  # fmt: skip
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_file(path)
    assert list(products(result)) == ["A"]
    assert result.documents[0].sections == [DocSection("包邮吗？", "满99包邮", "A")]
    assert [(p.row, p.column) for p in result.errors] == [(4, None), (5, "price")]


def test_jsonl_row_limit(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps({"sku": str(i), "title": "t"}) for i in range(4)), encoding="utf-8")
    result = load_file(path, ImportLimits(max_rows=3))
    assert result.products == []
    assert "more than 3 lines" in result.errors[0].message


def test_variant_limits_and_duplicate_variant_skus(tmp_path: Path) -> None:
    items = [
        {"sku": "A", "title": "A", "variants": [{"sku": f"A-{i}"} for i in range(3)]},
        {"sku": "B", "title": "B", "variants": [{"sku": "B-1"}, {"sku": "C-1"}]},
        {"sku": "C", "title": "C", "variants": [{"sku": "C-1"}]},
        {"sku": "D", "title": "D", "variants": [{"options": {"size": "M"}}]},
    ]
    path = tmp_path / "v.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    result = load_file(path, ImportLimits(max_variants=2))
    assert list(products(result)) == ["B"]
    assert [(p.row, p.column) for p in result.errors] == [(1, "variants"), (3, "variants"), (4, "variants")]
    assert "first used in row 2" in result.errors[1].message
    assert "variant 1: missing sku" in result.errors[2].message
