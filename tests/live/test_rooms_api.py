"""The live-room API on the real app: plans, auth, commands, HTTP chat ingest, the viewers' WebSocket
(snapshot, order, chat rules and close codes) and resuming rooms after a restart. Rooms speak with
espeak-ng, the answer pipeline and SQLite are real."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from api.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
SKUS = {"ZH-AP-001", "ZH-BE-002", "ZH-FD-003"}
PLAN: dict[str, Any] = {
    "room_id": "r1",
    "title": "测试直播间",
    "items": [
        {"link": 1, "sku": "ZH-AP-001", "segments": ["hook", "intro"]},
        {"link": 2, "sku": "ZH-BE-002", "segments": ["hook"]},
    ],
}


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A few products of the demo catalog (a small import keeps each test quick)."""
    lines = [
        line
        for line in (SAMPLES / "products.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["sku"] in SKUS
    ]
    path = tmp_path / "products.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def room_settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("ANCHOR_REDIS_URL", raising=False)
    return Settings(
        data_dir=data_dir,
        embedder="hash",
        room_tts_engine="espeak",
        room_chat_burst_ip=3,
        room_chat_rate_per_minute_ip=1,
        room_ws_chat_burst=2,
        room_ws_chat_per_minute=1,
    )


class Api:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        services = client.app.state.services  # type: ignore[attr-defined]
        self.owner = {"Authorization": f"Bearer {services.keys.create('merchant', 'demo').secret}"}
        self.agent = {"X-API-Key": services.keys.create("agent", "demo").secret}
        self.stranger = {"Authorization": f"Bearer {services.keys.create('merchant', 'other').secret}"}

    def start(self, plan: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post("/v1/merchants/demo/rooms", json=plan or PLAN, headers=self.owner)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def open_api(settings: Settings, catalog: Path) -> Iterator[Api]:
    with TestClient(create_app(settings)) as client:
        report = client.app.state.services.ingest([catalog], "demo")  # type: ignore[attr-defined]
        assert report.applied, report.errors
        yield Api(client)


@pytest.fixture
def api(room_settings: Settings, catalog: Path) -> Iterator[Api]:
    yield from open_api(room_settings, catalog)


def receive_until(ws: WebSocketTestSession, kind: str, limit: int = 20) -> list[dict[str, Any]]:
    """Messages up to and including the first of `kind`."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        message = ws.receive_json()
        seen.append(message)
        if message.get("kind") == kind:
            return seen
    raise AssertionError(f"no {kind!r} in {[m.get('kind') for m in seen]}")


def closed_with(ws: WebSocketTestSession, limit: int = 50) -> WebSocketDisconnect:
    """Read until the server closes the socket; the close (code and reason)."""
    for _ in range(limit):
        try:
            ws.receive_json()
        except WebSocketDisconnect as closed:
            return closed
    raise AssertionError("the server did not close the socket")


def test_a_room_starts_from_a_plan_and_is_listed_with_its_state(api: Api) -> None:
    body = api.start()
    assert body["room_id"] == "r1"
    assert body["merchant"] == "demo"
    assert body["local"] is True
    assert body["page"] == "/room/r1"
    listed = api.client.get("/v1/merchants/demo/rooms", headers=api.agent).json()["rooms"]
    assert [r["room_id"] for r in listed] == ["r1"]
    assert listed[0]["status"] in ("running", "paused")
    one = api.client.get("/v1/merchants/demo/rooms/r1", headers=api.agent)
    assert one.status_code == 200
    assert one.json()["title"] == "测试直播间"
    assert api.client.get("/v1/merchants/demo/rooms/nope", headers=api.agent).status_code == 404
    again = api.client.post("/v1/merchants/demo/rooms", json=PLAN, headers=api.owner)
    assert again.status_code == 409
    assert "already running" in again.json()["error"]["message"]


def test_plan_problems_are_reported_together_with_their_place(api: Api) -> None:
    bad = {
        "room_id": "r2",
        "items": [{"link": 1, "sku": "NOPE-1"}, {"link": 2, "sku": "ZH-AP-001", "segments": ["dance"]}],
    }
    response = api.client.post("/v1/merchants/demo/rooms", json=bad, headers=api.owner)
    assert response.status_code == 422
    assert "items.1.segments.0" in response.json()["error"]["message"]
    unknown = {"room_id": "r2", "items": [{"link": 1, "sku": "NOPE-1"}]}
    message = api.client.post("/v1/merchants/demo/rooms", json=unknown, headers=api.owner).json()["error"][
        "message"
    ]
    assert "'NOPE-1' is not in merchant 'demo'" in message
    other = {**PLAN, "merchant": "other"}
    response = api.client.post("/v1/merchants/demo/rooms", json=other, headers=api.owner)
    assert response.status_code == 422
    assert "path names merchant 'demo'" in response.json()["error"]["message"]
    response = api.client.post("/v1/merchants/demo/rooms", content=b"[1, 2]", headers=api.owner)
    assert response.status_code == 422
    assert api.client.get("/v1/merchants/demo/rooms", headers=api.agent).json()["rooms"] == []


def test_keys_decide_who_starts_and_commands_rooms(api: Api) -> None:
    assert api.client.post("/v1/merchants/demo/rooms", json=PLAN).status_code == 401
    assert api.client.post("/v1/merchants/demo/rooms", json=PLAN, headers=api.agent).status_code == 403
    assert api.client.post("/v1/merchants/demo/rooms", json=PLAN, headers=api.stranger).status_code == 403
    api.start()
    command = {"kind": "pause"}
    assert api.client.post("/v1/merchants/demo/rooms/r1/commands", json=command).status_code == 401
    stranger = api.client.post("/v1/merchants/demo/rooms/r1/commands", json=command, headers=api.stranger)
    assert stranger.status_code == 403
    assert api.client.get("/v1/merchants/demo/rooms", headers=api.stranger).status_code == 403


def test_commands_reach_the_director_and_bad_arguments_are_422(api: Api) -> None:
    api.start()
    url = "/v1/merchants/demo/rooms/r1/commands"
    skip = api.client.post(url, json={"kind": "skip_to", "argument": 9}, headers=api.agent)
    assert skip.status_code == 422
    assert "no link 9" in skip.json()["error"]["message"]
    blank = api.client.post(url, json={"kind": "say_now", "argument": "  "}, headers=api.agent)
    assert blank.status_code == 422
    unknown = api.client.post(url, json={"kind": "dance"}, headers=api.agent)
    assert unknown.status_code == 422
    with api.client.websocket_connect("/v1/rooms/r1/ws") as ws:
        receive_until(ws, "say")
        paused = api.client.post(url, json={"kind": "pause"}, headers=api.agent)
        assert paused.status_code == 202
        assert paused.json()["command"] == "pause"
        # Applied after the sentence in progress: the next state says paused.
        states = [m for m in receive_until(ws, "state", limit=10) if m["kind"] == "state"]
        assert states[-1]["status"] == "paused"
    missing = api.client.post(
        "/v1/merchants/demo/rooms/ghost/commands", json={"kind": "pause"}, headers=api.agent
    )
    assert missing.status_code == 404


def test_viewers_get_the_current_card_then_utterances_in_seq_order(api: Api) -> None:
    api.start()
    with api.client.websocket_connect("/v1/rooms/r1/ws") as ws:
        hello = ws.receive_json()
        assert hello["kind"] == "hello"
        assert hello["room_id"] == "r1"
        messages = receive_until(ws, "say")
        kinds = [m["kind"] for m in messages]
        assert "product" in kinds
        card = next(m for m in messages if m["kind"] == "product")
        assert card["link"] == 1
        assert card["sku"] == "ZH-AP-001"
        assert card["price"]
        say = messages[-1]
        audio = base64.b64decode(say["audio"]["data_b64"])
        # Rooms send MP3 by default: 24 kHz is MPEG-2 Layer III, whose frames start 0xFFF3.
        assert say["audio"]["format"] == "mp3"
        assert audio[:2] == b"\xff\xf3"
        assert say["audio"]["duration"] > 0
        seqs = [m["seq"] for m in messages]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
        # A second viewer joining now gets the same card first, without the old utterance.
        with api.client.websocket_connect("/v1/rooms/r1/ws") as late:
            late.receive_json()  # hello
            first = late.receive_json()
            assert first["kind"] in ("state", "product")
            assert first["seq"] < say["seq"] or first["kind"] == "state"


def test_viewer_chat_is_checked_limited_and_answered_per_connection(api: Api) -> None:
    api.start()
    with api.client.websocket_connect("/v1/rooms/r1/ws") as ws:
        ws.receive_json()  # hello

        def send(payload: Any) -> dict[str, Any]:
            ws.send_text(payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False))
            while True:
                message: dict[str, Any] = ws.receive_json()
                if message["kind"] == "chat_result":
                    return message

        ok = send({"type": "chat", "nickname": "viewer1", "text": "1号链接多少钱？", "user_id": "ignored"})
        assert ok["accepted"] is True, ok
        invalid = send({"type": "chat", "nickname": "x" * 33, "text": "hi"})
        assert invalid["code"] == "invalid"
        assert "32" in invalid["message"]
        limited = send({"type": "chat", "nickname": "viewer1", "text": "还有L码吗？"})
        assert limited["accepted"] is True
        refused = send({"type": "chat", "nickname": "viewer1", "text": "有优惠吗？"})
        assert refused["code"] == "rate_limited"
        assert int(refused["retry_after"]) >= 1
        assert send("not json")["code"] == "invalid"
        ws.send_text("{}")  # the third invalid message closes the socket
        assert closed_with(ws).code == 1008


@pytest.mark.parametrize(
    ("frame", "code"),
    [(b"\x00\x01", 1003), ("x" * 2000, 1009)],
    ids=["binary", "too-big"],
)
def test_abusive_frames_close_the_socket_with_a_reason(api: Api, frame: str | bytes, code: int) -> None:
    api.start()
    with api.client.websocket_connect("/v1/rooms/r1/ws") as ws:
        ws.receive_json()
        if isinstance(frame, bytes):
            ws.send_bytes(frame)
        else:
            ws.send_text(frame)
        closed = closed_with(ws)
        assert closed.code == code
        assert closed.reason


def test_a_room_that_does_not_exist_closes_with_4404(api: Api) -> None:
    with (
        api.client.websocket_connect("/v1/rooms/ghost/ws") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4404
    assert "ghost" in closed.value.reason


def test_http_chat_ingest_is_rate_limited_unless_a_staff_key_pushes_it(api: Api) -> None:
    api.start()
    url = "/v1/rooms/r1/chat"
    welcome = api.client.post(url, json={"type": "enter", "nickname": "小王", "user_id": "u1"})
    assert welcome.status_code == 202
    assert welcome.json()["outcome"] in ("ack", "ignored")
    asked = api.client.post(
        url, json={"type": "chat", "nickname": "小王", "text": "2号链接防晒霜多少钱", "t": 3.5}
    )
    assert asked.status_code == 202
    assert asked.json()["accepted"] is True
    too_long = api.client.post(url, json={"type": "chat", "nickname": "n" * 40, "text": "hi"})
    assert too_long.status_code == 422
    limited = api.client.post(url, json={"type": "chat", "nickname": "小王", "text": "还有货吗"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    trusted = api.client.post(
        url, json={"type": "chat", "nickname": "小李", "text": "还有货吗"}, headers=api.agent
    )
    assert trusted.status_code == 202
    ghost = api.client.post("/v1/rooms/ghost/chat", json={"nickname": "a", "text": "b"}, headers=api.agent)
    assert ghost.status_code == 404
    empty = api.client.post(url, json={"type": "chat", "nickname": "小李", "text": "   "}, headers=api.agent)
    assert empty.status_code == 422


def test_rooms_resume_where_they_were_after_a_restart(room_settings: Settings, catalog: Path) -> None:
    with TestClient(create_app(room_settings)) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        services.ingest([catalog], "demo")
        api = Api(client)
        api.start()
        with client.websocket_connect("/v1/rooms/r1/ws") as ws:
            said = [m for m in receive_until(ws, "say") if m["kind"] == "say"]
        first_position = said[0]["position"]
    # A new process on the same database: the room is running again, from its persisted position.
    with TestClient(create_app(room_settings)) as client:
        api = Api(client)
        room = client.get("/v1/merchants/demo/rooms/r1", headers=api.agent).json()
        assert room["local"] is True
        with client.websocket_connect("/v1/rooms/r1/ws") as ws:
            hello = ws.receive_json()
            assert hello["seq"] > said[0]["seq"]
            nxt = next(m for m in receive_until(ws, "say") if m["kind"] == "say")
        position = nxt["position"]
        key = ("loop", "item", "segment", "sentence")
        assert tuple(position[k] for k in key) >= tuple(first_position[k] for k in key)
        assert nxt["seq"] > said[0]["seq"]


def test_replay_posts_a_recording_with_its_timing_and_counts_outcomes(api: Api, tmp_path: Path) -> None:
    from api.cli.room import ReplayError, replay_chat

    api.start()
    recording = tmp_path / "chat.jsonl"
    lines = [
        {"t": 0.0, "type": "enter", "nickname": "小王", "user_id": "u1"},
        {"t": 0.05, "type": "chat", "nickname": "小王", "text": "1号链接多少钱", "user_id": "u1"},
        {"t": 0.1, "type": "chat", "nickname": "阿杰", "text": "666", "user_id": "u2", "extra": "ignored"},
    ]
    recording.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    key = api.agent["X-API-Key"]
    http = cast(httpx.Client, api.client)  # the app's TestClient is an httpx client
    stats = replay_chat("http://testserver", "r1", recording, key=key, client=http)
    assert stats.sent == 3
    assert sum(stats.outcomes.values()) == 3
    assert stats.outcomes["queued"] == 1
    with pytest.raises(ReplayError, match="not running"):
        replay_chat("http://testserver", "ghost", recording, key=key, client=http)
    recording.write_text('{"t": 0, "nickname": "a"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: not JSON"):
        replay_chat("http://testserver", "r1", recording, key=key, client=http)


def test_room_start_runs_a_plan_in_the_foreground(
    room_settings: Settings, catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from api.cli import app
    from api.services import Services

    monkeypatch.setenv("ANCHOR_DATA_DIR", str(room_settings.data_dir))
    monkeypatch.setenv("ANCHOR_EMBEDDER", "hash")
    services = Services(room_settings)
    services.ingest([catalog], "demo")
    services.close()
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({**PLAN, "merchant": "demo"}), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(
        app, ["room", "start", "--plan", str(plan), "--engine", "espeak", "--duration", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    kinds = [e["kind"] for e in events]
    assert kinds[:3] == ["state", "product", "say"]
    assert "data_b64" not in events[2]["audio"]
    assert "room r1 stopped" in result.output
    # Printed as text: viewer messages holding rich markup neither style the output nor break it.
    chat = tmp_path / "chat.jsonl"
    said = {"t": 0.2, "type": "chat", "nickname": "[/]坏[bold]", "user_id": "u9", "text": "1号链接多少钱[/]"}
    chat.write_text(json.dumps(said, ensure_ascii=False) + "\n", encoding="utf-8")
    chatty = tmp_path / "chatty.json"
    chatty.write_text(json.dumps({**PLAN, "room_id": "r2", "merchant": "demo"}), encoding="utf-8")
    args = ["room", "start", "--plan", str(chatty), "--engine", "espeak", "--replay", str(chat)]
    args += ["--duration", "6"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "[/]坏[bold]: 1号链接多少钱[/]" in result.output
    assert "1号链接现在的价格是" in result.output
    # The operator's view, read from the stored row by another command (another process could).
    result = runner.invoke(app, ["room", "status", "r2", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["status"] == "stopped"
    (answer,) = [a for a in status["recent"]["answers"] if "1号链接" in a["answer"]]
    assert answer["channel"] == "spoken"
    assert answer["askers"] == 1
    assert status["latency_s"]["spoken"]["n"] == 1
    assert 0 <= status["latency_s"]["spoken"]["p95"] < 6
    assert status["airtime"]["seconds"]["script"] > 0
    result = runner.invoke(app, ["room", "status"])
    assert result.exit_code == 0, result.output
    assert "r1" in result.output
    assert "r2" in result.output
    result = runner.invoke(app, ["room", "status", "nope"])
    assert result.exit_code == 1
    assert "no room 'nope'" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("room_id: r9\nmerchant: demo\nitems: []\n", encoding="utf-8")
    result = runner.invoke(app, ["room", "start", "--plan", str(bad)])
    assert result.exit_code == 2
    assert "items" in result.output
