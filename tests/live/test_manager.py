"""`RoomManager`: several independent rooms in one process, commands, chat, acks, stop, restart resume.

The rooms run concurrently on one event loop with an in-process bus, the real triage, script builder,
answer pipeline and SQLite state store; the TTS is the fixed-duration double and "playing" a clip only
yields to the event loop, so nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.live.bus import InProcessBus, Subscription
from agent.live.events import Command, OutputEvent, Position, RoomEvent, ViewerMessage
from agent.live.manager import RoomFactory, RoomManager, RoomRunningError, UnknownRoomError
from agent.live.plan import RoomPlan
from agent.live.state import RoomStateStore
from agent.live.triage import AckLine, TriageDecision
from api.services import Services
from knowledge.store import create_engine_for
from tests.live.director_support import FixedClipTTS, demo_services

pytestmark = pytest.mark.unit

__all__ = ["demo_services"]


async def _yield(_seconds: float) -> None:
    await asyncio.sleep(0)


_ticks = itertools.count()


def _clock() -> float:
    return float(next(_ticks)) * 0.01


async def until(condition: Callable[[], bool], *, turns: int = 200_000) -> None:
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def plan(room_id: str, skus: list[str], *, loop: bool = True) -> RoomPlan:
    return RoomPlan.model_validate(
        {
            "room_id": room_id,
            "merchant": "demo",
            "loop": loop,
            "items": [
                {"link": i + 1, "sku": sku, "segments": ["hook", "price_offer"]} for i, sku in enumerate(skus)
            ],
        }
    )


def make_factory(services: Services, state: RoomStateStore, bus: InProcessBus) -> RoomFactory:
    return RoomFactory(
        catalog=services.store,
        pipeline=services.pipeline,
        tts=FixedClipTTS(),
        bus=bus,
        state=state,
        sleep=_yield,
        clock=_clock,
    )


@pytest.fixture
def state(tmp_path: Path) -> RoomStateStore:
    return RoomStateStore(create_engine_for(f"sqlite:///{tmp_path / 'rooms.db'}"))


def drain(sub: Subscription) -> list[OutputEvent]:
    out: list[OutputEvent] = []
    while (event := sub.get_nowait()) is not None:
        out.append(event)
    return out


async def test_rooms_run_independently(demo_services: Services, state: RoomStateStore) -> None:
    bus = InProcessBus(max_queue=100_000)
    manager = RoomManager(make_factory(demo_services, state, bus))
    async with bus.subscription("room-a") as sub_a, bus.subscription("room-b") as sub_b:
        a = await manager.start(plan("room-a", ["ZH-AP-001", "ZH-BE-001"]))
        b = await manager.start(plan("room-b", ["ZH-EL-001"]))
        await until(lambda: a.counters["said"] >= 3 and b.counters["said"] >= 3)
        manager.command("room-b", Command("room-b", "pause"))
        decision = manager.offer("room-a", ViewerMessage("room-a", "小美", "1号链接多少钱", user_id="u1"))
        assert isinstance(decision, TriageDecision)
        assert decision.accepted
        await until(lambda: b.status == "paused" and a.counters["answered"] == 1)
        said_b = b.counters["said"]
        await until(lambda: a.counters["said"] >= said_b + 10)
        assert b.counters["said"] == said_b  # the paused room said nothing more
        assert b.counters["answered"] == 0
        assert [info.room_id for info in manager.list()] == ["room-a", "room-b"]
        assert [info.status for info in manager.list()] == ["running", "paused"]
        await manager.shutdown()
        events_a, events_b = drain(sub_a), drain(sub_b)
    assert {e.room_id for e in events_a} == {"room-a"}
    assert {e.room_id for e in events_b} == {"room-b"}
    for events in (events_a, events_b):
        seqs = [e.seq for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    answers = [e for e in events_a if e.kind == "answer"]
    assert len(answers) == 1
    assert "159" in str(answers[0].data["text"])
    assert not [e for e in events_b if e.kind == "answer"]
    assert next(e.data["sku"] for e in events_b if e.kind == "product") == "ZH-EL-001"
    # Persisted: a running and a paused room, both resumable.
    assert {r.room_id: r.status for r in state.list()} == {"room-a": "running", "room-b": "paused"}


async def test_resume_all_continues_each_room_at_its_persisted_position(
    demo_services: Services, state: RoomStateStore
) -> None:
    bus = InProcessBus(max_queue=100_000)
    first = RoomManager(make_factory(demo_services, state, bus))
    a = await first.start(plan("room-a", ["ZH-AP-001", "ZH-BE-001"]))
    b = await first.start(plan("room-b", ["ZH-EL-001"]))
    c = await first.start(plan("room-c", ["ZH-HM-001"]))
    await until(lambda: min(a.counters["said"], b.counters["said"], c.counters["said"]) >= 5)
    first.command("room-b", Command("room-b", "pause"))
    await first.stop("room-c")
    await until(lambda: b.status == "paused")
    await first.shutdown()  # a process exit: rooms stay "running" / "paused" in the store
    persisted = {r.room_id: r for r in state.list()}
    assert persisted["room-c"].status == "stopped"

    second = RoomManager(make_factory(demo_services, state, bus))
    async with bus.subscription("room-a") as sub:
        started = await second.resume_all()
        assert started == ["room-a", "room-b"]
        resumed_a = second.get("room-a")
        assert resumed_a is not None
        await until(lambda: resumed_a.counters["said"] >= persisted["room-a"].counters["said"] + 2)
        resumed_b = second.get("room-b")
        assert resumed_b is not None
        assert resumed_b.status == "paused"
        await second.shutdown()
        says = [e for e in drain(sub) if e.kind == "say"]
    # The first sentence after the restart is the persisted next unsaid one.
    assert Position.from_dict(says[0].data["position"]) == persisted["room-a"].position
    assert second.get("room-c") is None


async def test_commands_chat_and_room_events_reach_the_right_room(
    demo_services: Services, state: RoomStateStore
) -> None:
    bus = InProcessBus(max_queue=100_000)
    manager = RoomManager(make_factory(demo_services, state, bus))
    async with bus.subscription("room-a") as sub:
        a = await manager.start(plan("room-a", ["ZH-AP-001", "ZH-BE-001"]))
        with pytest.raises(RoomRunningError):
            await manager.start(plan("room-a", ["ZH-AP-001"]))
        with pytest.raises(UnknownRoomError, match="room 'nope' is not running"):
            manager.command("nope", Command("nope", "pause"))
        with pytest.raises(UnknownRoomError):
            manager.offer("nope", ViewerMessage("nope", "x", "多少钱"))
        with pytest.raises(ValueError, match="has no link 5"):
            manager.command("room-a", Command("room-a", "skip_to", "5"))
        line = manager.offer("room-a", RoomEvent("room-a", "follow", "小王"))
        assert isinstance(line, AckLine)
        assert "小王" in line.text
        dropped = manager.offer("room-a", ViewerMessage("room-a", "x", "666666"))
        assert isinstance(dropped, TriageDecision)
        assert not dropped.accepted
        manager.command("room-a", Command("room-a", "skip_to", "2"))
        manager.command("room-a", Command("room-a", "say_now", "大家稍等，马上为大家上新品。"))
        await until(lambda: a.counters["operator"] == 1 and a.counters["acks"] == 1)
        said = a.counters["said"]
        await until(lambda: a.counters["said"] >= said + 2)
        assert await manager.stop("room-a")
        assert not await manager.stop("room-a")
        assert manager.get("room-a") is None
        assert a.finished
        assert a.status == "stopped"
        events = drain(sub)
    kinds = [(e.kind, e.data.get("origin")) for e in events]
    assert ("ack", None) in kinds
    assert ("say", "operator") in kinds
    # After the skip, the script goes on from link 2's first sentence.
    op = kinds.index(("say", "operator"))
    after = [e for e in events[op:] if e.kind == "say" and e.data.get("origin") == "script"]
    assert after[0].data["link"] == 2
    assert after[0].data["position"]["segment"] == 0
    assert after[0].data["position"]["sentence"] == 0
    assert events[-1].kind == "state"
    assert events[-1].data["status"] == "stopped"
    record = state.load("room-a")
    assert record is not None
    assert record.status == "stopped"
