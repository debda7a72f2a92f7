"""The room event bus: in-process fan-out and slow subscribers; Redis across instances and processes.

The Redis tests use the real server at 127.0.0.1:6379 (each test on its own channel prefix). When it is
unreachable they fail under CI and are skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from agent.live.bus import InProcessBus, RedisBus, make_bus, output_event_from_dict
from agent.live.events import AudioRef, Cue, OutputEvent

pytestmark = pytest.mark.unit

REDIS_URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]


def event(seq: int, room: str = "room-1", *, audio: bool = False) -> OutputEvent:
    clip = (
        AudioRef(
            data=bytes(range(256)) * 4 + seq.to_bytes(4, "big"),
            format="mp3",
            sample_rate=24000,
            duration=1.25,
            cues=(Cue(0.0, 0.5, "欢迎"), Cue(0.5, 1.25, "来到直播间")),
            engine="edge",
        )
        if audio
        else None
    )
    return OutputEvent(
        room, seq, "say", {"text": f"第{seq}句", "position": {"item": 0}}, clip, ts=1700000000.5 + seq
    )


def test_output_event_round_trip() -> None:
    original = event(7, audio=True)
    rebuilt = output_event_from_dict(original.to_dict())
    assert rebuilt == original
    light = output_event_from_dict(original.to_dict(with_audio=False))
    assert light.audio is not None
    assert original.audio is not None
    assert light.audio.data == b""
    assert light.audio.cues == original.audio.cues
    plain = event(8)
    assert output_event_from_dict(plain.to_dict()) == plain
    with pytest.raises(ValueError, match="missing field 'seq'"):
        output_event_from_dict({"room_id": "r", "kind": "say"})
    with pytest.raises(ValueError, match="unknown event kind"):
        output_event_from_dict({"room_id": "r", "seq": 1, "kind": "dance"})


async def test_in_process_fan_out_to_several_subscribers() -> None:
    bus = InProcessBus(max_queue=100)
    async with (
        bus.subscription("room-1") as a,
        bus.subscription("room-1") as b,
        bus.subscription("room-2") as other,
    ):
        assert bus.subscriber_count("room-1") == 2
        for seq in range(1, 11):
            await bus.publish(event(seq))
        await bus.publish(event(1, "room-2"))
        got_a = [a.get_nowait() for _ in range(10)]
        got_b = [await b.get() for _ in range(10)]
        assert [e.seq for e in got_a if e] == list(range(1, 11))
        assert [e.seq for e in got_b] == list(range(1, 11))
        assert len(other) == 1
        assert a.get_nowait() is None
    assert bus.subscriber_count("room-1") == 0
    assert bus.rooms() == []


async def test_slow_subscriber_drops_oldest_and_never_blocks_the_publisher() -> None:
    bus = InProcessBus(max_queue=4)
    received: list[int] = []

    async with bus.subscription("room-1") as fast, bus.subscription("room-1") as slow:

        async def consume() -> None:
            async for e in fast:
                received.append(e.seq)
                if e.seq == 20:
                    return

        consumer = asyncio.create_task(consume())
        for seq in range(1, 21):
            await bus.publish(event(seq))  # returns at once: nobody is awaited
            await asyncio.sleep(0)
        await asyncio.wait_for(consumer, 5)
        assert received == list(range(1, 21))
        late = [slow.get_nowait() for _ in range(len(slow))]
        assert [e.seq for e in late if e] == [17, 18, 19, 20]  # the gap in seq tells the client
        assert slow.dropped == 16
        assert fast.dropped == 0


async def test_subscriptions_end_when_the_bus_closes() -> None:
    bus = InProcessBus()

    async def listen() -> list[int]:
        return [e.seq async for e in bus.subscribe("room-1")]

    task = asyncio.create_task(listen())
    await asyncio.sleep(0)
    await bus.publish(event(1))
    await asyncio.sleep(0)
    await bus.close()
    assert await asyncio.wait_for(task, 5) == [1]


def test_make_bus_picks_by_url() -> None:
    assert isinstance(make_bus(None), InProcessBus)
    assert isinstance(make_bus(""), InProcessBus)
    redis_bus = make_bus(REDIS_URL)
    assert isinstance(redis_bus, RedisBus)
    assert redis_bus.channel("r1") == "anchor:room:r1"


# -- Redis -----------------------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    return f"test:bus:{uuid.uuid4().hex}:"


async def collect(sub: object, n: int, timeout: float = 10.0) -> list[OutputEvent]:
    out: list[OutputEvent] = []

    async def take() -> None:
        async for e in sub:  # type: ignore[attr-defined]
            out.append(e)
            if len(out) == n:
                return

    await asyncio.wait_for(take(), timeout)
    return out


@pytest.mark.integration
async def test_two_redis_buses_deliver_in_order(redis_url: str, prefix: str) -> None:
    a = RedisBus(redis_url, channel_prefix=prefix)
    b = RedisBus(redis_url, channel_prefix=prefix)
    try:
        async with (
            a.subscription("room-1") as sub_a,
            b.subscription("room-1") as sub_b,
            b.subscription("room-1") as sub_b2,
        ):
            sent = [event(seq, audio=seq % 3 == 0) for seq in range(1, 41)]
            for e in sent:
                await a.publish(e)
            got_a, got_b, got_b2 = await asyncio.gather(
                collect(sub_a, 40), collect(sub_b, 40), collect(sub_b2, 40)
            )
            assert got_a == sent
            assert got_b == sent
            assert got_b2 == sent
            assert a.published == 40
            assert b.received == 40
    finally:
        await a.close()
        await b.close()


_PUBLISHER = """
import asyncio, sys
from agent.live.bus import RedisBus
from agent.live.events import OutputEvent

async def main(url, prefix, n):
    bus = RedisBus(url, channel_prefix=prefix)
    for seq in range(1, n + 1):
        await bus.publish(OutputEvent("room-x", seq, "answer", {"text": f"answer {seq}"}, ts=float(seq)))
    await bus.close()
    print(bus.published)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


@pytest.mark.integration
async def test_events_published_by_another_process_arrive_in_order(redis_url: str, prefix: str) -> None:
    bus = RedisBus(redis_url, channel_prefix=prefix)
    try:
        async with bus.subscription("room-x") as sub:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _PUBLISHER,
                redis_url,
                prefix,
                "200",
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            got = await collect(sub, 200, timeout=30)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()
            assert out.decode().strip() == "200"
            assert [e.seq for e in got] == list(range(1, 201))
            assert got[-1].kind == "answer"
            assert got[-1].data == {"text": "answer 200"}
    finally:
        await bus.close()


@pytest.mark.integration
async def test_subscriber_reconnects_after_the_connection_is_killed(redis_url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    name = f"anchor-test-{uuid.uuid4().hex[:8]}"
    bus = RedisBus(redis_url, channel_prefix=prefix, client_name=name, backoff_initial_s=0.05)
    admin = aioredis.Redis.from_url(redis_url)
    try:
        async with bus.subscription("room-1") as sub:
            await bus.publish(event(1))
            assert [e.seq for e in await collect(sub, 1)] == [1]
            clients = await admin.client_list()
            ours = [c for c in clients if c.get("name") == name and "subscribe" in str(c.get("cmd", ""))]
            assert ours, "the bus's pub/sub connection carries its client name"
            for client in ours:
                await admin.client_kill_filter(_id=client["id"])
            seq = 2
            async with asyncio.timeout(10):
                while True:  # events published while it reconnects are lost (pub/sub); keep going
                    await bus.publish(event(seq))
                    await asyncio.sleep(0.05)
                    got = sub.get_nowait()
                    if got is not None and got.seq >= 2:
                        break
                    seq += 1
            assert bus.reconnects >= 1
    finally:
        await admin.aclose()
        await bus.close()


@pytest.mark.integration
async def test_publish_survives_an_unreachable_redis() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", backoff_initial_s=0.01)
    try:
        await asyncio.wait_for(bus.publish(event(1)), 10)  # logged and counted, never raised
        assert bus.publish_errors == 1
        assert bus.published == 0
    finally:
        await bus.close()


def state_event(seq: int, kind: str, room: str = "room-1") -> OutputEvent:
    data = {"sku": f"SKU-{seq}", "link": seq} if kind == "product" else {"status": "running", "queue": seq}
    return OutputEvent(room, seq, kind, data, None, ts=1700000000.0 + seq)  # type: ignore[arg-type]


async def test_a_late_subscriber_gets_the_current_product_and_state_first() -> None:
    bus = InProcessBus()
    await bus.publish(state_event(1, "state"))
    await bus.publish(state_event(2, "product"))
    await bus.publish(event(3))  # a sentence: not state, not replayed to a late subscriber
    await bus.publish(state_event(4, "product"))
    await bus.publish(state_event(1, "product", room="room-2"))
    async with bus.subscription("room-1") as sub:
        await bus.publish(event(5))
        got = await collect(sub, 3)
    assert [(e.seq, e.kind) for e in got] == [(1, "state"), (4, "product"), (5, "say")]
    bus.forget("room-1")
    async with bus.subscription("room-1") as sub:
        assert len(sub) == 0


@pytest.mark.integration
async def test_a_process_subscribing_late_gets_the_state_stored_in_redis(redis_url: str, prefix: str) -> None:
    a = RedisBus(redis_url, channel_prefix=prefix)
    b = RedisBus(redis_url, channel_prefix=prefix)
    try:
        await a.publish(state_event(7, "product"))
        await a.publish(state_event(8, "state"))
        await a.publish(event(9))
        async with b.subscription("room-1") as sub:  # another process, subscribing mid-show
            await a.publish(event(10))
            got = await collect(sub, 3)
        assert [(e.seq, e.kind) for e in got] == [(7, "product"), (8, "state"), (10, "say")]
        assert got[0].data == {"sku": "SKU-7", "link": 7}
    finally:
        await a.close()
        await b.close()


async def test_a_broadcaster_started_late_puts_the_current_card_on_screen(tmp_path: Path) -> None:
    from agent.live.broadcast import Broadcaster, HlsSink, broadcast_room

    bus = InProcessBus()
    card = {"sku": "HOODIE-1", "title": "暖禾加绒卫衣", "price": "¥129", "link": 1}
    await bus.publish(OutputEvent("room-1", 1, "product", card))  # before anybody listened
    caster = Broadcaster(HlsSink(tmp_path / "hls"))  # not started: only its programme is read here
    task = asyncio.create_task(broadcast_room(bus, "room-1", caster))
    for _ in range(100):
        await asyncio.sleep(0.01)
        caster.programme.read_audio(10)
        if caster.programme.on_air(0.0).card:
            break
    task.cancel()
    assert caster.programme.on_air(0.0).card == card
