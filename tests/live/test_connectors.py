"""Chat connectors: the replay connector's timing, looping and error reporting; the push connector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.live.connectors import (
    ChatConnector,
    ChatItem,
    ConnectorError,
    QueueConnector,
    ReplayConnector,
    parse_chat_record,
)
from agent.live.events import RoomEvent, ViewerMessage
from agent.live.triage import ChatTriage

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "demo" / "chat.jsonl"


class FakeTime:
    """A controlled clock and the matching sleep: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def collect(connector: ReplayConnector) -> list[ChatItem]:
    return [item async for item in connector.messages()]


async def test_replay_honours_timestamps_and_speed(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "chat.jsonl",
        [
            json.dumps({"t": 1.0, "type": "enter", "nickname": "小王", "user_id": "u1"}),
            json.dumps({"t": 3.0, "type": "chat", "nickname": "小王", "text": "1号多少钱", "user_id": "u1"}),
            json.dumps({"t": 3.0, "type": "like", "nickname": "小李", "count": 5}),
            json.dumps({"t": 7.0, "type": "gift", "nickname": "小李", "detail": "小心心"}),
        ],
    )
    time = FakeTime()
    replay = ReplayConnector(log, "room", speed=2.0, sleep=time.sleep, clock=time.clock)
    assert isinstance(replay, ChatConnector)
    items = await collect(replay)
    assert time.sleeps == [1.0, 2.0]  # (3-1)/2 and (7-3)/2; equal times do not wait
    assert [type(i).__name__ for i in items] == ["RoomEvent", "ViewerMessage", "RoomEvent", "RoomEvent"]
    chat = items[1]
    assert isinstance(chat, ViewerMessage)
    assert (chat.room_id, chat.text, chat.user_id, chat.ts) == ("room", "1号多少钱", "u1", 1.0)
    like, gift = items[2], items[3]
    assert isinstance(like, RoomEvent)
    assert like.count == 5
    assert isinstance(gift, RoomEvent)
    assert gift.detail == "小心心"
    assert gift.ts == 3.0
    assert replay.problems == []
    assert replay.played == 4


async def test_malformed_lines_are_reported_with_line_numbers_and_skipped(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "bad.jsonl",
        [
            json.dumps({"t": 0, "type": "chat", "nickname": "a", "text": "1号多少钱"}),
            "{not json",
            json.dumps({"t": 1, "type": "dance", "nickname": "b"}),
            json.dumps({"t": "soon", "type": "chat", "nickname": "c", "text": "hi"}),
            json.dumps({"t": 2, "type": "chat", "nickname": "d"}),
            "[1, 2]",
            "",
            json.dumps({"t": 3, "type": "gift", "nickname": "e", "count": -1}),
            json.dumps({"t": 4, "type": "chat", "nickname": "f", "text": "2号有XL吗"}),
        ],
    )
    time = FakeTime()
    replay = ReplayConnector(log, "room", sleep=time.sleep, clock=time.clock)
    items = await collect(replay)
    assert [i.text for i in items if isinstance(i, ViewerMessage)] == ["1号多少钱", "2号有XL吗"]
    assert [p.split(":")[0] for p in replay.problems] == [
        "bad.jsonl line 2",
        "bad.jsonl line 3",
        "bad.jsonl line 4",
        "bad.jsonl line 5",
        "bad.jsonl line 6",
        "bad.jsonl line 8",
    ]
    assert "unknown type 'dance'" in replay.problems[1]
    assert "missing field 'text'" in replay.problems[3]


async def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    replay = ReplayConnector(tmp_path / "nope.jsonl", "room")
    assert await collect(replay) == []
    assert replay.problems
    assert replay.problems[0].startswith("nope.jsonl: cannot open")


async def test_loop_replays_until_max_loops(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "chat.jsonl",
        [
            json.dumps({"t": 0, "type": "chat", "nickname": "a", "text": "1号多少钱"}),
            "oops",
            json.dumps({"t": 5, "type": "chat", "nickname": "b", "text": "2号多少钱"}),
        ],
    )
    time = FakeTime()
    replay = ReplayConnector(log, "room", loop=True, max_loops=3, sleep=time.sleep, clock=time.clock)
    items = await collect(replay)
    assert len(items) == 6
    assert len(replay.problems) == 1  # reported once, not on every pass
    assert time.sleeps == [5.0, 5.0, 5.0]


def test_speed_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplayConnector(tmp_path / "x.jsonl", "room", speed=0)


def test_parse_chat_record_checks_fields() -> None:
    message = parse_chat_record({"type": "chat", "nickname": "a", "text": "hi", "user_id": 42}, "r", ts=5.0)
    assert isinstance(message, ViewerMessage)
    assert message.user_id == "42"
    assert message.ts == 5.0
    with pytest.raises(ConnectorError, match="JSON object"):
        parse_chat_record("hello", "r")
    with pytest.raises(ConnectorError, match="'text' must be text"):
        parse_chat_record({"type": "chat", "text": {"x": 1}}, "r")


async def test_sample_log_plays_through_triage() -> None:
    time = FakeTime()
    replay = ReplayConnector(SAMPLE, "demo", speed=10.0, sleep=time.sleep, clock=time.clock)
    triage = ChatTriage("demo", clock=time.clock, link_map={n: f"SKU-{n}" for n in range(1, 7)})
    decisions = []
    acks = []
    async for item in replay.messages():
        if isinstance(item, ViewerMessage):
            decisions.append(triage.offer(item))
        else:
            line = triage.offer_event(item)
            if line is not None:
                acks.append(line.text)
    assert replay.problems == []
    assert 140 <= replay.played <= 170
    assert 250 / 10 < time.now <= 310 / 10  # about five minutes at 10x
    reasons = {d.reason for d in decisions}
    assert {"ad", "abuse", "not_question", "duplicate_merged"} <= reasons
    stats = triage.stats()
    assert stats["intent_to_buy"] >= 10
    assert stats["queue"] > 0
    assert stats["merged"] > 0
    assert all(k in stats["events"] for k in ("enter", "like", "follow", "gift", "share"))
    assert acks
    assert acks[0].startswith("欢迎")


async def test_queue_connector_drops_oldest_when_full() -> None:
    connector = QueueConnector("room", max_buffer=2)
    for text in ("a", "b", "c"):
        connector.push(ViewerMessage("room", "n", text))
    connector.close()
    connector.push(ViewerMessage("room", "n", "late"))
    items = [item async for item in connector.messages()]
    assert [i.text for i in items if isinstance(i, ViewerMessage)] == ["b", "c"]
    assert connector.dropped == 1
