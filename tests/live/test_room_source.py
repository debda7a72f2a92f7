"""Integration: a room whose plan reads its chat from a Bilibili live room (a loopback server speaking the
platform's protocol). The real room manager, triage, director, answer pipeline and SQLite state; the TTS is the
fixed-duration double on yielded time. Checks that platform chat is answered, super chats first, the comment feed
and the source's status reach the bus and the room's snapshot, and that a failing platform never stops the show."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.live.bus import InProcessBus
from agent.live.events import OutputEvent, ViewerMessage
from agent.live.manager import RoomFactory, RoomManager
from agent.live.plan import PlanError, RoomPlan, SourceConfig
from agent.live.platforms.bilibili import BilibiliCredentials, BilibiliSessions
from agent.live.resilient import ConnectorStatus, ResilientConnector
from agent.live.state import RoomStateStore
from agent.live.triage import ChatTriage
from api.services import Services
from evals.fakes.bilibili_live import FakeBilibiliLive, danmaku_command
from knowledge.store import create_engine_for
from tests.live.director_support import FixedClipTTS, demo_services

pytestmark = pytest.mark.integration

__all__ = ["demo_services"]


async def _yield(_seconds: float) -> None:
    await asyncio.sleep(0.001)


def plan_with_source(room: int) -> RoomPlan:
    return RoomPlan.model_validate(
        {
            "room_id": "bili-room",
            "merchant": "demo",
            "items": [
                {"link": 1, "sku": "ZH-AP-001", "segments": ["hook", "price_offer"]},
                {"link": 2, "sku": "ZH-BE-001", "segments": ["hook", "intro"]},
            ],
            "source": {"platform": "bilibili", "room": room},
        }
    )


def opener(live: FakeBilibiliLive) -> Callable[[SourceConfig, str, Callable[[ConnectorStatus], None]], Any]:
    def open_source(config: SourceConfig, room_id: str, on_status: Callable[[ConnectorStatus], None]) -> Any:
        sessions = BilibiliSessions(
            config.room, room_id, credentials=BilibiliCredentials(sessdata="x"), endpoints=live.endpoints
        )
        return ResilientConnector(
            "bilibili", config.room, sessions, backoff=(0.01, 0.05), on_status=on_status
        )

    return open_source


def danmaku(n: int, text: str, uid: int) -> dict[str, Any]:
    return danmaku_command(text, uid, f"观众{uid}", ident=f"x{n}", sent_ms=1_700_000_000_000 + n)


def answered(events: list[OutputEvent], question: str) -> bool:
    return any(q["text"] == question for e in events if e.kind == "answer" for q in e.data["questions"])


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_platform_chat_reaches_the_room_and_a_failing_platform_never_stops_the_show(
    demo_services: Services, tmp_path: Path
) -> None:
    state = RoomStateStore(create_engine_for(f"sqlite:///{tmp_path / 'rooms.db'}"))
    bus = InProcessBus(max_queue=100_000)
    events: list[OutputEvent] = []
    async with FakeBilibiliLive(room=6) as live:
        factory = RoomFactory(
            catalog=demo_services.store,
            pipeline=demo_services.pipeline,
            tts=FixedClipTTS(),
            bus=bus,
            state=state,
            sleep=_yield,
            sources=opener(live),
            social_every_s=0.05,
        )
        manager = RoomManager(factory)
        async with bus.subscription("bili-room") as sub:

            async def collect() -> None:
                async for event in sub:
                    events.append(event)

            collector = asyncio.create_task(collect())
            director = await manager.start(plan_with_source(6))
            await live.wait_connected()
            live.send([{"cmd": "WATCHED_CHANGE", "data": {"num": 1234, "text_small": "1234"}}])
            live.send(
                [
                    danmaku(1, "2号多少钱", 501),
                    danmaku(2, "<b>主播好</b>", 502),
                    danmaku(3, "加微信 abc123 便宜卖", 503),
                    {
                        "cmd": "SUPER_CHAT_MESSAGE",
                        "data": {
                            "id": 7,
                            "uid": 504,
                            "message": "1号有什么颜色",
                            "user_info": {"uname": "大佬"},
                        },
                    },
                ]
            )
            await until(lambda: answered(events, "1号有什么颜色") and answered(events, "2号多少钱"))
            await until(lambda: any(e.kind == "source" and e.data["viewers"] == 1234 for e in events))
            shown = [c for e in events if e.kind == "comments" for c in e.data["items"]]
            texts = [c["text"] for c in shown]
            assert "2号多少钱" in texts
            assert "<b>主播好</b>" in texts  # shown as text by the page, never as HTML
            assert not any("微信" in t for t in texts)  # an advert is not shown
            assert [c["paid"] for c in shown if c["text"] == "1号有什么颜色"] == [True]
            snapshot = director.snapshot()
            assert snapshot["source"]["state"] == "connected"
            assert snapshot["source"]["viewers"] == 1234
            assert snapshot["source"]["received"] >= 4

            # the platform drops the connection and refuses it for a while: the show goes on, the status says why
            said = director.counters["said"]
            live.refuse_auth = True
            live.drop()
            await until(lambda: director.snapshot()["source"]["state"] == "retrying")
            await until(lambda: director.counters["said"] >= said + 3)
            assert (
                "refused" in (director.snapshot()["source"]["reason"] or "")
                or director.snapshot()["source"]["reconnects"] >= 1
            )
            await until(lambda: any(e.kind == "source" and e.data["state"] == "retrying" for e in events))
            live.refuse_auth = False
            await live.wait_connected()
            live.send([danmaku(9, "1号多少钱", 509)])
            await until(lambda: answered(events, "1号多少钱"))
            await manager.stop("bili-room")
            collector.cancel()
    record = state.load("bili-room")
    assert record is not None
    assert record.ops["source"]["platform"] == "bilibili"
    assert record.ops["source"]["reconnects"] >= 1
    assert record.ops["source"]["state"] == "stopped"


async def test_a_source_that_cannot_start_is_reported_and_the_room_runs(
    demo_services: Services, tmp_path: Path
) -> None:
    state = RoomStateStore(create_engine_for(f"sqlite:///{tmp_path / 'rooms.db'}"))
    bus = InProcessBus(max_queue=100_000)

    def broken(config: SourceConfig, room_id: str, on_status: Callable[[ConnectorStatus], None]) -> Any:
        raise RuntimeError("no TikTok signing key configured")

    factory = RoomFactory(
        catalog=demo_services.store,
        pipeline=demo_services.pipeline,
        tts=FixedClipTTS(),
        bus=bus,
        state=state,
        sleep=_yield,
        sources=broken,
        social_every_s=0.05,
    )
    manager = RoomManager(factory)
    director = await manager.start(plan_with_source(6))
    await until(lambda: director.snapshot().get("source") is not None and director.counters["said"] >= 2)
    source = director.snapshot()["source"]
    assert source["state"] == "stopped"
    assert "no TikTok signing key" in source["reason"]
    # a super chat that asks nothing is thanked like a gift
    acks = director.counters["acks"]
    decision = manager.offer(
        "bili-room", ViewerMessage("bili-room", "大佬", "主播加油！", user_id="u9", paid=True)
    )
    assert decision is not None
    await until(lambda: director.counters["acks"] > acks)
    await manager.stop("bili-room")


def test_a_plan_refuses_credentials_and_odd_rooms() -> None:
    base = plan_with_source(6).model_dump()
    with pytest.raises(PlanError, match="credentials do not belong in a plan"):
        RoomPlan.from_data({**base, "source": {"platform": "bilibili", "room": 6, "sessdata": "x"}})
    with pytest.raises(PlanError, match="Bilibili room is the number"):
        RoomPlan.from_data({**base, "source": {"platform": "bilibili", "room": "abc"}})
    with pytest.raises(PlanError, match="TikTok room is the account's @handle"):
        RoomPlan.from_data({**base, "source": {"platform": "tiktok", "room": "no spaces allowed"}})
    with pytest.raises(PlanError, match="platform"):
        RoomPlan.from_data({**base, "source": {"platform": "myspace", "room": "1"}})
    assert SourceConfig.parse("bilibili:123456").room == "123456"
    assert SourceConfig.parse("TikTok:@shop.cn").label() == "tiktok:@shop.cn"
    with pytest.raises(ValueError, match="PLATFORM:ROOM"):
        SourceConfig.parse("123456")
    with pytest.raises(ValueError, match="Bilibili room is the number"):
        SourceConfig.parse("bilibili:abc")


def test_paid_questions_are_answered_first_and_skip_the_rate_limit() -> None:
    now = [0.0]
    triage = ChatTriage("r", clock=lambda: now[0], link_map={1: "ZH-AP-001", 2: "ZH-BE-001"})
    for n in range(3):
        triage.offer(ViewerMessage("r", f"v{n}", "2号多少钱", user_id=f"u{n}"))
    triage.offer(ViewerMessage("r", "大佬", "1号有什么颜色", user_id="sc-user", paid=True))
    first = triage.next_question()
    assert first is not None
    assert first.text.startswith("1号")


def test_a_batch_is_triaged_as_its_messages_one_by_one() -> None:
    lines = [
        "2号多少钱",
        "1号有XL吗",
        "主播好",
        "666",
        "加微信 abc123 领福利",
        "我的快递三天了还没到",
        "2号多少钱",
        "有红色吗",
    ]
    messages = [ViewerMessage("r", f"v{n}", text, user_id=f"u{n}") for n, text in enumerate(lines * 3)]
    one = ChatTriage("r", clock=lambda: 0.0, link_map={1: "ZH-AP-001", 2: "ZH-BE-001"})
    many = ChatTriage("r", clock=lambda: 0.0, link_map={1: "ZH-AP-001", 2: "ZH-BE-001"})
    singles = [one.offer(m) for m in messages]
    batched = many.offer_many(messages[:10]) + many.offer_many(messages[10:])
    assert [(d.outcome, d.reason, d.route) for d in batched] == [
        (d.outcome, d.reason, d.route) for d in singles
    ]
    assert one.stats()["queue"] == many.stats()["queue"]
