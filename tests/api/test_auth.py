"""API keys: the store (real SQLite), hashing with the pepper, throttled last-use, and startup secret checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from api.app import create_app
from api.auth import (
    ApiKeyError,
    ApiKeyNotFoundError,
    InsecureSecretKeyError,
    KeyStore,
    Principal,
    api_keys,
    check_secret_key,
    hash_key,
    require_role,
    role_checker,
)
from api.services import Services
from api.settings import Settings

pytestmark = pytest.mark.integration


class Clock:
    """A controllable clock for `last_used_at` throttling."""

    def __init__(self) -> None:
        self.value = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


@pytest.fixture
def services(settings: Settings):
    services = Services(settings)
    yield services
    services.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(services: Services, clock: Clock) -> KeyStore:
    return KeyStore(services.engine, "pepper-one", now=clock)


def test_created_key_authenticates_and_only_its_digest_is_stored(store: KeyStore) -> None:
    created = store.create("merchant", "demo", "  Alice  ")
    assert created.secret.startswith("ak_")
    assert len(created.secret) > 40
    assert created.key.prefix == created.secret[:11]
    assert created.secret not in repr(created)
    assert created.key.name == "Alice"

    principal = store.authenticate(created.secret)
    assert principal == Principal(key_id=created.key.id, role="merchant", merchant="demo", name="Alice")

    with store.engine.connect() as conn:
        row = conn.execute(select(api_keys)).one()
    stored = " ".join(str(v) for v in row)
    assert created.secret not in stored
    assert row.key_hash == hash_key(created.secret, "pepper-one")
    assert row.key_hash != hash_key(created.secret, "pepper-two")


def test_unknown_revoked_and_other_pepper_keys_do_not_authenticate(
    store: KeyStore, services: Services
) -> None:
    created = store.create("agent", "demo", "Bob")
    assert store.authenticate(created.secret + "x") is None
    assert store.authenticate("not-a-key") is None
    assert store.authenticate("ak_" + "a" * 1000) is None
    # A deployment with another pepper cannot use this database's keys.
    assert KeyStore(services.engine, "pepper-two").authenticate(created.secret) is None

    revoked = store.revoke(created.key.prefix)
    assert revoked.revoked
    assert store.authenticate(created.secret) is None
    assert store.revoke(created.key.id).revoked_at == revoked.revoked_at  # revoking again changes nothing


def test_unnamed_key_acts_under_its_prefix(store: KeyStore) -> None:
    created = store.create("admin")
    principal = store.authenticate(created.secret)
    assert principal is not None
    assert principal.name == created.key.prefix
    assert principal.merchant is None
    assert principal.can_act_for("any-shop")


def test_invalid_key_requests_are_refused_with_clear_messages(store: KeyStore) -> None:
    with pytest.raises(ApiKeyError, match="role 'owner' is not valid"):
        store.create("owner", "demo")
    with pytest.raises(ApiKeyError, match="needs the merchant"):
        store.create("merchant")
    with pytest.raises(ApiKeyError, match="admin key acts for every merchant"):
        store.create("admin", "demo")
    with pytest.raises(ApiKeyError, match="not valid"):
        store.create("agent", "bad merchant!")
    with pytest.raises(ApiKeyError, match="at most 128"):
        store.create("agent", "demo", "x" * 200)
    with pytest.raises(ApiKeyNotFoundError, match="anchor keys list"):
        store.revoke("key_nope")
    assert store.list() == []


def test_list_filters_by_merchant_and_revocation(store: KeyStore, clock: Clock) -> None:
    a = store.create("merchant", "shop-a", "A")
    clock.advance(1)
    b = store.create("agent", "shop-b", "B")
    clock.advance(1)
    store.create("admin", None, "root")
    store.revoke(a.key.id)
    assert [k.name for k in store.list()] == ["A", "B", "root"]
    assert [k.id for k in store.list(merchant="shop-b")] == [b.key.id]
    assert [k.name for k in store.list(include_revoked=False)] == ["B", "root"]
    assert store.find(b.secret).id == b.key.id


def test_last_used_is_written_at_most_once_a_minute(store: KeyStore, clock: Clock) -> None:
    created = store.create("merchant", "demo")
    assert store.find(created.key.id).last_used_at is None
    first = clock.value
    store.authenticate(created.secret)
    assert store.find(created.key.id).last_used_at == first
    clock.advance(30)
    store.authenticate(created.secret)
    assert store.find(created.key.id).last_used_at == first
    clock.advance(31)
    store.authenticate(created.secret)
    assert store.find(created.key.id).last_used_at == clock.value


def test_role_checker_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError, match="roles must be"):
        role_checker()
    with pytest.raises(ValueError, match="roles must be"):
        role_checker("owner")  # type: ignore[arg-type]


def test_production_refuses_the_placeholder_secret(settings: Settings) -> None:
    check_secret_key(settings)  # development: the placeholder is fine
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(InsecureSecretKeyError, match="ANCHOR_SECRET_KEY is the placeholder"):
        check_secret_key(production)
    with pytest.raises(InsecureSecretKeyError, match="ANCHOR_SECRET_KEY"), TestClient(create_app(production)):
        pass
    short = production.model_copy(update={"secret_key": SecretStr("short")})
    with pytest.raises(InsecureSecretKeyError, match="too short"):
        check_secret_key(short)

    strong = production.model_copy(update={"secret_key": SecretStr("s" * 48)})
    with TestClient(create_app(strong, warm_up=False)) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        created = services.keys.create("admin")
        response = client.get("/v1/merchants/demo/products", headers={"X-API-Key": created.secret})
        assert response.status_code == 200


def test_require_role_guards_any_route(settings: Settings) -> None:
    """`require_role(...)` as a parameter annotation, on a route outside this project's routers."""
    app = FastAPI()

    @app.get("/v1/merchants/{merchant}/report")
    def report(merchant: str, principal: require_role("merchant", "admin")) -> dict[str, str]:  # type: ignore[valid-type]
        return {"merchant": merchant, "by": principal.name}

    @app.get("/whoami")
    def whoami(principal: require_role("agent")) -> dict[str, str | None]:  # type: ignore[valid-type]
        return {"merchant": principal.merchant}

    services = Services(settings)
    app.state.services = services
    try:
        merchant = services.keys.create("merchant", "shop1", "Mia").secret
        agent = services.keys.create("agent", "shop1", "Ali").secret
        with TestClient(app) as client:
            ok = client.get("/v1/merchants/shop1/report", headers={"Authorization": f"Bearer {merchant}"})
            assert ok.json() == {"merchant": "shop1", "by": "Mia"}
            assert (
                client.get("/v1/merchants/shop2/report", headers={"X-API-Key": merchant}).status_code == 403
            )
            assert client.get("/v1/merchants/shop1/report", headers={"X-API-Key": agent}).status_code == 403
            assert (
                client.get("/v1/merchants/shop1/report", headers={"Authorization": "Basic abc"}).status_code
                == 401
            )
            # Without a {merchant} in the path only the role is checked.
            assert client.get("/whoami", headers={"X-API-Key": agent}).json() == {"merchant": "shop1"}
            assert client.get("/whoami", headers={"X-API-Key": merchant}).status_code == 403
    finally:
        services.close()
