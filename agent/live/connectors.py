"""Chat sources for a live room: the connector interface, a replay connector and a push connector.

A connector turns one platform's chat feed into `ViewerMessage`s and `RoomEvent`s; the room consumes
`async for item in connector.messages()`. docs/connectors.md explains how a Bilibili, Douyin or TikTok
connector plugs in. Two ship here:

- `ReplayConnector` plays a recorded chat log (JSONL, one record a line) with its timing, for demos,
  tests and load runs. A malformed line is reported with its line number and skipped; it never stops
  the room.
- `QueueConnector` is fed by our own ingest (HTTP, WebSocket) and drains into the room.

Record format (also what `parse_chat_record` accepts)::

    {"t": 12.5, "type": "chat", "nickname": "小王", "text": "3号链接多少钱", "user_id": "u1"}
    {"t": 13.0, "type": "gift", "nickname": "小李", "detail": "小心心", "count": 2}

`t` is seconds from the start of the recording; `type` is chat, enter, like, follow, gift or share; a chat
record may say ``"paid": true`` (a super chat).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agent.live.events import RoomEvent, RoomEventKind, ViewerMessage

__all__ = [
    "EVENT_TYPES",
    "ChatConnector",
    "ChatItem",
    "ConnectorError",
    "QueueConnector",
    "ReplayConnector",
    "parse_chat_record",
]

log = logging.getLogger(__name__)

ChatItem = ViewerMessage | RoomEvent
EVENT_TYPES: frozenset[str] = frozenset({"enter", "like", "follow", "gift", "share"})
_MAX_FIELD_CHARS = 2000


class ConnectorError(ValueError):
    """A chat record that cannot be used; the message names the field."""


@runtime_checkable
class ChatConnector(Protocol):
    """A source of one room's chat and room events."""

    def messages(self) -> AsyncIterator[ChatItem]:
        """Yield messages and events as they arrive; return when the source ends."""
        ...


def _text_field(record: Mapping[str, Any], name: str, *, required: bool) -> str:
    value = record.get(name)
    if value is None:
        if required:
            raise ConnectorError(f"missing field {name!r}")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConnectorError(f"field {name!r} must be text, got {type(value).__name__}")
    return str(value)[:_MAX_FIELD_CHARS]


def parse_chat_record(record: Any, room_id: str, *, ts: float | None = None) -> ChatItem:
    """Turn one record (a decoded JSON object) into a `ViewerMessage` or `RoomEvent`.

    Raises:
        ConnectorError: The record is not an object, has an unknown type or a missing/odd field.
    """
    if not isinstance(record, Mapping):
        raise ConnectorError(f"expected a JSON object, got {type(record).__name__}")
    kind = record.get("type", "chat")
    if not isinstance(kind, str):
        raise ConnectorError("field 'type' must be text")
    nickname = _text_field(record, "nickname", required=False)
    user_id = _text_field(record, "user_id", required=False) or None
    stamp = time.time() if ts is None else ts
    if kind == "chat":
        message_id = _text_field(record, "message_id", required=False) or None
        paid = record.get("paid", False)
        if not isinstance(paid, bool):
            raise ConnectorError(f"field 'paid' must be true or false, got {paid!r}")
        return ViewerMessage(
            room_id=room_id,
            nickname=nickname,
            text=_text_field(record, "text", required=True),
            user_id=user_id,
            ts=stamp,
            message_id=message_id,
            paid=paid,
        )
    if kind not in EVENT_TYPES:
        raise ConnectorError(f"unknown type {kind!r} (expected chat, {', '.join(sorted(EVENT_TYPES))})")
    count = record.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConnectorError(f"field 'count' must be a positive whole number, got {count!r}")
    event_kind: RoomEventKind = kind  # type: ignore[assignment]  # checked against EVENT_TYPES above
    return RoomEvent(
        room_id=room_id,
        kind=event_kind,
        nickname=nickname,
        user_id=user_id,
        detail=_text_field(record, "detail", required=False),
        count=count,
        ts=stamp,
    )


class ReplayConnector:
    """Plays a recorded chat log (JSONL) with its original timing.

    Args:
        path: The JSONL file.
        room_id: The room the messages are for.
        speed: Playback speed: 2.0 plays twice as fast; must be positive (`math.inf` = no waiting).
        loop: Start again from the top when the log ends (a 24/7 demo room).
        sleep: The coroutine used to wait (injectable so tests run instantly).
        clock: Wall-clock seconds for the items' `ts`.
        max_loops: Stop after this many passes even when looping (None: forever).

    Malformed lines are logged, collected in `problems` ("chat.jsonl line 7: …") and skipped.
    """

    def __init__(
        self,
        path: str | Path,
        room_id: str,
        *,
        speed: float = 1.0,
        loop: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        max_loops: int | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.path = Path(path)
        self.room_id = room_id
        self.speed = speed
        self.loop = loop
        self.max_loops = max_loops
        self._sleep = sleep
        self._clock = clock
        self.problems: list[str] = []
        self.played = 0

    def _problem(self, line_no: int, what: str) -> None:
        where = f"{self.path.name} line {line_no}" if line_no else self.path.name
        message = f"{where}: {what}"
        if len(self.problems) < 1000:
            self.problems.append(message)
        log.warning("replay: %s", message)

    async def messages(self) -> AsyncIterator[ChatItem]:
        """Yield the log's messages and events, waiting between them as recorded (÷ speed)."""
        passes = 0
        while True:
            any_item = False
            async for item in self._one_pass(report=passes == 0):
                any_item = True
                yield item
            passes += 1
            if not self.loop or not any_item or (self.max_loops is not None and passes >= self.max_loops):
                return

    async def _one_pass(self, *, report: bool) -> AsyncIterator[ChatItem]:
        previous_t: float | None = None
        try:
            handle = self.path.open(encoding="utf-8", errors="replace")
        except OSError as exc:
            if report:
                self._problem(0, f"cannot open: {exc.strerror or exc}")
            return
        with handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    item = parse_chat_record(record, self.room_id, ts=0.0)
                    t = record.get("t", previous_t or 0.0)
                    if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
                        raise ConnectorError(f"field 't' must be a number of seconds, got {t!r}")
                except json.JSONDecodeError as exc:
                    if report:
                        self._problem(line_no, f"not JSON ({exc.msg})")
                    continue
                except ConnectorError as exc:
                    if report:
                        self._problem(line_no, str(exc))
                    continue
                if previous_t is not None and t > previous_t and math.isfinite(self.speed):
                    await self._sleep((t - previous_t) / self.speed)
                previous_t = t if previous_t is None else max(previous_t, float(t))
                self.played += 1
                yield _restamp(item, self._clock())


def _restamp(item: ChatItem, ts: float) -> ChatItem:
    return dataclasses.replace(item, ts=ts)


class QueueConnector:
    """A connector fed by our own ingest (the chat endpoint, the viewers' WebSocket).

    `push` never blocks: when `max_buffer` items wait, the oldest goes (`dropped` counts them), since a
    room that falls behind should lose old chat, not stall the ingest. `close()` ends `messages()`
    after the items already pushed.
    """

    def __init__(self, room_id: str, *, max_buffer: int = 1000) -> None:
        if max_buffer < 1:
            raise ValueError(f"max_buffer must be at least 1, got {max_buffer}")
        self.room_id = room_id
        self.max_buffer = max_buffer
        self._queue: asyncio.Queue[ChatItem | None] = asyncio.Queue()
        self.dropped = 0
        self._closed = False

    def push(self, item: ChatItem) -> None:
        """Add one message or event (ignored once closed)."""
        if self._closed:
            return
        while self._queue.qsize() >= self.max_buffer:
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(item)

    def close(self) -> None:
        """End the stream after the items already pushed."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)

    async def messages(self) -> AsyncIterator[ChatItem]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item
