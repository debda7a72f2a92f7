"""A platform connection that keeps failing: every event once, in order, and the show never stops."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from agent.live.events import ViewerMessage
from agent.live.resilient import ConnectorStatus, Malformed, PlatformItem, ResilientConnector

pytestmark = pytest.mark.unit

ROOM = "r"


class FlakyPlatform:
    """Serves events 0..total-1; each session drops after a random number of events, and a new session
    replays the last few events before the cut (as platforms do after a reconnect), with malformed frames
    and heartbeats mixed in."""

    def __init__(self, total: int, disconnects: int, seed: int = 7) -> None:
        self.total = total
        self.rng = random.Random(seed)
        self.cuts = sorted(self.rng.sample(range(1, total), disconnects))
        self.delivered = 0  # how far the platform got
        self.sessions = 0
        self.refused = 0

    async def open(self) -> AsyncIterator[PlatformItem | Malformed]:
        self.sessions += 1
        if self.rng.random() < 0.1:
            self.refused += 1
            raise ConnectionError("handshake refused (HTTP 412)")
        return self._session()

    async def _session(self) -> AsyncIterator[PlatformItem | Malformed]:
        start = max(0, self.delivered - self.rng.randrange(0, 5))  # replayed after the reconnect
        cut = next((c for c in self.cuts if c > self.delivered), self.total)
        for n in range(start, cut):
            if self.rng.random() < 0.05:
                yield Malformed("truncated packet")
            if self.rng.random() < 0.1:
                yield PlatformItem(None, heartbeat=True, viewers=1000 + n)
            yield PlatformItem(
                ViewerMessage(ROOM, f"v{n}", f"message {n}", user_id=f"u{n}"), event_id=f"e{n}"
            )
            self.delivered = max(self.delivered, n + 1)
            await asyncio.sleep(0)
        if cut < self.total:
            raise ConnectionResetError("the server closed the socket")


async def test_a_hundred_forced_disconnects_lose_nothing_and_repeat_nothing() -> None:
    platform = FlakyPlatform(total=2000, disconnects=100)
    statuses: list[str] = []
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    connector = ResilientConnector(
        "bilibili", "123", platform.open, sleep=no_wait, on_status=lambda s: statuses.append(s.state)
    )
    got: list[str] = []
    async for item in connector.messages():
        assert isinstance(item, ViewerMessage)
        got.append(item.text)
        if len(got) == platform.total:
            connector.stop()
    assert got == [f"message {n}" for n in range(platform.total)]
    status = connector.status
    assert status.reconnects >= 100
    assert status.duplicates > 0  # replays happened and were dropped
    assert status.malformed > 0
    assert status.received == platform.total
    assert status.viewers is not None
    assert "retrying" in statuses
    assert statuses[-1] == "stopped"
    assert all(0 <= w <= 36.0 for w in waits)  # backoff capped at 30 s (+20% jitter)


async def test_silence_counts_as_a_dead_connection_and_the_backoff_grows_then_resets() -> None:
    opened = 0

    async def open_silent() -> AsyncIterator[PlatformItem | Malformed]:
        nonlocal opened
        opened += 1

        async def session() -> AsyncIterator[PlatformItem | Malformed]:
            if opened == 4:
                yield PlatformItem(ViewerMessage(ROOM, "a", "hello"), event_id="x1")
            await asyncio.sleep(10)  # then nothing: no events, no heartbeat
            yield PlatformItem(None, heartbeat=True)

        return session()

    waits: list[float] = []
    reasons: list[str | None] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    def record(status: ConnectorStatus) -> None:
        reasons.append(status.reason)

    connector = ResilientConnector(
        "tiktok", "@shop", open_silent, stale_after_s=0.05, jitter=0.0, sleep=no_wait, on_status=record
    )
    async for item in connector.messages():
        assert isinstance(item, ViewerMessage)
        connector.stop()
    assert waits == [1.0, 2.0, 4.0]
    assert any(r and "nothing from the platform for 0.05 s" in r for r in reasons)
