"""Stock that means something: total stock and sold-out variants, from the model to the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from knowledge.models import Product, StockSummary, Variant

runner = CliRunner()


def product(*stocks: int | None, own: int | None = None) -> Product:
    return Product(
        sku="P",
        title="卫衣",
        stock=own,
        variants=[Variant(sku=f"P-{i}", options={"尺码": str(i)}, stock=s) for i, s in enumerate(stocks)],
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("item", "summary", "text"),
    [
        # Every variant known: the sum, and the ones at 0 are sold out.
        (product(5, 0, 7, 0), StockSummary(12, 4, 2, 0, False), "12 · 2 of 4 sold out"),
        # Mixed: unknown stock is not sold out, and the total is only what is known.
        (product(5, None, 0, 7), StockSummary(12, 4, 1, 1, True), "12 · 1 of 4 sold out · 1 unknown"),
        (product(0, 0), StockSummary(0, 2, 2, 0, False), "0 · 2 of 2 sold out"),
        # No variant states its stock: the product's own stock when it has one, else unknown.
        (product(None, None, own=30), StockSummary(30, 2, 0, 2, False), "30 · 2 variants of unknown stock"),
        (product(None, None), StockSummary(None, 2, 0, 2, False), "unknown · 2 variants of unknown stock"),
        # No variants: the product's own stock.
        (product(own=9), StockSummary(9, 0, 0, 0, False), "9"),
        (product(own=0), StockSummary(0, 0, 0, 0, False), "0 · sold out"),
        (product(), StockSummary(None, 0, 0, 0, False), "unknown"),
    ],
)
def test_the_summary_counts_known_stock_and_sold_out_variants(
    item: Product, summary: StockSummary, text: str
) -> None:
    assert item.stock_summary() == summary
    assert item.stock_summary().text() == text
    assert item.to_dict()["stock"] == item.stock  # the canonical form (and content hash) is unchanged
    assert "stock_summary" not in item.to_dict()


CATALOG = [
    {
        "sku": "HOODIE",
        "title": "加绒卫衣",
        "price": "159.00",
        "variants": [
            {"sku": "HOODIE-S", "options": {"尺码": "S"}, "price": "159.00", "stock": 12},
            {"sku": "HOODIE-M", "options": {"尺码": "M"}, "price": "159.00", "stock": 0},
            {"sku": "HOODIE-L", "options": {"尺码": "L"}, "price": "159.00"},
        ],
    },
    {"sku": "MUG", "title": "马克杯", "price": "39.00", "stock": 0},
    {"sku": "PEN", "title": "钢笔", "price": "19.00"},
]


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.jsonl"
    path.write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in CATALOG) + "\n", encoding="utf-8"
    )
    return path


@pytest.mark.integration
def test_the_products_api_adds_the_summary_and_keeps_the_old_fields(
    settings: Settings, catalog_file: Path
) -> None:
    with TestClient(create_app(settings, warm_up=False)) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        assert services.ingest([catalog_file], "demo").applied
        headers = {"X-API-Key": services.keys.create("agent", "demo").secret}
        items = {
            p["sku"]: p for p in client.get("/v1/merchants/demo/products", headers=headers).json()["items"]
        }
        hoodie = items["HOODIE"]
        assert hoodie["stock"] is None  # the product's own field, as before
        assert [v["stock"] for v in hoodie["variants"]] == [12, 0, None]
        assert hoodie["stock_summary"] == {
            "total": 12,
            "variants": 3,
            "sold_out": 1,
            "unknown": 1,
            "partial": True,
        }
        assert items["MUG"]["stock_summary"] == {
            "total": 0,
            "variants": 0,
            "sold_out": 0,
            "unknown": 0,
            "partial": False,
        }
        assert items["PEN"]["stock_summary"]["total"] is None
        one = client.get("/v1/merchants/demo/products/HOODIE", headers=headers).json()
        assert one["stock_summary"] == hoodie["stock_summary"]
        assert set(one) >= {"sku", "title", "price", "stock", "variants", "attributes", "url", "locale"}


@pytest.mark.integration
def test_products_list_shows_the_summary_as_text_and_json(settings: Settings, catalog_file: Path) -> None:
    assert runner.invoke(cli, ["ingest", str(catalog_file), "--json"]).exit_code == 0

    table = runner.invoke(cli, ["products", "list"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    lines = {line.split("│")[1].strip(): line for line in table.output.splitlines() if line.count("│") > 3}
    assert "12 · 1 of 3 sold out · 1 unknown" in lines["HOODIE"]
    assert "0 · sold out" in lines["MUG"]
    assert "unknown" in lines["PEN"]

    listed = json.loads(runner.invoke(cli, ["products", "list", "--json"]).output)
    by_sku = {p["sku"]: p for p in listed}
    assert by_sku["HOODIE"]["stock"] is None
    assert by_sku["HOODIE"]["stock_summary"] == {
        "total": 12,
        "variants": 3,
        "sold_out": 1,
        "unknown": 1,
        "partial": True,
    }
    assert by_sku["PEN"]["stock_summary"]["total"] is None

    shown = runner.invoke(cli, ["products", "show", "HOODIE"], env={"COLUMNS": "200"})
    assert "12 · 1 of 3 sold out · 1 unknown" in shown.output
    assert "unknown" in shown.output.split("variants", 1)[1]  # the variant with no stated stock
