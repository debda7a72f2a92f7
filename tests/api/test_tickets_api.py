"""The tickets HTTP API on the real app: hand-off by the real pipeline, then list, claim, reply, resolve."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import Services
from api.settings import Settings

pytestmark = pytest.mark.integration

REFUND = "我要退款，订单号 202405061234567 一直没收到货"
DAMAGED = "The parcel arrived damaged, I want a refund for order 123456789012"


@pytest.fixture
def client(settings: Settings):
    with TestClient(create_app(settings, warm_up=False)) as test_client:
        yield test_client


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def key(client: TestClient, role: str, merchant: str | None = None, name: str = "") -> dict[str, str]:
    created = services_of(client).keys.create(role, merchant, name)
    return {"Authorization": f"Bearer {created.secret}"}


def customer_says(client: TestClient, merchant: str, conversation_id: str, text: str) -> dict[str, object]:
    """A shopper's message through the real answer pipeline (after-sales messages open a ticket)."""
    result = asyncio.run(services_of(client).pipeline.answer(merchant, conversation_id, text))
    return result.to_dict()


def open_ticket(client: TestClient, merchant: str, conversation_id: str, text: str = REFUND) -> str:
    result = customer_says(client, merchant, conversation_id, text)
    assert result["escalated"] is True, result
    ticket_id = result["ticket_id"]
    assert isinstance(ticket_id, str)
    return ticket_id


def tickets_url(merchant: str, ticket_id: str = "", action: str = "") -> str:
    url = f"/v1/merchants/{merchant}/tickets"
    if ticket_id:
        url += f"/{ticket_id}"
    if action:
        url += f"/{action}"
    return url


def test_ticket_lifecycle_over_http(client: TestClient) -> None:
    ticket_id = open_ticket(client, "shop1", "conv-1")
    alice = key(client, "agent", "shop1", "Alice")
    bob = key(client, "agent", "shop1", "Bob")

    listed = client.get(tickets_url("shop1"), headers=alice).json()["tickets"]
    assert [t["id"] for t in listed] == [ticket_id]
    ticket = listed[0]
    assert ticket["state"] == "open"
    assert ticket["owner"] is None
    assert ticket["conversation_id"] == "conv-1"
    assert "202405061234567" in ticket["order_ids"]

    for params, expected in (
        ({"state": "open"}, [ticket_id]),
        ({"state": "resolved"}, []),
        ({"state": "claimed,open"}, [ticket_id]),
        ({"category": ticket["category"]}, [ticket_id]),
        ({"category": "invoice" if ticket["category"] != "invoice" else "payment"}, []),
        ({"offset": 1}, []),
    ):
        found = client.get(tickets_url("shop1"), params=params, headers=alice).json()["tickets"]
        assert [t["id"] for t in found] == expected, params

    detail = client.get(tickets_url("shop1", ticket_id), headers=alice).json()
    assert detail["id"] == ticket_id
    assert any(e["kind"] == "state_change" for e in detail["events"])
    assert [m["role"] for m in detail["messages"]][:1] == ["customer"]
    assert detail["messages"][0]["text"] == REFUND

    claimed = client.post(tickets_url("shop1", ticket_id, "claim"), headers=alice)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["state"] == "claimed"
    assert claimed.json()["owner"] == "Alice"

    refused = client.post(tickets_url("shop1", ticket_id, "claim"), headers=bob)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conflict"
    assert "claimed by Alice" in refused.json()["error"]["message"]

    reply_text = "您好，已为您登记退款，预计 1-3 个工作日到账。"
    replied = client.post(tickets_url("shop1", ticket_id, "reply"), json={"text": reply_text}, headers=alice)
    assert replied.status_code == 200, replied.text
    assert replied.json()["state"] == "waiting_customer"
    assert (
        client.post(tickets_url("shop1", ticket_id, "reply"), json={"text": "hi"}, headers=bob).status_code
        == 409
    )

    # The shopper sees the reply in the conversation; their answer goes to the ticket, not the bot.
    messages = services_of(client).conversations.recent("shop1", "conv-1")
    assert (messages[-1].role, messages[-1].text) == ("agent", reply_text)
    follow_up = customer_says(client, "shop1", "conv-1", "好的，谢谢")
    assert follow_up["silent"] is True
    assert follow_up["ticket_id"] == ticket_id
    detail = client.get(tickets_url("shop1", ticket_id), headers=alice).json()
    assert detail["state"] == "claimed"
    assert [(m["role"], m["text"]) for m in detail["messages"][-2:]] == [
        ("agent", reply_text),
        ("customer", "好的，谢谢"),
    ]
    assert any(e["kind"] == "agent_reply" and e["author"] == "Alice" for e in detail["events"])

    resolved = client.post(
        tickets_url("shop1", ticket_id, "resolve"), json={"note": "refund issued"}, headers=alice
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["resolved_at"] is not None
    conversation = services_of(client).conversations.get("shop1", "conv-1")
    assert conversation is not None
    assert conversation.state == "bot"
    events = client.get(tickets_url("shop1", ticket_id), headers=alice).json()["events"]
    assert any(e["kind"] == "note" and e["text"] == "refund issued" for e in events)

    for action, body in (("resolve", None), ("reply", {"text": "again"}), ("claim", None)):
        again = client.post(tickets_url("shop1", ticket_id, action), json=body, headers=alice)
        assert again.status_code == 409, action
        assert "resolved" in again.json()["error"]["message"]


def test_resolve_without_body_and_take_over_rules(client: TestClient) -> None:
    ticket_id = open_ticket(client, "shop1", "conv-2", DAMAGED)
    alice = key(client, "agent", "shop1", "Alice")
    bob = key(client, "agent", "shop1", "Bob")
    owner = key(client, "merchant", "shop1", "Shop owner")
    assert client.post(tickets_url("shop1", ticket_id, "claim"), headers=alice).status_code == 200

    response = client.post(
        tickets_url("shop1", ticket_id, "claim"), params={"take_over": "true"}, headers=bob
    )
    assert response.status_code == 403
    assert "take over" in response.json()["error"]["message"]

    response = client.post(
        tickets_url("shop1", ticket_id, "claim"), params={"take_over": "true"}, headers=owner
    )
    assert response.status_code == 200
    assert response.json()["owner"] == "Shop owner"

    assert client.post(tickets_url("shop1", ticket_id, "resolve"), headers=alice).status_code == 409
    response = client.post(tickets_url("shop1", ticket_id, "resolve"), headers=owner)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "resolved"


def test_merchants_cannot_see_each_others_tickets(client: TestClient) -> None:
    ticket_a = open_ticket(client, "shop-a", "conv-a")
    ticket_b = open_ticket(client, "shop-b", "conv-b")
    agent_b = key(client, "agent", "shop-b", "Bea")
    admin = key(client, "admin", None, "root")

    # Another merchant's ticket id is "not found", exactly like an id that does not exist.
    foreign = client.get(tickets_url("shop-b", ticket_a), headers=agent_b)
    missing = client.get(tickets_url("shop-b", "T-00000000"), headers=agent_b)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == "not_found"
    assert foreign.json()["error"]["message"].replace(ticket_a, "ID") == missing.json()["error"][
        "message"
    ].replace("T-00000000", "ID")
    for action, body in (("claim", None), ("reply", {"text": "hello"}), ("resolve", None)):
        assert (
            client.post(tickets_url("shop-b", ticket_a, action), json=body, headers=agent_b).status_code
            == 404
        )
    assert [t["id"] for t in client.get(tickets_url("shop-b"), headers=agent_b).json()["tickets"]] == [
        ticket_b
    ]

    # Asking under the other merchant's path is forbidden for the key.
    response = client.get(tickets_url("shop-a"), headers=agent_b)
    assert response.status_code == 403
    assert client.get(tickets_url("shop-a", ticket_a), headers=agent_b).status_code == 403

    # Admin sees both; shop-a's ticket is untouched.
    assert client.get(tickets_url("shop-a", ticket_a), headers=admin).json()["state"] == "open"
    assert client.get(tickets_url("shop-b", ticket_b), headers=admin).json()["state"] == "open"


def test_tickets_need_a_valid_key(client: TestClient) -> None:
    ticket_id = open_ticket(client, "shop1", "conv-3")
    assert client.get(tickets_url("shop1")).status_code == 401
    response = client.post(tickets_url("shop1", ticket_id, "claim"), headers={"X-API-Key": "ak_wrong"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"

    created = services_of(client).keys.create("agent", "shop1", "Carol")
    headers = {"X-API-Key": created.secret}
    assert client.get(tickets_url("shop1", ticket_id), headers=headers).status_code == 200
    services_of(client).keys.revoke(created.key.id)
    assert client.get(tickets_url("shop1", ticket_id), headers=headers).status_code == 401


def test_bad_ticket_requests_get_clear_errors(client: TestClient) -> None:
    ticket_id = open_ticket(client, "shop1", "conv-4")
    alice = key(client, "agent", "shop1", "Alice")

    response = client.get(tickets_url("shop1"), params={"state": "closed"}, headers=alice)
    assert response.status_code == 422
    assert "closed" in response.json()["error"]["message"]
    assert client.get(tickets_url("shop1"), params={"priority": "meh"}, headers=alice).status_code == 422
    assert client.get(tickets_url("shop1"), params={"limit": 0}, headers=alice).status_code == 422

    response = client.post(tickets_url("shop1", ticket_id, "reply"), json={"text": ""}, headers=alice)
    assert response.status_code == 422
    response = client.post(tickets_url("shop1", ticket_id, "reply"), json={"text": "   "}, headers=alice)
    assert response.status_code == 422
    assert "empty" in response.json()["error"]["message"]
    assert client.post(tickets_url("shop1", ticket_id, "reply"), json={}, headers=alice).status_code == 422

    response = client.get(tickets_url("shop1", "T-NOPE"), headers=alice)
    assert response.status_code == 404
    assert "T-NOPE" in response.json()["error"]["message"]
    # None of the refused requests changed the ticket.
    assert client.get(tickets_url("shop1", ticket_id), headers=alice).json()["state"] == "open"


def test_openapi_documents_ticket_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/merchants/{merchant}/tickets" in paths
    for action in ("claim", "reply", "resolve"):
        operation = paths[f"/v1/merchants/{{merchant}}/tickets/{{ticket_id}}/{action}"]["post"]
        assert {"401", "403", "404", "409"} <= set(operation["responses"])
