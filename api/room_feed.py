"""Fan-out of room events to this process's WebSocket viewers.

However many viewers watch a room, the process holds one bus subscription for it (a `RoomFeed`). Each
event is serialised to JSON once and queued for every viewer; a viewer's sender task drains its own queue,
so one slow connection never holds up the others. A viewer whose queue is full loses its oldest frame
(the page sees the gap in ``seq``).

A feed remembers the room's last ``state`` and ``product`` events and a short backlog of recent frames:
a viewer who joins gets the room's current look at once, and one who reconnects with ``after=<seq>``
gets exactly the frames it missed (no duplicates, no gap) when the backlog still covers them.

With the in-process bus only rooms of this process have events; with Redis every process sees every
room's events, so a viewer on any process watches the same room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from agent.live.events import OutputEvent

log = logging.getLogger("anchor.api.rooms")

#: Kinds whose latest event a joining viewer receives first.
SNAPSHOT_KINDS = ("product", "state")


class SubscribingBus(Protocol):
    """What a feed needs from a room bus (`agent.live.bus.RoomBus`)."""

    def subscription(self, room_id: str) -> AbstractAsyncContextManager[AsyncIterator[OutputEvent]]: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """One event as sent to viewers: its seq, kind, publish time and JSON text (serialised once)."""

    seq: int
    kind: str
    ts: float
    text: str

    @classmethod
    def of(cls, event: OutputEvent) -> Frame:
        text = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":"))
        return cls(event.seq, event.kind, event.ts, text)


class Viewer:
    """One connection's bounded queue of frames."""

    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self._frames: deque[Frame] = deque()
        self._ready = asyncio.Event()
        self.closed = False
        self.dropped = 0

    def push(self, frame: Frame) -> None:
        if self.closed:
            return
        if len(self._frames) >= self.max_queue:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(frame)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self) -> Frame | None:
        """The next frame, waiting for one; None once the viewer is closed."""
        while not self._frames:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        if self.closed:
            return None
        return self._frames.popleft()

    def pending(self) -> int:
        return len(self._frames)


class RoomFeed:
    """One room's subscription in this process and the viewers it feeds.

    Args:
        room_id: the room.
        bus: where the room's events arrive.
        backlog: recent frames kept for viewers resuming with ``after``.
        viewer_queue: frames queued per viewer before its oldest is dropped.
        clock: monotonic seconds (idle bookkeeping).
    """

    def __init__(
        self,
        room_id: str,
        bus: SubscribingBus,
        *,
        backlog: int = 32,
        viewer_queue: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.room_id = room_id
        self.bus = bus
        self.viewer_queue = viewer_queue
        self.clock = clock
        self.viewers: set[Viewer] = set()
        self.latest: dict[str, Frame] = {}
        self.backlog: deque[Frame] = deque(maxlen=backlog)
        self.last_seq = -1
        self.pinned = False
        self.idle_since = clock()
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    # -- the subscription ------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._pump(), name=f"room-feed:{self.room_id}")

    async def wait_subscribed(self, timeout: float = 5.0) -> bool:
        """Wait until the bus subscription is open (events published after this reach the feed)."""
        try:
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _pump(self) -> None:
        delay = 0.2
        while True:
            try:
                async with self.bus.subscription(self.room_id) as events:
                    self._subscribed.set()
                    delay = 0.2
                    async for event in events:
                        self.dispatch(event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # A lost Redis connection: subscribe again, backing off; viewers keep their sockets.
                log.warning("room %s: bus subscription failed; retrying in %.1fs", self.room_id, delay)
                self._subscribed.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def dispatch(self, event: OutputEvent) -> None:
        """Hand one event to every viewer (and remember it for the ones still to come)."""
        if event.seq <= self.last_seq and self.last_seq - event.seq > len(self.backlog):
            # The room restarted its count: what was kept belongs to the previous run.
            self.backlog.clear()
            self.latest.clear()
        elif event.seq <= self.last_seq:
            return  # a duplicate delivery
        self.last_seq = event.seq
        frame = Frame.of(event)
        if event.kind in SNAPSHOT_KINDS:
            self.latest[event.kind] = frame
        self.backlog.append(frame)
        for viewer in self.viewers:
            viewer.push(frame)

    # -- viewers ---------------------------------------------------------------------------------
    def join(self, after: int | None = None) -> Viewer:
        """A new viewer, primed with what it should see first.

        Without `after`: the latest product card and state. With `after`: the backlog's frames after
        that seq when the backlog reaches back far enough, else the latest product and state newer than
        it (the frames in between are gone).
        """
        viewer = Viewer(self.viewer_queue)
        for frame in self.initial_frames(after):
            viewer.push(frame)
        self.viewers.add(viewer)
        return viewer

    def initial_frames(self, after: int | None) -> list[Frame]:
        if after is not None and after > self.last_seq:
            after = None  # the client counts from another run of the room
        if after is not None and self.backlog and self.backlog[0].seq <= after + 1:
            return [f for f in self.backlog if f.seq > after]
        snapshot = sorted(self.latest.values(), key=lambda f: f.seq)
        return [f for f in snapshot if after is None or f.seq > after]

    def leave(self, viewer: Viewer) -> None:
        viewer.close()
        self.viewers.discard(viewer)
        if not self.viewers:
            self.idle_since = self.clock()

    async def close(self) -> None:
        for viewer in list(self.viewers):
            viewer.close()
        self.viewers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


class RoomFeeds:
    """The feeds of this process, one per watched room.

    Feeds of rooms running here are pinned (kept while the room runs, so the latest product and state
    are always at hand). Others live while they have viewers and close after `idle_seconds` without.

    Args:
        bus: the room bus.
        max_viewers: most WebSocket viewers this process accepts across all rooms.
        idle_seconds: how long an unpinned feed without viewers is kept.
        backlog, viewer_queue: see `RoomFeed`.
    """

    def __init__(
        self,
        bus: SubscribingBus,
        *,
        max_viewers: int = 5000,
        idle_seconds: float = 120.0,
        backlog: int = 32,
        viewer_queue: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.max_viewers = max_viewers
        self.idle_seconds = idle_seconds
        self.backlog = backlog
        self.viewer_queue = viewer_queue
        self.clock = clock
        self._feeds: dict[str, RoomFeed] = {}

    def __contains__(self, room_id: str) -> bool:
        return room_id in self._feeds

    def get(self, room_id: str) -> RoomFeed | None:
        return self._feeds.get(room_id)

    def feed(self, room_id: str) -> RoomFeed:
        """The room's feed, subscribing on first use."""
        self._close_idle()
        feed = self._feeds.get(room_id)
        if feed is None:
            feed = RoomFeed(
                room_id, self.bus, backlog=self.backlog, viewer_queue=self.viewer_queue, clock=self.clock
            )
            self._feeds[room_id] = feed
            feed.start()
        return feed

    async def pin(self, room_id: str) -> RoomFeed:
        """Keep the room's feed while the room runs here; returns once it is subscribed."""
        feed = self.feed(room_id)
        feed.pinned = True
        await feed.wait_subscribed()
        return feed

    def unpin(self, room_id: str) -> None:
        feed = self._feeds.get(room_id)
        if feed is not None:
            feed.pinned = False
            feed.idle_since = self.clock()

    def viewer_count(self) -> int:
        return sum(len(f.viewers) for f in self._feeds.values())

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            room_id: {
                "viewers": len(f.viewers),
                "last_seq": f.last_seq,
                "dropped": sum(v.dropped for v in f.viewers),
            }
            for room_id, f in self._feeds.items()
        }

    def _close_idle(self) -> None:
        now = self.clock()
        stale = [
            room_id
            for room_id, f in self._feeds.items()
            if not f.pinned and not f.viewers and now - f.idle_since > self.idle_seconds
        ]
        for room_id in stale:
            feed = self._feeds.pop(room_id)
            asyncio.get_running_loop().create_task(feed.close())

    async def close(self, room_ids: Iterable[str] | None = None) -> None:
        """Close these feeds (all by default): their viewers' queues end."""
        targets = list(self._feeds) if room_ids is None else [r for r in room_ids if r in self._feeds]
        for room_id in targets:
            await self._feeds.pop(room_id).close()
