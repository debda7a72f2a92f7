"""The per-process fan-out of room events (api/room_feed.py) over the real in-process bus."""

from __future__ import annotations

import asyncio
import json

import pytest

from agent.live.bus import InProcessBus
from agent.live.events import OutputEvent
from api.room_feed import RoomFeeds

pytestmark = pytest.mark.unit


def event(seq: int, kind: str = "say") -> OutputEvent:
    return OutputEvent("r1", seq, kind, {"text": f"line {seq}"})  # type: ignore[arg-type]


async def drain(viewer, n: int) -> list[int]:
    frames = [await asyncio.wait_for(viewer.next(), 1) for _ in range(n)]
    return [f.seq for f in frames if f is not None]


async def test_every_viewer_gets_each_event_once_serialised_once() -> None:
    bus = InProcessBus()
    feeds = RoomFeeds(bus)
    feed = await feeds.pin("r1")
    first, second = feed.join(), feed.join()
    for seq in (1, 2, 3):
        await bus.publish(event(seq))
    await asyncio.sleep(0)
    assert await drain(first, 3) == [1, 2, 3]
    assert await drain(second, 3) == [1, 2, 3]
    frame = feed.backlog[-1]
    assert json.loads(frame.text)["text"] == "line 3"
    assert bus.subscriber_count("r1") == 1  # one subscription however many viewers
    await feeds.close()
    assert await first.next() is None


async def test_joining_viewers_get_the_latest_card_and_state_or_exactly_what_they_missed() -> None:
    bus = InProcessBus()
    feeds = RoomFeeds(bus, backlog=4)
    feed = await feeds.pin("r1")
    for seq, kind in [(1, "state"), (2, "product"), (3, "say"), (4, "say"), (5, "state"), (6, "say")]:
        await bus.publish(event(seq, kind))
    await asyncio.sleep(0.01)
    assert [f.seq for f in feed.initial_frames(None)] == [2, 5]
    assert [f.seq for f in feed.initial_frames(4)] == [5, 6]  # resume: no duplicate, no gap
    assert [f.seq for f in feed.initial_frames(1)] == [2, 5]  # the backlog no longer reaches back
    assert [f.seq for f in feed.initial_frames(99)] == [2, 5]  # a count from another run of the room
    await feeds.close()


async def test_duplicates_are_dropped_and_a_restarted_count_starts_over() -> None:
    bus = InProcessBus()
    feeds = RoomFeeds(bus, backlog=4)
    feed = await feeds.pin("r1")
    viewer = feed.join()
    for seq in (10, 11, 11, 12):
        feed.dispatch(event(seq))
    assert await drain(viewer, 3) == [10, 11, 12]
    feed.dispatch(event(1, "state"))  # the room restarted from seq 1
    assert await drain(viewer, 1) == [1]
    assert [f.seq for f in feed.backlog] == [1]
    await feeds.close()


async def test_a_slow_viewer_loses_its_oldest_frames_only() -> None:
    bus = InProcessBus()
    feeds = RoomFeeds(bus, viewer_queue=3)
    feed = await feeds.pin("r1")
    slow, fast = feed.join(), feed.join()
    for seq in range(1, 7):
        feed.dispatch(event(seq))
        assert (await fast.next()).seq == seq  # type: ignore[union-attr]
    assert await drain(slow, 3) == [4, 5, 6]
    assert slow.dropped == 3
    assert fast.dropped == 0
    await feeds.close()


async def test_unpinned_feeds_without_viewers_close_after_the_idle_time() -> None:
    now = [0.0]
    feeds = RoomFeeds(InProcessBus(), idle_seconds=10, clock=lambda: now[0])
    feed = feeds.feed("gone")
    viewer = feed.join()
    feed.leave(viewer)
    now[0] = 11.0
    feeds.feed("other")
    assert "gone" not in feeds
    pinned = await feeds.pin("kept")
    now[0] = 100.0
    feeds.feed("other2")
    assert "kept" in feeds
    assert pinned.pinned
    await feeds.close()
