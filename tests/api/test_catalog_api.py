"""The catalog HTTP API on the real app: upload, list, get, delete, search, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"

CSV = (
    "商品编码,商品名称,品牌,价格,原价,库存,卖点\n"
    "A1,纯棉圆领T恤,棉朵,59,99,120,透气|不易变形\n"
    "A2,蓝牙降噪耳机,声浪,299,,8,主动降噪|续航30小时\n"
)


@pytest.fixture
def client(settings: Settings):
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def upload(client: TestClient, merchant: str, name: str, body: bytes, **params: str):
    return client.post(
        f"/v1/merchants/{merchant}/catalog/import",
        files=[("files", (name, body, "application/octet-stream"))],
        params=params,
    )


def test_health_reports_database_and_index(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"
    assert body["products"] == 0
    assert body["index"] is False


def test_upload_list_get_search_delete(client: TestClient) -> None:
    response = upload(client, "shop1", "catalog.csv", CSV.encode("utf-8"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["applied"] is True
    assert sorted(report["added"]) == ["A1", "A2"]

    page = client.get("/v1/merchants/shop1/products").json()
    assert page["total"] == 2
    assert [p["sku"] for p in page["items"]] == ["A1", "A2"]

    product = client.get("/v1/merchants/shop1/products/A1").json()
    assert product["title"] == "纯棉圆领T恤"
    assert product["price"] == "59.00"
    assert product["list_price"] == "99.00"
    assert product["selling_points"] == ["透气", "不易变形"]

    hits = client.get("/v1/merchants/shop1/search", params={"q": "降噪耳机", "k": 3}).json()["hits"]
    assert hits[0]["sku"] == "A2"

    assert client.delete("/v1/merchants/shop1/products/A2").status_code == 200
    assert client.get("/v1/merchants/shop1/products/A2").status_code == 404
    hits = client.get("/v1/merchants/shop1/search", params={"q": "降噪耳机", "k": 3}).json()["hits"]
    assert all(h["sku"] != "A2" for h in hits)


def test_invalid_upload_applies_nothing_and_names_row_and_column(client: TestClient) -> None:
    bad = CSV + "A3,坏价格的商品,牌子,abc,,5,\n"
    response = upload(client, "shop1", "catalog.csv", bad.encode("utf-8"))
    assert response.status_code == 422
    report = response.json()
    assert report["applied"] is False
    assert any(e["row"] == 4 and e["column"] and "price" in str(e).lower() for e in report["errors"])
    assert client.get("/v1/merchants/shop1/products").json()["total"] == 0

    response = upload(client, "shop1", "catalog.csv", bad.encode("utf-8"), skip_invalid="true")
    assert response.status_code == 200
    assert client.get("/v1/merchants/shop1/products").json()["total"] == 2


def test_merchants_are_isolated(client: TestClient) -> None:
    assert upload(client, "shop1", "c.csv", CSV.encode()).status_code == 200
    assert client.get("/v1/merchants/shop2/products").json()["total"] == 0
    assert client.get("/v1/merchants/shop2/products/A1").status_code == 404
    assert client.get("/v1/merchants/shop2/search", params={"q": "耳机"}).status_code == 404


def test_bad_requests_get_clear_errors(client: TestClient, settings: Settings) -> None:
    response = upload(client, "shop1", "catalog.exe", b"MZ")
    assert response.status_code == 415
    assert "unsupported file type" in response.json()["error"]["message"]

    response = client.get("/v1/merchants/shop1/products/NOPE")
    assert response.status_code == 404
    assert "NOPE" in response.json()["error"]["message"]

    response = client.get("/v1/merchants/bad id!/products")
    assert response.status_code == 404

    response = client.get("/v1/merchants/shop1/search")
    assert response.status_code == 422
    assert "q" in response.json()["error"]["message"]


def test_oversized_upload_is_refused(settings: Settings) -> None:
    small = settings.model_copy(update={"max_file_bytes": 1000})
    with TestClient(create_app(small)) as client:
        response = upload(client, "shop1", "big.csv", b"sku,title\n" + b"x" * 5000)
        assert response.status_code == 413
        assert "1000" in response.json()["error"]["message"]


def test_openapi_documents_catalog_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/merchants/{merchant}/catalog/import" in paths
    assert "/v1/merchants/{merchant}/products/{sku}" in paths
