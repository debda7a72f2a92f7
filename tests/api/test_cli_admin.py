"""`anchor keys` and `anchor tickets` through Typer's runner, on the real database of the isolated data dir."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.services import Services
from api.settings import Settings

pytestmark = pytest.mark.integration

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_keys_create_list_revoke(settings: Settings) -> None:
    code, out, _ = run(
        "keys", "create", "--role", "merchant", "--merchant", "demo", "--name", "Alice", "--json"
    )
    assert code == 0, out
    created = json.loads(out)
    secret = created["key"]
    assert secret.startswith("ak_")
    assert created["role"] == "merchant"
    assert created["merchant"] == "demo"
    assert created["name"] == "Alice"

    code, out, err = run("keys", "create", "--role", "admin", "--name", "root")
    assert code == 0, err
    admin_secret = out.strip().splitlines()[-1]
    assert admin_secret.startswith("ak_")
    assert "only time" in err

    code, out, _ = run("keys", "list", "--json")
    listed = json.loads(out)
    assert [(k["name"], k["role"], k["merchant"]) for k in listed] == [
        ("Alice", "merchant", "demo"),
        ("root", "admin", None),
    ]
    assert secret not in out
    assert admin_secret not in out
    code, out, _ = run("keys", "list")
    assert code == 0
    assert "Alice" in out
    assert created["prefix"] in out
    assert secret not in out

    services = Services(settings)
    try:
        principal = services.keys.authenticate(secret)
        assert principal is not None
        assert principal.name == "Alice"

        code, out, _ = run("keys", "revoke", created["prefix"], "--json")
        assert code == 0, out
        assert json.loads(out)["revoked_at"] is not None
        assert services.keys.authenticate(secret) is None
        assert services.keys.authenticate(admin_secret) is not None
    finally:
        services.close()

    code, out, _ = run("keys", "list", "--active", "--json")
    assert [k["name"] for k in json.loads(out)] == ["root"]


def test_key_commands_report_bad_input(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("keys", "create", "--role", "owner", "--merchant", "demo")
    assert code == 2
    assert "role 'owner' is not valid" in err
    code, _, err = run("keys", "create", "--role", "agent")
    assert code == 2
    assert "--merchant" in err
    code, _, err = run("keys", "revoke", "key_nope")
    assert code == 1
    assert "no API key" in err

    monkeypatch.setenv("ANCHOR_ENVIRONMENT", "production")
    code, _, err = run("keys", "create", "--role", "admin")
    assert code == 2
    assert "ANCHOR_SECRET_KEY" in err
    monkeypatch.setenv("ANCHOR_SECRET_KEY", "k" * 40)
    code, out, _ = run("keys", "create", "--role", "admin", "--json")
    assert code == 0
    assert json.loads(out)["role"] == "admin"


def open_ticket(settings: Settings, merchant: str, conversation_id: str) -> str:
    services = Services(settings)
    try:
        result = asyncio.run(
            services.pipeline.answer(
                merchant, conversation_id, "快递一直没收到，我要退款，订单号 987654321098765"
            )
        )
    finally:
        services.close()
    assert result.ticket_id is not None
    return result.ticket_id


def test_ticket_commands_work_the_lifecycle(settings: Settings) -> None:
    ticket_id = open_ticket(settings, "shop1", "conv-cli")

    code, out, _ = run("tickets", "list", "--merchant", "shop1", "--json")
    assert code == 0
    assert [t["id"] for t in json.loads(out)] == [ticket_id]
    code, out, _ = run("tickets", "list", "--merchant", "shop1", "--state", "resolved", "--json")
    assert json.loads(out) == []
    code, out, _ = run("tickets", "list", "--merchant", "shop1")
    assert ticket_id in out
    code, out, _ = run("tickets", "list", "--json")  # the default merchant has none
    assert json.loads(out) == []

    code, out, _ = run("tickets", "show", ticket_id, "--json")
    shown = json.loads(out)
    assert shown["merchant"] == "shop1"
    assert shown["state"] == "open"
    assert shown["messages"][0]["role"] == "customer"
    assert "987654321098765" in shown["order_ids"]

    code, out, err = run("tickets", "reply", ticket_id, "已为您催促快递", "--agent", "Op", "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == "waiting_customer"
    code, out, _ = run("tickets", "show", ticket_id)
    assert "已为您催促快递" in out
    assert "agent_reply" in out

    code, _, err = run("tickets", "resolve", ticket_id, "--agent", "Someone-else")
    assert code == 1
    assert "claimed by Op" in err

    code, out, err = run("tickets", "resolve", ticket_id, "--agent", "Op", "--note", "delivered")
    assert code == 0, err
    assert "resolved" in out
    code, out, _ = run("tickets", "show", ticket_id, "--json")
    shown = json.loads(out)
    assert shown["state"] == "resolved"
    assert any(e["kind"] == "note" and e["text"] == "delivered" for e in shown["events"])

    code, _, err = run("tickets", "resolve", ticket_id, "--agent", "Op")
    assert code == 1
    assert "already resolved" in err


def test_ticket_commands_report_unknown_ids_and_bad_options(settings: Settings) -> None:
    ticket_id = open_ticket(settings, "shop1", "conv-x")
    code, _, err = run("tickets", "show", "T-NOPE")
    assert code == 1
    assert "T-NOPE" in err
    assert "not found" in err
    # Under another merchant the ticket does not exist.
    code, _, err = run("tickets", "show", ticket_id, "--merchant", "shop2")
    assert code == 1
    assert "not found" in err
    code, _, err = run("tickets", "list", "--merchant", "shop1", "--state", "closed")
    assert code == 2
    assert "closed" in err
    code, _, err = run("tickets", "reply", ticket_id, "   ", "--agent", "Op")
    assert code == 2
    assert "empty" in err
