"""What the bot understood, and people correcting it: the intents API, the CLI, and training with corrections."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.services import Services
from api.settings import Settings

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture
def client(settings: Settings):
    with TestClient(create_app(settings, warm_up=False)) as test_client:
        yield test_client


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def key(client: TestClient, role: str, merchant: str | None = "shop1", name: str = "Alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {services_of(client).keys.create(role, merchant, name).secret}"}


def say(client: TestClient, conversation: str, text: str) -> dict[str, object]:
    return asyncio.run(services_of(client).pipeline.answer("shop1", conversation, text)).to_dict()


def test_recent_messages_show_the_decision_and_a_correction_is_stored(client: TestClient) -> None:
    said = say(client, "c1", "你好")
    assert said["intent"] == "greeting"
    say(client, "c2", "I want to talk to a real person")
    staff = key(client, "agent")
    listed = client.get("/v1/merchants/shop1/intents/messages", headers=staff)
    assert listed.status_code == 200, listed.text
    messages = listed.json()["messages"]
    assert [m["text"] for m in messages] == ["I want to talk to a real person", "你好"]
    assert messages[0]["intent"] == "handoff_request"
    assert messages[0]["route"] == "after_sales"
    assert messages[1]["intent"] == "greeting"
    assert messages[1]["corrected"] is None

    stored = client.post(
        "/v1/merchants/shop1/intents/corrections",
        headers=staff,
        json={"text": "你好", "intent": "chitchat", "previous": "greeting", "conversation_id": "c1"},
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["author"] == "Alice"
    # The latest correction of a text wins; there is one row per text.
    again = client.post(
        "/v1/merchants/shop1/intents/corrections", headers=staff, json={"text": "你好", "intent": "greeting"}
    )
    assert again.status_code == 201
    corrections = client.get("/v1/merchants/shop1/intents/corrections", headers=staff).json()["corrections"]
    assert [(c["text"], c["intent"]) for c in corrections] == [("你好", "greeting")]
    messages = client.get("/v1/merchants/shop1/intents/messages", headers=staff).json()["messages"]
    assert messages[1]["corrected"] == "greeting"

    intents = client.get("/v1/merchants/shop1/intents", headers=staff).json()
    assert {i["intent"] for i in intents["intents"]} >= {"handoff_request", "bot_question", "presale_policy"}
    assert intents["model"].startswith("intents-")


def test_corrections_are_checked_and_per_merchant(client: TestClient) -> None:
    staff = key(client, "agent")
    url = "/v1/merchants/shop1/intents/corrections"
    unknown = client.post(url, headers=staff, json={"text": "退款", "intent": "refund"})
    assert unknown.status_code == 422
    assert client.post(url, headers=staff, json={"text": "", "intent": "other"}).status_code == 422
    assert client.post(url, json={"text": "退款", "intent": "other"}).status_code == 401
    other_shop = key(client, "agent", "shop2")
    assert client.post(url, headers=other_shop, json={"text": "x", "intent": "other"}).status_code == 403
    client.post(url, headers=staff, json={"text": "这是退款", "intent": "refund_return_exchange"})
    shop2 = client.get("/v1/merchants/shop2/intents/corrections", headers=other_shop).json()
    assert shop2["corrections"] == []


def test_cli_lists_corrections_and_trains_a_merchant_model(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    staff = key(client, "merchant")
    client.post(
        "/v1/merchants/shop1/intents/corrections",
        headers=staff,
        json={
            "text": "这个卫衣洗一次就起球了",
            "intent": "damaged_wrong_missing",
            "previous": "product_question",
        },
    )
    listed = runner.invoke(cli, ["router", "corrections", "--merchant", "shop1", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert rows[0]["intent"] == "damaged_wrong_missing"
    assert rows[0]["previous"] == "product_question"
    table = runner.invoke(cli, ["router", "corrections", "--merchant", "shop1"])
    assert "damaged_wrong_missing" in table.output

    # A small data directory keeps training fast here; the packaged data trains the same way.
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (data / "dev").mkdir()
    rows_by_intent = {
        "product_question": ["这个多少钱", "有XL吗", "how much is this", "is it waterproof"],
        "damaged_wrong_missing": [
            "收到的杯子碎了",
            "the box arrived broken",
            "少发了一件",
            "wrong colour sent",
        ],
        "greeting": ["你好", "hi", "在吗", "hello"],
    }
    lines = [
        json.dumps({"text": t, "intent": i}, ensure_ascii=False)
        for i, ts in rows_by_intent.items()
        for t in ts
    ]
    (data / "train" / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (data / "dev" / "b.jsonl").write_text("\n".join(lines[::2]) + "\n", encoding="utf-8")
    trained = runner.invoke(cli, ["router", "train", "--merchant", "shop1", "--data", str(data), "--json"])
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.output[trained.output.index("{") :])
    assert summary["corrections"] == 1
    model_path = Path(summary["out"])
    assert model_path == settings.data_dir / "models" / "intents-shop1.npz"
    assert model_path.is_file()
    # The merchant's messages now go through the merchant's model.
    services = services_of(client)
    assert services.router_for("shop1").model.meta["corrections"] == 1
    assert services.router_for("shop2") is services.router


def test_bad_training_data_is_refused_with_file_and_line(tmp_path: Path, settings: Settings) -> None:
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (data / "train" / "a.jsonl").write_text('{"text": "hi", "intent": "hello"}\n', encoding="utf-8")
    result = runner.invoke(cli, ["router", "train", "--data", str(data), "--out", str(tmp_path / "m.npz")])
    assert result.exit_code == 2
    assert "a.jsonl line 1" in result.output
    assert "not one of" in result.output
    assert not (tmp_path / "m.npz").exists()


def test_explain_shows_the_decision_and_its_evidence(settings: Settings) -> None:
    result = runner.invoke(cli, ["router", "explain", "我要找人工客服", "--json"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["intent"] == "handoff_request"
    assert "rule:asks_for_person" in decision["signals"]
    assert len(decision["top"]) == 3


def test_a_missing_model_stops_start_up_with_how_to_rebuild(settings: Settings, tmp_path: Path) -> None:
    broken = settings.model_copy(update={"intent_model": tmp_path / "nope.npz"})
    with pytest.raises(Exception, match="anchor router train"), TestClient(create_app(broken, warm_up=False)):
        pass
