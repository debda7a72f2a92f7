"""Keeping a platform's chat connection alive: reconnect, watch for silence, drop replayed events, report.

A platform connector (Bilibili, TikTok …) opens *sessions*: one connection each, yielding `PlatformItem`s (a
`ViewerMessage` or `RoomEvent` with the platform's own id for the event) until the connection ends or fails.
`ResilientConnector` wraps such a session factory into the room's `ChatConnector`:

- a session that fails (an exception) or ends is opened again after a backoff that doubles from
  ``backoff[0]`` to ``backoff[1]`` seconds with ±``jitter`` randomness, reset once a session has stayed up
  ``stable_after_s``;
- a session that says nothing for ``stale_after_s`` (no event, no heartbeat: sessions report heartbeats as
  items with ``heartbeat=True``) is treated as dead and reopened;
- events a platform replays after a reconnect are recognised by their id (the last ``dedupe`` ids are kept)
  and dropped, so the room sees each event once;
- a malformed item (the session yields a `Malformed` with the reason) is counted and skipped;
- every state change is reported (`ConnectorStatus`: connecting, connected, retrying with the reason, stopped)
  to ``on_status`` — the room bus and `anchor room status` show it. A connector that keeps failing never stops
  the show: it keeps retrying until the room stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agent.live.events import RoomEvent, ViewerMessage

__all__ = ["ConnectorStatus", "Malformed", "PlatformItem", "ResilientConnector", "SessionFactory"]

log = logging.getLogger(__name__)

ConnectorState = Literal["connecting", "connected", "retrying", "stopped"]


@dataclass(frozen=True, slots=True)
class PlatformItem:
    """One thing a platform session delivered: a chat message or room event with the platform's id for it,
    or a heartbeat (``item`` None) that only proves the connection is alive."""

    item: ViewerMessage | RoomEvent | None
    event_id: str | None = None
    heartbeat: bool = False
    viewers: int | None = None  # the platform's viewer count, when this frame carries one


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame the session could not read (the reason, for the count and the log)."""

    reason: str


SessionFactory = Callable[[], Awaitable[AsyncIterator[PlatformItem | Malformed]]]


@dataclass
class ConnectorStatus:
    """A connector's state and counters, as the operator sees them."""

    platform: str
    room: str
    state: ConnectorState = "connecting"
    reason: str | None = None
    since: float = field(default_factory=time.time)
    sessions: int = 0
    reconnects: int = 0
    received: int = 0
    duplicates: int = 0
    malformed: int = 0
    dropped: int = 0  # items the consumer did not take in time (beyond the backlog)
    viewers: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ResilientConnector:
    """A `ChatConnector` over a platform's sessions (see the module).

    Args:
        platform, room: named in the status ("bilibili", "123456").
        open_session: opens one connection; awaiting it may raise (a failed connect).
        backoff: first and longest wait between attempts, seconds.
        jitter: each wait is multiplied by a random factor in [1 - jitter, 1 + jitter].
        stable_after_s: a session up this long resets the backoff.
        stale_after_s: silence (no item, no heartbeat) that counts as a dead connection.
        dedupe: how many recent event ids are remembered.
        backlog: how many items wait for the consumer at most (beyond that the oldest go).
        on_status: called with the status at every change.
        sleep, clock, rng: injectable for tests.
    """

    def __init__(
        self,
        platform: str,
        room: str,
        open_session: SessionFactory,
        *,
        backoff: tuple[float, float] = (1.0, 30.0),
        jitter: float = 0.2,
        stable_after_s: float = 60.0,
        stale_after_s: float = 45.0,
        dedupe: int = 4096,
        backlog: int = 5000,
        on_status: Callable[[ConnectorStatus], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.status = ConnectorStatus(platform, room)
        self._open = open_session
        self._backoff = backoff
        self._jitter = jitter
        self._stable_after = stable_after_s
        self._stale_after = stale_after_s
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._dedupe = dedupe
        self._on_status = on_status
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._stopped = False
        self._backlog = backlog
        self._reader: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """End `messages()` / `batches()` now: the connection in hand is closed, a wait for the next attempt
        ends (the room is stopping)."""
        self._stopped = True
        if self._reader is not None:
            self._reader.cancel()

    async def messages(self) -> AsyncIterator[ViewerMessage | RoomEvent]:
        """The room's items one by one, as they arrive."""
        async for batch in self.batches():
            for item in batch:
                yield item

    async def batches(self) -> AsyncIterator[list[ViewerMessage | RoomEvent]]:
        """The room's items in batches: everything that arrived since the last batch was taken (a busy room's
        consumer gets bigger, cheaper batches; a quiet one's, single items). A reader task keeps the connection
        and reads as fast as the platform sends; at most ``backlog`` items wait (beyond that the oldest go,
        counted in ``status.dropped``)."""
        queue: deque[ViewerMessage | RoomEvent] = deque()
        arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read(queue, arrived), name=f"{self.status.platform}-reader")
        try:
            while True:
                if not queue:
                    if self._reader.done():
                        break
                    await arrived.wait()
                    arrived.clear()
                    continue
                batch = list(queue)
                queue.clear()
                yield batch
        finally:
            self._reader.cancel()
            await asyncio.wait({self._reader})
            self._report("stopped", None)

    async def _read(self, queue: deque[ViewerMessage | RoomEvent], arrived: asyncio.Event) -> None:
        failures = 0
        try:
            while not self._stopped:
                self._report("connecting" if self.status.reconnects == 0 else "retrying", self.status.reason)
                opened_at = self._clock()
                try:
                    session = await self._open()
                    self.status.sessions += 1
                    self._report("connected", None)
                    async with contextlib.aclosing(self._watched(session)) as items:
                        async for item in items:
                            if len(queue) >= self._backlog:
                                queue.popleft()
                                self.status.dropped += 1
                            queue.append(item)
                            arrived.set()
                    reason = "the platform closed the connection"
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # any failure of the platform or its library: retry, never stop
                    reason = f"{type(exc).__name__}: {exc}"[:300]
                if self._stopped:
                    break
                failures = 1 if self._clock() - opened_at >= self._stable_after else failures + 1
                self.status.reconnects += 1
                self._report("retrying", reason)
                log.warning("%s room %s: %s; reconnecting", self.status.platform, self.status.room, reason)
                await self._sleep(self._delay(failures))
        finally:
            arrived.set()

    async def _watched(self, session: AsyncIterator[PlatformItem | Malformed]) -> AsyncGenerator[Any, None]:
        """The session's room items, deduplicated (heartbeats and malformed frames only counted); raises
        TimeoutError after `stale_after_s` of silence."""
        iterator = aiter(session)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._stale_after) as watchdog:
                async for got in iterator:
                    watchdog.reschedule(loop.time() + self._stale_after)
                    if isinstance(got, Malformed):
                        self.status.malformed += 1
                        log.info("%s: skipped a malformed frame: %s", self.status.platform, got.reason)
                        continue
                    if got.viewers is not None:
                        self.status.viewers = got.viewers
                    if got.item is None:
                        continue
                    if got.event_id is not None:
                        if got.event_id in self._seen:
                            self.status.duplicates += 1
                            continue
                        self._seen[got.event_id] = None
                        while len(self._seen) > self._dedupe:
                            self._seen.popitem(last=False)
                    self.status.received += 1
                    yield got.item
        except TimeoutError:
            raise TimeoutError(f"nothing from the platform for {self._stale_after:g} s") from None
        finally:
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()

    def _delay(self, failures: int) -> float:
        first, longest = self._backoff
        base = min(longest, first * 2 ** max(0, failures - 1))
        factor = 1.0 + float(self._rng.uniform(-self._jitter, self._jitter))
        return max(0.0, float(base) * factor)

    def _report(self, state: ConnectorState, reason: str | None) -> None:
        if state == self.status.state and reason == self.status.reason:
            return
        self.status.state = state
        self.status.reason = reason
        self.status.since = time.time()
        if self._on_status is not None:
            try:
                self._on_status(self.status)
            except Exception:
                log.exception("connector status callback failed")
