"""Viewer chat, room events and operator commands for a room that runs in another API process.

When several API processes share Redis, the process that receives an input for a room it does not run
publishes it on ``anchor:room-in:{room_id}``; every process listens on the pattern and hands each input
to its `RoomManager` (`offer` / `command`), which drops it unless the room runs there (one process
holds the room's lease). Payloads are JSON: ``{"type": "chat"|"event"|"command", "data": {...}}`` with
the fields of `ViewerMessage`, `RoomEvent` or `Command`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from typing import TYPE_CHECKING, Protocol

from agent.live.events import Command, RoomEvent, ViewerMessage

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "anchor:room-in:"

RoomInput = ViewerMessage | RoomEvent | Command


class InputSink(Protocol):
    """Where relayed inputs go (`RoomManager`); both raise `LookupError` for a room not running here."""

    def offer(self, room_id: str, item: ViewerMessage | RoomEvent) -> object: ...

    def command(self, room_id: str, cmd: Command) -> None: ...


def input_channel(room_id: str) -> str:
    return CHANNEL_PREFIX + room_id


def encode_input(item: RoomInput) -> str:
    kind = (
        "chat" if isinstance(item, ViewerMessage) else "event" if isinstance(item, RoomEvent) else "command"
    )
    return json.dumps({"type": kind, "data": dataclasses.asdict(item)}, ensure_ascii=False)


def decode_input(payload: str | bytes) -> RoomInput:
    """The input a payload carries.

    Raises:
        ValueError: the payload is not a relayed input.
    """
    try:
        message = json.loads(payload)
        kind, data = message["type"], dict(message["data"])
        if kind == "chat":
            return ViewerMessage(**data)
        if kind == "event":
            return RoomEvent(**data)
        if kind == "command":
            return Command(**data)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"relayed room input is malformed: {exc}") from exc
    raise ValueError(f"relayed room input has unknown type {kind!r}")


class RoomInputRelay:
    """Publishes inputs for rooms run elsewhere and feeds this process's rooms the inputs it receives.

    Args:
        url: the Redis URL (``ANCHOR_REDIS_URL``).
        sink: this process's `RoomManager`.
        retry_s: pause before re-subscribing after a Redis error.
    """

    def __init__(self, url: str, sink: InputSink, *, retry_s: float = 1.0) -> None:
        self.url = url
        self.sink = sink
        self.retry_s = retry_s
        self._client: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0

    def _redis(self) -> Redis:
        if self._client is None:
            from redis.asyncio import Redis

            self._client = Redis.from_url(self.url)
        return self._client

    async def publish(self, item: RoomInput) -> int:
        """Send ``item`` to the process that runs its room; returns how many processes listen."""
        return int(await self._redis().publish(input_channel(item.room_id), encode_input(item)))

    async def start(self) -> None:
        """Subscribe (returns once subscribed) and keep delivering inputs until `close`."""
        if self._task is not None:
            return
        pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
        await pubsub.psubscribe(CHANNEL_PREFIX + "*")
        self._task = asyncio.create_task(self._listen(pubsub), name="room-input-relay")

    async def _listen(self, pubsub: PubSub | None) -> None:
        from redis.exceptions import RedisError

        while True:
            try:
                if pubsub is None:
                    pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
                    await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "pmessage":
                    self.deliver(message["data"])
            except RedisError:
                log.warning("room input relay lost Redis at %s; re-subscribing", self.url, exc_info=True)
                with contextlib.suppress(Exception):
                    if pubsub is not None:
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
                pubsub = None
                await asyncio.sleep(self.retry_s)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    if pubsub is not None:
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise

    def deliver(self, payload: str | bytes) -> bool:
        """Hand one relayed input to the sink; False when it is malformed or its room is not here."""
        try:
            item = decode_input(payload)
        except ValueError as exc:
            log.warning("%s", exc)
            return False
        try:
            if isinstance(item, Command):
                self.sink.command(item.room_id, item)
            else:
                self.sink.offer(item.room_id, item)
        except LookupError:
            return False
        except ValueError as exc:  # a command with a wrong argument
            log.warning("relayed input for room %s refused: %s", item.room_id, exc)
            return False
        self.delivered += 1
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None
