"""One owner per live room across processes: the lease in ``room_state``, and inputs relayed over Redis.

The lease runs on real SQLite and PostgreSQL with an injected clock for expiry; two `RoomManager`s on
one database stand in for two API processes; the relay uses the real Redis at 127.0.0.1:6379.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, MetaData, Table, inspect
from sqlalchemy.engine import URL

from agent.live.bus import InProcessBus
from agent.live.events import Command, Position, ViewerMessage
from agent.live.manager import RoomManager, RoomRunningError
from agent.live.relay import RoomInputRelay, decode_input, encode_input
from agent.live.state import RoomStateStore, create_room_schema, room_state
from api.services import Services
from knowledge.store import create_engine_for
from tests.live.director_support import demo_services
from tests.live.test_manager import make_factory, plan, until

pytestmark = pytest.mark.integration

__all__ = ["demo_services"]

REDIS_URL = "redis://127.0.0.1:6379/0"
PLAN = {"room_id": "r1", "merchant": "demo", "items": [{"link": 1, "sku": "ZH-AP-001"}], "loop": True}


class FakeNow:
    """A settable wall clock for lease expiry."""

    def __init__(self) -> None:
        self.value = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url: str | URL = f"sqlite:///{tmp_path / 'rooms.db'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    eng = create_engine_for(url)
    yield eng
    eng.dispose()


def test_lease_acquire_renew_expire_steal_release(engine: Engine) -> None:
    now = FakeNow()
    store = RoomStateStore(engine, now=now)
    assert store.try_acquire("r1", "A", 15)
    # A lease-only row is invisible until the director saves the room.
    assert store.load("r1") is None
    assert store.list() == []
    assert store.lease_holder("r1") == "A"
    assert not store.try_acquire("r1", "B", 15)
    assert store.try_acquire("r1", "A", 15)  # already ours
    store.save("r1", merchant="demo", plan=PLAN, status="running", position=Position(), counters={})
    record = store.load("r1")
    assert record is not None
    assert record.merchant == "demo"
    assert store.lease_holder("r1") == "A"  # saving keeps the lease
    now.advance(10)
    assert store.renew("r1", "A", 15)
    now.advance(14)
    assert not store.try_acquire("r1", "B", 15)  # renewed at +10 s, so it holds until +25 s
    now.advance(2)
    assert store.lease_holder("r1") is None
    assert store.try_acquire("r1", "B", 15)  # expired: B steals it
    assert not store.renew("r1", "A", 15)
    assert store.renew("r1", "B", 15)
    store.release("r1", "A")  # not A's lease: nothing changes
    assert store.lease_holder("r1") == "B"
    store.release("r1", "B")
    assert store.lease_holder("r1") is None
    assert store.try_acquire("r1", "A", 15)
    assert [r.room_id for r in store.list()] == ["r1"]


def test_position_writes_are_fenced_by_the_lease(engine: Engine) -> None:
    now = FakeNow()
    store = RoomStateStore(engine, now=now)
    assert store.try_acquire("r1", "A", 15)
    store.save("r1", merchant="demo", plan=PLAN, status="running", position=Position(), counters={})
    assert store.save_progress("r1", status="running", position=Position(0, 0, 1, 0), counters={}, owner="A")
    now.advance(20)
    assert store.try_acquire("r1", "B", 15)  # A's lease expired: B takes the room over
    assert store.save_progress("r1", status="running", position=Position(0, 0, 2, 0), counters={}, owner="B")
    # A has not noticed yet: its write is refused and B's position stands.
    assert not store.save_progress(
        "r1", status="paused", position=Position(0, 0, 1, 1), counters={}, owner="A"
    )
    record = store.load("r1")
    assert record is not None
    assert (record.position, record.status) == (Position(0, 0, 2, 0), "running")
    assert not store.save_progress("nope", status="running", position=Position(), counters={}, owner="B")


def test_schema_upgrade_adds_the_lease_columns(engine: Engine) -> None:
    old = MetaData()
    Table(
        "room_state",
        old,
        *(
            Column(c.name, c.type, primary_key=c.primary_key)
            for c in room_state.columns
            if c.name not in ("owner", "lease_until")
        ),
    )
    old.create_all(engine)
    assert "owner" not in {c["name"] for c in inspect(engine).get_columns("room_state")}
    create_room_schema(engine)
    create_room_schema(engine)  # idempotent
    assert {"owner", "lease_until"} <= {c["name"] for c in inspect(engine).get_columns("room_state")}
    store = RoomStateStore(engine)
    assert store.try_acquire("r1", "A", 15)
    assert store.lease_holder("r1") == "A"


def _state(tmp_path: Path, now: Callable[[], datetime] | None = None) -> RoomStateStore:
    return RoomStateStore(create_engine_for(f"sqlite:///{tmp_path / 'rooms.db'}"), now=now)


async def test_only_one_of_two_managers_runs_a_room(demo_services: Services, tmp_path: Path) -> None:
    bus = InProcessBus(max_queue=100_000)
    first = RoomManager(make_factory(demo_services, _state(tmp_path), bus), owner="proc-a")
    second = RoomManager(make_factory(demo_services, _state(tmp_path), bus), owner="proc-b")
    director = await first.start(plan("room-a", ["ZH-AP-001"]))
    await until(lambda: director.counters["said"] >= 2)
    assert await second.resume_all() == []
    with pytest.raises(RoomRunningError, match="another process"):
        await second.start(plan("room-a", ["ZH-AP-001"]))
    await first.shutdown()  # releases the lease; the room stays persisted as running
    assert await second.resume_all() == ["room-a"]
    assert second.factory.state.lease_holder("room-a") == "proc-b"
    assert await first.resume_all() == []
    await second.stop("room-a")
    assert second.factory.state.lease_holder("room-a") is None


def two_processes(services: Services, tmp_path: Path) -> tuple[RoomManager, RoomManager]:
    """Managers of processes A and B on one database and bus; B's clock is 60 s ahead, so it sees A's
    leases (15 s) expired."""
    bus = InProcessBus(max_queue=100_000)
    later = FakeNow()
    later.value = datetime.now(UTC) + timedelta(seconds=60)
    first = RoomManager(make_factory(services, _state(tmp_path), bus), owner="proc-a", lease_ttl_s=15)
    second = RoomManager(make_factory(services, _state(tmp_path, later), bus), owner="proc-b")
    return first, second


async def test_a_room_whose_lease_was_taken_over_stops_here(demo_services: Services, tmp_path: Path) -> None:
    first, second = two_processes(demo_services, tmp_path)
    director = await first.start(plan("room-a", ["ZH-AP-001"]))
    await until(lambda: director.counters["said"] >= 1)
    assert await first.renew_leases() == []
    assert await second.resume_all() == ["room-a"]
    assert await first.renew_leases() == ["room-a"]
    assert first.get("room-a") is None
    assert second.get("room-a") is not None
    assert second.factory.state.load("room-a") is not None
    await second.shutdown()
    await first.shutdown()


async def test_a_director_that_lost_its_lease_stops_at_its_next_write(
    demo_services: Services, tmp_path: Path
) -> None:
    first, second = two_processes(demo_services, tmp_path)
    old = await first.start(plan("room-a", ["ZH-AP-001"]))
    await until(lambda: old.counters["said"] >= 1)
    assert await second.resume_all() == ["room-a"]
    new = second.get("room-a")
    assert new is not None
    # No lease renewal runs on A: the fence alone stops its director at its next position write.
    await until(lambda: old.finished)
    assert old.error == "another process took over this room"
    frozen = old.counters
    await until(lambda: new.counters["said"] >= 3)
    assert old.counters == frozen  # A said nothing more
    await second.shutdown()
    await first.shutdown()
    record = second.factory.state.load("room-a")
    assert record is not None
    assert record.position == new.position  # the row holds B's position, never A's


def test_inputs_round_trip_through_json() -> None:
    for item in (
        ViewerMessage("r1", "小美", "多少钱", user_id="u1", message_id="m1"),
        Command("r1", "skip_to", "2"),
    ):
        assert decode_input(encode_input(item)) == item
    with pytest.raises(ValueError, match="malformed"):
        decode_input('{"type": "chat", "data": {"nope": 1}}')


async def _redis_url() -> str:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (RedisError, OSError):
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable at 127.0.0.1:6379 (required in CI)")
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    finally:
        await client.aclose()
    return REDIS_URL


async def test_chat_relayed_by_one_process_reaches_the_room_another_runs(
    demo_services: Services, tmp_path: Path
) -> None:
    url = await _redis_url()
    bus = InProcessBus(max_queue=100_000)
    first = RoomManager(make_factory(demo_services, _state(tmp_path), bus), owner="proc-a")
    second = RoomManager(make_factory(demo_services, _state(tmp_path), bus), owner="proc-b")
    relay_a, relay_b = RoomInputRelay(url, first), RoomInputRelay(url, second)
    await relay_a.start()
    await relay_b.start()
    try:
        room_id = f"relay-{os.getpid()}"
        director = await second.start(plan(room_id, ["ZH-AP-001"]))
        await until(lambda: director.counters["said"] >= 1)
        assert first.get(room_id) is None
        listeners = await relay_a.publish(ViewerMessage(room_id, "小美", "1号链接多少钱", user_id="u1"))
        assert listeners >= 2
        for _ in range(200):
            if director.triage.stats()["offered"] >= 1:
                break
            await asyncio.sleep(0.01)
        assert director.triage.stats()["offered"] == 1
        assert (relay_a.delivered, relay_b.delivered) == (0, 1)
        await until(lambda: director.counters["answered"] == 1)
        await relay_a.publish(Command(room_id, "pause"))
        for _ in range(200):
            if director.status == "paused":
                break
            await asyncio.sleep(0.01)
        assert director.status == "paused"
    finally:
        await relay_a.close()
        await relay_b.close()
        await first.shutdown()
        await second.shutdown()
