"""The knowledge-gaps endpoint on the real app: questions refused by the real pipeline, then grouped."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import Services
from api.settings import Settings

pytestmark = pytest.mark.integration

EARBUDS = {
    "sku": "EB-1",
    "title": "声悦 X3 真无线降噪耳机",
    "brand": "声悦",
    "price": "299.00",
    "stock": 40,
    "attributes": {"续航": "单次8小时，配合充电盒30小时"},
}


@pytest.fixture
def client(settings: Settings, tmp_path: Path):
    catalog = tmp_path / "products.jsonl"
    catalog.write_text(json.dumps(EARBUDS, ensure_ascii=False) + "\n", encoding="utf-8")
    with TestClient(create_app(settings, warm_up=False)) as test_client:
        services_of(test_client).ingest([catalog], "shop1")
        yield test_client


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def key(client: TestClient, role: str, merchant: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {services_of(client).keys.create(role, merchant).secret}"}


def ask(client: TestClient, merchant: str, conversation_id: str, text: str) -> bool:
    """A shopper's question through the real pipeline; True when it was refused."""
    result = asyncio.run(services_of(client).pipeline.answer(merchant, conversation_id, text))
    return result.refused


def gaps_url(merchant: str) -> str:
    return f"/v1/merchants/{merchant}/insights/gaps"


def test_gaps_groups_the_refused_questions_most_frequent_first(client: TestClient) -> None:
    assert ask(client, "shop1", "c1", "有卖猫粮吗") is True
    assert ask(client, "shop1", "c2", "你们卖猫粮吗") is True
    assert ask(client, "shop1", "c3", "有卖猫粮吗？") is True
    assert ask(client, "shop1", "c4", "Do you sell dog food?") is True
    assert ask(client, "shop1", "c5", "声悦X3耳机多少钱") is False  # answered: not a gap

    response = client.get(gaps_url("shop1"), headers=key(client, "merchant", "shop1"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["merchant"] == "shop1"
    assert body["since_days"] == 30
    clusters = body["clusters"]
    assert [c["count"] for c in clusters] == [3, 1]
    top = clusters[0]
    assert top["representative"] == "有卖猫粮吗"
    assert set(top["examples"]) == {"有卖猫粮吗", "你们卖猫粮吗"}
    assert top["reasons"] == {"refused": 3}
    assert top["conversations"] == 3
    assert top["last_asked"] is not None
    assert clusters[1]["examples"] == ["Do you sell dog food?"]
    asked = {e for c in clusters for e in c["examples"]}
    assert "声悦X3耳机多少钱" not in asked

    limited = client.get(gaps_url("shop1"), params={"limit": 1}, headers=key(client, "admin"))
    assert limited.status_code == 200
    assert [c["representative"] for c in limited.json()["clusters"]] == ["有卖猫粮吗"]
    other = client.get(gaps_url("shop2"), headers=key(client, "merchant", "shop2"))
    assert other.status_code == 200
    assert other.json()["clusters"] == []


def test_gaps_needs_an_owner_key_for_the_merchant(client: TestClient) -> None:
    url = gaps_url("shop1")
    missing = client.get(url)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert client.get(url, headers={"Authorization": "Bearer ak_not-a-key"}).status_code == 401
    assert client.get(url, headers=key(client, "merchant", "shop2")).status_code == 403
    assert client.get(url, headers=key(client, "agent", "shop1")).status_code == 403
    owner = key(client, "merchant", "shop1")
    assert client.get(url, headers=owner).status_code == 200
    assert client.get(url, params={"since_days": 0}, headers=owner).status_code == 422
    assert client.get(url, params={"limit": 0}, headers=owner).status_code == 422
