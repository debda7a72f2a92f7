"""`GET /v1/me`: the pages sign in with the key alone, so the key says whose it is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import Services
from api.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, warm_up=False)) as test_client:
        yield test_client


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_merchant_key_names_its_merchant_and_the_merchants_name(client: TestClient) -> None:
    services = services_of(client)
    services.store.ensure_merchant("kettles", "Kettle House 壶屋")
    created = services.keys.create("merchant", "kettles", "owner")
    body = client.get("/v1/me", headers=bearer(created.secret)).json()
    assert body == {
        "key_id": created.key.id,
        "name": "owner",
        "role": "merchant",
        "admin": False,
        "merchant": {"id": "kettles", "name": "Kettle House 壶屋"},
        "merchants": [{"id": "kettles", "name": "Kettle House 壶屋"}],
    }


def test_an_agent_key_of_a_merchant_without_a_catalog_gets_the_id_as_name(client: TestClient) -> None:
    created = services_of(client).keys.create("agent", "new-shop")  # no catalog, not registered yet
    response = client.get("/v1/me", headers={"X-API-Key": created.secret})
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "agent"
    assert body["admin"] is False
    assert body["name"] == created.key.prefix  # an unnamed key is shown by its prefix, never its secret
    assert body["merchant"] == {"id": "new-shop", "name": "new-shop"}
    assert body["merchants"] == [{"id": "new-shop", "name": "new-shop"}]


def test_an_admin_key_is_admin_and_lists_the_merchants_it_may_choose(client: TestClient) -> None:
    services = services_of(client)
    services.store.ensure_merchant("shop-b", "B 店")
    services.store.ensure_merchant("shop-a")
    created = services.keys.create("admin", None, "root")
    body = client.get("/v1/me", headers=bearer(created.secret)).json()
    assert body["role"] == "admin"
    assert body["admin"] is True
    assert body["merchant"] is None
    # The default merchant exists from start-up; every merchant, by id.
    assert body["merchants"] == [
        {"id": "demo", "name": "demo"},
        {"id": "shop-a", "name": "shop-a"},
        {"id": "shop-b", "name": "B 店"},
    ]


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "missing API key"),
        ({"Authorization": "Bearer ak_not-a-real-key"}, "not valid"),
        ({"X-API-Key": "not even the scheme"}, "not valid"),
        ({"Authorization": "Bearer    "}, "missing API key"),
    ],
)
def test_no_key_or_an_unknown_key_is_a_401_with_a_clear_json_error(
    client: TestClient, headers: dict[str, str], says: str
) -> None:
    response = client.get("/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert says in error["message"]


def test_a_revoked_key_is_refused(client: TestClient) -> None:
    services = services_of(client)
    created = services.keys.create("merchant", "demo", "gone")
    assert client.get("/v1/me", headers=bearer(created.secret)).status_code == 200
    services.keys.revoke(created.key.id)
    response = client.get("/v1/me", headers=bearer(created.secret))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_the_old_routes_are_unchanged_and_me_is_documented(client: TestClient) -> None:
    created = services_of(client).keys.create("merchant", "demo")
    assert client.get("/v1/merchants/demo/products", headers=bearer(created.secret)).status_code == 200
    assert client.get("/v1/merchants/other/products", headers=bearer(created.secret)).status_code == 403
    operation = client.get("/openapi.json").json()["paths"]["/v1/me"]["get"]
    assert "401" in operation["responses"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/MeOut")
