"""The catalog HTTP API on the real app: upload, list, get, delete, search, errors, keys and roles."""

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


def key_headers(client: TestClient, role: str, merchant: str | None = None, name: str = "") -> dict[str, str]:
    """A new key of `role`, made through the app's own key store, as request headers."""
    created = client.app.state.services.keys.create(role, merchant, name)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {created.secret}"}


@pytest.fixture
def shop1(client: TestClient) -> dict[str, str]:
    """A merchant key for shop1."""
    return key_headers(client, "merchant", "shop1", "shop1 owner")


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return key_headers(client, "admin", None, "root")


def upload(client: TestClient, merchant: str, name: str, body: bytes, headers: dict[str, str], **params: str):
    return client.post(
        f"/v1/merchants/{merchant}/catalog/import",
        files=[("files", (name, body, "application/octet-stream"))],
        params=params,
        headers=headers,
    )


def test_health_reports_database_and_index(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"
    assert body["products"] == 0
    assert body["index"] is False


def test_upload_list_get_search_delete(client: TestClient, shop1: dict[str, str]) -> None:
    response = upload(client, "shop1", "catalog.csv", CSV.encode("utf-8"), shop1)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["applied"] is True
    assert sorted(report["added"]) == ["A1", "A2"]

    page = client.get("/v1/merchants/shop1/products", headers=shop1).json()
    assert page["total"] == 2
    assert [p["sku"] for p in page["items"]] == ["A1", "A2"]

    product = client.get("/v1/merchants/shop1/products/A1", headers=shop1).json()
    assert product["title"] == "纯棉圆领T恤"
    assert product["price"] == "59.00"
    assert product["list_price"] == "99.00"
    assert product["selling_points"] == ["透气", "不易变形"]

    hits = client.get("/v1/merchants/shop1/search", params={"q": "降噪耳机", "k": 3}, headers=shop1).json()[
        "hits"
    ]
    assert hits[0]["sku"] == "A2"

    assert client.delete("/v1/merchants/shop1/products/A2", headers=shop1).status_code == 200
    assert client.get("/v1/merchants/shop1/products/A2", headers=shop1).status_code == 404
    hits = client.get("/v1/merchants/shop1/search", params={"q": "降噪耳机", "k": 3}, headers=shop1).json()[
        "hits"
    ]
    assert all(h["sku"] != "A2" for h in hits)


def test_invalid_upload_applies_nothing_and_names_row_and_column(
    client: TestClient, shop1: dict[str, str]
) -> None:
    bad = CSV + "A3,坏价格的商品,牌子,abc,,5,\n"
    response = upload(client, "shop1", "catalog.csv", bad.encode("utf-8"), shop1)
    assert response.status_code == 422
    report = response.json()
    assert report["applied"] is False
    assert any(e["row"] == 4 and e["column"] and "price" in str(e).lower() for e in report["errors"])
    assert client.get("/v1/merchants/shop1/products", headers=shop1).json()["total"] == 0

    response = upload(client, "shop1", "catalog.csv", bad.encode("utf-8"), shop1, skip_invalid="true")
    assert response.status_code == 200
    assert client.get("/v1/merchants/shop1/products", headers=shop1).json()["total"] == 2


def test_merchants_are_isolated(client: TestClient, shop1: dict[str, str], admin: dict[str, str]) -> None:
    assert upload(client, "shop1", "c.csv", CSV.encode(), shop1).status_code == 200
    assert client.get("/v1/merchants/shop2/products", headers=admin).json()["total"] == 0
    assert client.get("/v1/merchants/shop2/products/A1", headers=admin).status_code == 404
    assert client.get("/v1/merchants/shop2/search", params={"q": "耳机"}, headers=admin).status_code == 404


def test_bad_requests_get_clear_errors(client: TestClient, settings: Settings, shop1: dict[str, str]) -> None:
    response = upload(client, "shop1", "catalog.exe", b"MZ", shop1)
    assert response.status_code == 415
    assert "unsupported file type" in response.json()["error"]["message"]

    response = client.get("/v1/merchants/shop1/products/NOPE", headers=shop1)
    assert response.status_code == 404
    assert "NOPE" in response.json()["error"]["message"]

    response = client.get("/v1/merchants/bad id!/products", headers=shop1)
    assert response.status_code == 404

    response = client.get("/v1/merchants/shop1/search", headers=shop1)
    assert response.status_code == 422
    assert "q" in response.json()["error"]["message"]


def test_oversized_upload_is_refused(settings: Settings) -> None:
    small = settings.model_copy(update={"max_file_bytes": 1000})
    with TestClient(create_app(small)) as client:
        headers = key_headers(client, "merchant", "shop1")
        response = upload(client, "shop1", "big.csv", b"sku,title\n" + b"x" * 5000, headers)
        assert response.status_code == 413
        assert "1000" in response.json()["error"]["message"]


def test_openapi_documents_catalog_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/merchants/{merchant}/catalog/import" in paths
    assert "/v1/merchants/{merchant}/products/{sku}" in paths


def test_catalog_needs_a_valid_key(client: TestClient, shop1: dict[str, str], admin: dict[str, str]) -> None:
    assert upload(client, "shop1", "c.csv", CSV.encode(), shop1).status_code == 200
    for headers in ({}, {"Authorization": "Bearer ak_not-a-real-key"}, {"X-API-Key": "nonsense"}):
        response = client.get("/v1/merchants/shop1/products", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    response = upload(client, "shop1", "c.csv", CSV.encode(), {})
    assert response.status_code == 401

    # X-API-Key works as well as the bearer header.
    secret = shop1["Authorization"].removeprefix("Bearer ")
    assert client.get("/v1/merchants/shop1/products", headers={"X-API-Key": secret}).json()["total"] == 2

    # A revoked key stops working at once.
    services = client.app.state.services  # type: ignore[attr-defined]
    key_id = services.keys.authenticate(secret).key_id
    services.keys.revoke(key_id)
    response = client.get("/v1/merchants/shop1/products", headers=shop1)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    assert client.get("/v1/merchants/shop1/products", headers=admin).json()["total"] == 2


def test_keys_act_only_for_their_merchant_and_role(client: TestClient, shop1: dict[str, str]) -> None:
    assert upload(client, "shop1", "c.csv", CSV.encode(), shop1).status_code == 200
    shop2 = key_headers(client, "merchant", "shop2")
    for method, path in (
        ("GET", "/v1/merchants/shop1/products"),
        ("GET", "/v1/merchants/shop1/products/A1"),
        ("GET", "/v1/merchants/shop1/search?q=耳机"),
        ("DELETE", "/v1/merchants/shop1/products/A1"),
    ):
        response = client.request(method, path, headers=shop2)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"
        assert "shop2" in response.json()["error"]["message"]
    assert upload(client, "shop1", "c.csv", CSV.encode(), shop2).status_code == 403

    # An agent reads its merchant's catalog but cannot change it.
    agent = key_headers(client, "agent", "shop1", "Alice")
    assert client.get("/v1/merchants/shop1/products/A1", headers=agent).status_code == 200
    assert client.get("/v1/merchants/shop1/search", params={"q": "耳机"}, headers=agent).status_code == 200
    response = upload(client, "shop1", "c.csv", CSV.encode(), agent)
    assert response.status_code == 403
    assert "agent" in response.json()["error"]["message"]
    assert client.delete("/v1/merchants/shop1/products/A1", headers=agent).status_code == 403
    assert client.get("/v1/merchants/shop1/products", headers=shop1).json()["total"] == 2


def test_admin_acts_for_every_merchant(client: TestClient, admin: dict[str, str]) -> None:
    for merchant in ("shop1", "shop2"):
        assert upload(client, merchant, "c.csv", CSV.encode(), admin).status_code == 200
        assert client.get(f"/v1/merchants/{merchant}/products", headers=admin).json()["total"] == 2
        assert client.delete(f"/v1/merchants/{merchant}/products/A1", headers=admin).status_code == 200
        assert client.get(f"/v1/merchants/{merchant}/products", headers=admin).json()["total"] == 1


def test_openapi_documents_key_security(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schemes)
    operation = spec["paths"]["/v1/merchants/{merchant}/products"]["get"]
    assert "401" in operation["responses"]
    assert "403" in operation["responses"]
    assert operation["security"]
