"""The room event bus: how a director's `OutputEvent`s reach every viewer of the room.

Two implementations of one small protocol (`RoomBus`):

- `InProcessBus`: fan-out inside one process. Each subscriber has its own bounded buffer; a slow
  subscriber (a viewer on a bad connection) loses its oldest events and sees a gap in `seq`, and the
  director never waits for anybody.
- `RedisBus`: fan-out across API processes through Redis pub/sub (channel `anchor:room:<room_id>`, JSON
  from `OutputEvent.to_dict()`, audio as base64). One Redis subscription per room per process feeds the
  process's local subscribers; a lost connection is re-established with exponential backoff. Pub/sub
  does not store events: what is published while a process is disconnected is lost to it, and its
  viewers see the gap in `seq`.

`make_bus(redis_url)` picks one: Redis when a URL is given (`ANCHOR_REDIS_URL`), else in-process.

State on join: both keep each room's latest ``product`` and ``state`` events (`JOIN_KINDS`; Redis in a key
per room and kind, with a day's expiry) and hand them to every new subscriber before anything else, so a
page opened mid-show, a broadcaster started late or a second process shows the product on screen at once
instead of waiting for the next product change.

Usage::

    async with bus.subscription("demo-room") as events:
        async for event in events:
            await websocket.send_json(event.to_dict())
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, get_args

from agent.live.events import AudioRef, Cue, OutputEvent, OutputKind
from voice.mouth import MOUTH_FPS

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "InProcessBus",
    "RedisBus",
    "RoomBus",
    "Subscription",
    "make_bus",
    "output_event_from_dict",
]

log = logging.getLogger(__name__)

_OUTPUT_KINDS: frozenset[str] = frozenset(get_args(OutputKind))
#: The kinds whose latest event a new subscriber receives first (the room's current state).
JOIN_KINDS: tuple[str, ...] = ("product", "state")
_LATEST_TTL_S = 86_400
_RESERVED = frozenset({"room_id", "seq", "kind", "ts", "audio"})


# --------------------------------------------------------------------------------------- wire format


def _audio_from_dict(data: Mapping[str, Any]) -> AudioRef:
    cues = tuple(Cue(float(c["start"]), float(c["end"]), str(c["text"])) for c in data.get("cues", ()) or ())
    return AudioRef(
        data=base64.b64decode(data.get("data_b64", "") or ""),
        format=str(data["format"]),
        sample_rate=int(data["sample_rate"]),
        duration=float(data["duration"]),
        cues=cues,
        engine=str(data.get("engine", "")),
        mouth=_mouth_levels(data.get("mouth")),
    )


def _mouth_levels(value: Any) -> str:
    """A mouth track from the wire ({"fps", "levels"}); "" when absent, malformed or at another rate."""
    if not isinstance(value, Mapping) or value.get("fps") != MOUTH_FPS:
        return ""
    levels = value.get("levels")
    return levels if isinstance(levels, str) and levels.isdigit() else ""


def output_event_from_dict(data: Mapping[str, Any]) -> OutputEvent:
    """Rebuild an `OutputEvent` from `OutputEvent.to_dict()` (the inverse, up to rounding of times).

    Audio sent without its bytes (`to_dict(with_audio=False)`) comes back with empty `data`.

    Raises:
        ValueError: A required field is missing or malformed.
    """
    try:
        kind = str(data["kind"])
        if kind not in _OUTPUT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        audio_data = data.get("audio")
        audio = _audio_from_dict(audio_data) if isinstance(audio_data, Mapping) else None
        return OutputEvent(
            room_id=str(data["room_id"]),
            seq=int(data["seq"]),
            kind=kind,  # type: ignore[arg-type]  # checked against OutputKind above
            data={k: v for k, v in data.items() if k not in _RESERVED},
            audio=audio,
            ts=float(data.get("ts", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"not a room event: {detail}") from exc


# --------------------------------------------------------------------------------------- protocol


class RoomBus(Protocol):
    """Publish a room's events; subscribe to one room's events."""

    async def publish(self, event: OutputEvent) -> None:
        """Send `event` to every subscriber of `event.room_id`. Never blocks on a slow subscriber."""
        ...

    def subscription(self, room_id: str) -> AbstractAsyncContextManager[Subscription]:
        """An async context manager whose value iterates over the room's events from now on."""
        ...

    async def close(self) -> None:
        """End every subscription and release connections."""
        ...


class Subscription:
    """One subscriber's bounded buffer of a room's events; iterate with `async for`.

    When the buffer is full the oldest event is dropped (`dropped` counts them) and the subscriber
    sees a gap in `seq`.
    """

    def __init__(self, room_id: str, max_queue: int) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {max_queue}")
        self.room_id = room_id
        self.dropped = 0
        self._buffer: deque[OutputEvent] = deque()
        self._max = max_queue
        self._ready = asyncio.Event()
        self._closed = False

    def put(self, event: OutputEvent) -> None:
        """Buffer `event`, dropping the oldest when full."""
        if self._closed:
            return
        if len(self._buffer) >= self._max:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(event)
        self._ready.set()

    def prime(self, latest: list[OutputEvent]) -> None:
        """Put the room's current state ahead of what is buffered: each event of `latest` (oldest first)
        unless an event of its kind with a seq as high is already buffered (it is newer)."""
        for event in sorted(latest, key=lambda e: e.seq, reverse=True):
            if any(b.kind == event.kind and b.seq >= event.seq for b in self._buffer):
                continue
            self._buffer.appendleft(event)
        if self._buffer:
            self._ready.set()

    def close(self) -> None:
        """End the iteration once the buffered events are taken."""
        self._closed = True
        self._ready.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._buffer)

    def get_nowait(self) -> OutputEvent | None:
        """The next buffered event, or None."""
        return self._buffer.popleft() if self._buffer else None

    async def get(self) -> OutputEvent:
        """Wait for the next event. Raises StopAsyncIteration when the subscription is closed."""
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._buffer.popleft()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> OutputEvent:
        return await self.get()


# --------------------------------------------------------------------------------------- in-process


class InProcessBus:
    """Fan-out of room events to subscribers in this process.

    Args:
        max_queue: Events buffered per subscriber before the oldest is dropped.
    """

    def __init__(self, *, max_queue: int = 256) -> None:
        self.max_queue = max_queue
        self._rooms: dict[str, set[Subscription]] = {}
        self._latest: dict[str, dict[str, OutputEvent]] = {}
        self.published = 0

    async def publish(self, event: OutputEvent) -> None:
        self.deliver(event)

    def deliver(self, event: OutputEvent) -> None:
        """Publish without awaiting (the same thing; for synchronous callers)."""
        self.published += 1
        self.remember(event)
        for sub in self._rooms.get(event.room_id, ()):
            sub.put(event)

    def remember(self, event: OutputEvent) -> None:
        """Keep `event` as the room's current state when it is of a `JOIN_KINDS` kind."""
        if event.kind in JOIN_KINDS:
            latest = self._latest.setdefault(event.room_id, {})
            held = latest.get(event.kind)
            if held is None or event.seq >= held.seq or held.seq - event.seq > 1000:  # or a restarted count
                latest[event.kind] = event

    def latest(self, room_id: str) -> list[OutputEvent]:
        """The room's current state events (its latest product and state), oldest first."""
        return sorted(self._latest.get(room_id, {}).values(), key=lambda e: e.seq)

    def forget(self, room_id: str) -> None:
        """Drop a room's current state (it stopped for good)."""
        self._latest.pop(room_id, None)

    @asynccontextmanager
    async def subscription(self, room_id: str) -> AsyncIterator[Subscription]:
        sub = Subscription(room_id, self.max_queue)
        sub.prime(self.latest(room_id))
        self._rooms.setdefault(room_id, set()).add(sub)
        try:
            yield sub
        finally:
            sub.close()
            subs = self._rooms.get(room_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._rooms[room_id]

    async def subscribe(self, room_id: str) -> AsyncIterator[OutputEvent]:
        """Iterate over a room's events (subscribed from the first iteration on)."""
        async with self.subscription(room_id) as sub:
            async for event in sub:
                yield event

    def subscriber_count(self, room_id: str) -> int:
        return len(self._rooms.get(room_id, ()))

    def rooms(self) -> list[str]:
        """Rooms with at least one subscriber."""
        return list(self._rooms)

    async def close(self) -> None:
        for subs in list(self._rooms.values()):
            for sub in subs:
                sub.close()
        self._rooms.clear()


# --------------------------------------------------------------------------------------- redis


class _RoomListener:
    __slots__ = ("ready", "task", "users")

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.users = 0


class RedisBus:
    """Room events through Redis pub/sub, so viewers on any API process see the same room.

    Args:
        url: Redis URL, e.g. "redis://127.0.0.1:6379/0".
        channel_prefix: Channel of a room is `channel_prefix + room_id`.
        max_queue: Events buffered per local subscriber.
        backoff_initial_s: First wait before reconnecting; doubles per failure up to `backoff_max_s`.
        backoff_max_s: Longest wait between reconnection attempts.
        subscribe_timeout_s: How long entering `subscription()` waits for Redis to confirm it; past
            that the subscription is returned anyway and fills once Redis is reachable.
        client_name: The Redis CLIENT SETNAME of this bus's connections (seen in CLIENT LIST).

    Publishing never raises on a Redis failure: it retries once, then counts the event in
    `publish_errors` and logs it, so a Redis outage never stops the director.
    """

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "anchor:room:",
        max_queue: int = 256,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        subscribe_timeout_s: float = 5.0,
        client_name: str | None = "anchor-bus",
    ) -> None:
        self.url = url
        self.channel_prefix = channel_prefix
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.subscribe_timeout_s = subscribe_timeout_s
        self.client_name = client_name
        self._local = InProcessBus(max_queue=max_queue)
        self._client: Redis | None = None
        self._listeners: dict[str, _RoomListener] = {}
        self.published = 0
        self.publish_errors = 0
        self.received = 0
        self.bad_payloads = 0
        self.reconnects = 0

    def channel(self, room_id: str) -> str:
        return self.channel_prefix + room_id

    def latest_key(self, room_id: str, kind: str) -> str:
        """The Redis key holding the room's latest event of `kind` (a `JOIN_KINDS` kind)."""
        return f"{self.channel_prefix}{room_id}:latest:{kind}"

    async def latest(self, room_id: str) -> list[OutputEvent]:
        """The room's current state events as stored in Redis (none when Redis cannot be read)."""
        from redis.exceptions import RedisError

        try:
            payloads = await self._redis().mget([self.latest_key(room_id, kind) for kind in JOIN_KINDS])
        except (RedisError, OSError) as exc:
            log.warning("room bus: cannot read the current state of %s (%s)", room_id, exc)
            return []
        events: list[OutputEvent] = []
        for payload in payloads:
            if payload is None:
                continue
            try:
                events.append(output_event_from_dict(json.loads(payload)))
            except (ValueError, TypeError):
                self.bad_payloads += 1
        return sorted(events, key=lambda e: e.seq)

    def _redis(self) -> Redis:
        if self._client is None:
            from redis.asyncio import Redis

            self._client = Redis.from_url(
                self.url,
                socket_connect_timeout=2.0,
                socket_timeout=5.0,
                client_name=self.client_name,
            )
        return self._client

    async def publish(self, event: OutputEvent) -> None:
        from redis.exceptions import RedisError

        payload = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":"))
        channel = self.channel(event.room_id)
        for attempt in range(2):
            try:
                if event.kind in JOIN_KINDS:
                    await self._redis().set(
                        self.latest_key(event.room_id, event.kind), payload, ex=_LATEST_TTL_S
                    )
                await self._redis().publish(channel, payload)
                self.published += 1
                return
            except (RedisError, OSError) as exc:
                if attempt == 0:
                    log.warning("room bus: publish to %s failed (%s); retrying", channel, exc)
                    await asyncio.sleep(self.backoff_initial_s)
                else:
                    log.error("room bus: event %s/%d lost: %s", event.room_id, event.seq, exc)
        self.publish_errors += 1

    @asynccontextmanager
    async def subscription(self, room_id: str) -> AsyncIterator[Subscription]:
        async with self._local.subscription(room_id) as sub:
            listener = self._listeners.get(room_id)
            if listener is None:
                listener = _RoomListener()
                listener.task = asyncio.create_task(self._listen(room_id, listener), name=f"bus:{room_id}")
                self._listeners[room_id] = listener
            listener.users += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(listener.ready.wait(), self.subscribe_timeout_s)
                # Subscribed first, then the stored state: an event newer than it is already buffered.
                sub.prime(await self.latest(room_id))
                yield sub
            finally:
                listener.users -= 1
                if listener.users == 0 and self._listeners.get(room_id) is listener:
                    del self._listeners[room_id]
                    await _cancel(listener.task)

    async def subscribe(self, room_id: str) -> AsyncIterator[OutputEvent]:
        """Iterate over a room's events (subscribed from the first iteration on)."""
        async with self.subscription(room_id) as sub:
            async for event in sub:
                yield event

    def subscriber_count(self, room_id: str) -> int:
        """Local subscribers of the room in this process."""
        return self._local.subscriber_count(room_id)

    async def _listen(self, room_id: str, listener: _RoomListener) -> None:
        from redis.exceptions import RedisError

        channel = self.channel(room_id)
        delay = self.backoff_initial_s
        while True:
            pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                if listener.ready.is_set():
                    log.info("room bus: resubscribed to %s", channel)
                listener.ready.set()
                delay = self.backoff_initial_s
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    self._deliver(message["data"])
            except (RedisError, OSError) as exc:
                self.reconnects += 1
                log.warning("room bus: lost %s (%s); reconnecting in %.1fs", channel, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max_s)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _deliver(self, payload: bytes | str) -> None:
        try:
            event = output_event_from_dict(json.loads(payload))
        except (ValueError, TypeError) as exc:
            self.bad_payloads += 1
            log.warning("room bus: ignored a malformed event: %s", exc)
            return
        self.received += 1
        self._local.deliver(event)

    async def close(self) -> None:
        listeners = list(self._listeners.values())
        self._listeners.clear()
        for listener in listeners:
            await _cancel(listener.task)
        await self._local.close()
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.aclose()


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def make_bus(redis_url: str | None, *, max_queue: int = 256) -> InProcessBus | RedisBus:
    """The bus for this process: Redis when `redis_url` is set (several API processes), else in-process."""
    if redis_url:
        return RedisBus(redis_url, max_queue=max_queue)
    return InProcessBus(max_queue=max_queue)
