"""Integration: the Bilibili connector against a loopback server speaking the platform's HTTP API and danmaku
WebSocket protocol (evals/fakes/bilibili_live.py): handshake, authentication, heartbeats, plain/zlib/brotli
packets, malformed frames, bursts, forced disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent.live.events import RoomEvent, ViewerMessage
from agent.live.platforms import bilibili_wire as wire
from agent.live.platforms.bilibili import BilibiliCredentials, BilibiliSessions, mixin_key, wbi_sign
from agent.live.resilient import ConnectorStatus, ResilientConnector
from evals.fakes.bilibili_live import FakeBilibiliLive, danmaku_command

pytestmark = pytest.mark.integration

SESSDATA = "s3cret-sessdata-value"


def danmaku(n: int, text: str | None = None, uid: int | None = None) -> dict[str, Any]:
    return danmaku_command(
        text or f"第{n}条 2号多少钱",
        1000 + n if uid is None else uid,
        f"观众{n}",
        ident=f"m{n}",
        sent_ms=1_700_000_000_000 + n,
        cmd="DANMU_MSG:4:0:2:2:2:0",
    )


def connector(
    live: FakeBilibiliLive, statuses: list[ConnectorStatus] | None = None, **kw: Any
) -> ResilientConnector:
    creds = kw.pop("credentials", BilibiliCredentials(sessdata=SESSDATA, buvid3="MY-BUVID"))
    sessions = BilibiliSessions(live.room, "r1", credentials=creds, endpoints=live.endpoints, timeout_s=5.0)
    return ResilientConnector(
        "bilibili",
        str(live.room),
        sessions,
        backoff=(0.001, 0.01),
        on_status=(lambda s: statuses.append(ConnectorStatus(**s.to_dict())))
        if statuses is not None
        else None,
        **kw,
    )


async def take(stream: AsyncIterator[Any], n: int, timeout: float = 10.0) -> list[Any]:
    out: list[Any] = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            out.append(await anext(stream))
    return out


async def finish(task: asyncio.Task[Any], stream: AsyncIterator[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await stream.aclose()  # type: ignore[attr-defined]


def test_wbi_signature_matches_the_documented_example() -> None:
    # bilibili-API-collect's worked example (docs/misc/sign/wbi.md): keys, params and the resulting w_rid.
    key = mixin_key("7cd084941338484aae1ad9425b84077c", "4932caff0ff746eab6f01bf08b70ac45")
    assert key == "ea1db124af3c7062474693fa704f4ff8"
    signed = wbi_sign({"foo": "114", "bar": "514", "zab": 1919810}, key, now=1702204169)
    assert signed["w_rid"] == "8f6f2b5b3d485fe1886cec6a0be8c5d4"


async def test_handshake_authenticates_and_delivers_every_packet_kind() -> None:
    async with FakeBilibiliLive(sessdata=SESSDATA) as live:
        conn = connector(live)
        stream: Any = conn.messages()
        first = asyncio.create_task(anext(stream))
        await live.wait_connected()
        auth = live.auths[-1]
        assert auth["roomid"] == live.real_room
        assert auth["uid"] == live.uid
        assert auth["protover"] == 3
        assert auth["buvid"] == "MY-BUVID"
        assert auth["key"] == live.token
        gift = {
            "cmd": "SEND_GIFT",
            "data": {"uid": 7, "uname": "阿花", "giftName": "小心心", "num": 3, "tid": "t1"},
        }
        sc = {
            "cmd": "SUPER_CHAT_MESSAGE",
            "data": {"id": 99, "uid": 8, "message": "2号有XL吗", "price": 30, "user_info": {"uname": "大佬"}},
        }
        follow = {"cmd": "INTERACT_WORD", "data": {"uid": 9, "uname": "小米", "msg_type": 2, "timestamp": 1}}
        live.send([danmaku(1)])
        live.send([gift, sc], version=wire.VER_ZLIB)
        live.send([follow, danmaku(2)], version=wire.VER_BROTLI)
        items = [await first, *await take(stream, 4)]
        assert isinstance(items[0], ViewerMessage)
        assert items[0].text == "第1条 2号多少钱"
        assert items[0].user_id == "bili:1001"
        assert items[0].nickname == "观众1"
        assert isinstance(items[1], RoomEvent)
        assert (items[1].kind, items[1].detail, items[1].count) == (
            "gift",
            "小心心",
            3,
        )
        assert isinstance(items[2], ViewerMessage)
        assert items[2].message_id == "sc:99"
        assert isinstance(items[3], RoomEvent)
        assert items[3].kind == "follow"
        assert items[3].nickname == "小米"
        assert isinstance(items[4], ViewerMessage)
        assert items[4].text.startswith("第2条")
        assert conn.status.state == "connected"
        assert conn.status.received == 5
        # the login cookie went to the HTTP API only, and getDanmuInfo was signed
        info = [q for path, q, _ in live.requests if path.endswith("getDanmuInfo")]
        assert info
        assert {"w_rid", "wts"} <= set(info[-1])
        assert all(SESSDATA in cookie for _, _, cookie in live.requests)
        conn.stop()
        await stream.aclose()


async def test_anonymous_connection_gets_a_buvid_and_uid_zero() -> None:
    async with FakeBilibiliLive(sessdata=SESSDATA) as live:
        conn = connector(live, credentials=None)
        stream: Any = conn.messages()
        task = asyncio.create_task(anext(stream))
        await live.wait_connected()
        assert live.auths[-1]["uid"] == 0
        assert live.auths[-1]["buvid"] == "FAKE-BUVID3-0000"
        live.send([danmaku(3, uid=0)])
        # uid 0 (what an anonymous connection sees for everyone) gives no user id
        item = await task
        assert isinstance(item, ViewerMessage)
        assert item.user_id is None
        assert item.text.startswith("第3条")
        await finish(task, stream)


async def test_heartbeats_are_sent_and_their_replies_keep_the_connection_alive() -> None:
    async with FakeBilibiliLive(sessdata=SESSDATA) as live:
        sessions = BilibiliSessions(live.room, "r1", endpoints=live.endpoints, heartbeat_s=0.05)
        conn = ResilientConnector("bilibili", "6", sessions, stale_after_s=0.5, backoff=(0.001, 0.01))
        stream: Any = conn.messages()
        task = asyncio.create_task(anext(stream))
        await live.wait_connected()
        await asyncio.sleep(1.0)  # twice the watchdog's limit: only the heartbeat replies keep it open
        assert live.heartbeats >= 10
        assert conn.status.sessions == 1
        assert conn.status.reconnects == 0
        await finish(task, stream)


async def test_malformed_frames_are_counted_and_skipped() -> None:
    async with FakeBilibiliLive(sessdata=SESSDATA) as live:
        conn = connector(live)
        stream: Any = conn.messages()
        task = asyncio.create_task(anext(stream))
        await live.wait_connected()
        live.send_raw(b"\x00\x01")  # shorter than a header
        live.send_raw(wire.encode(wire.OP_COMMAND, b"\xff not json"))
        live.send_raw(wire.encode(wire.OP_COMMAND, b"garbage", version=wire.VER_BROTLI))
        live.send([{"cmd": "DANMU_MSG", "info": [[], None, "x"]}])  # a command with odd fields
        for client in live.clients:
            await client.connection.send("a text frame")
        live.send([danmaku(4)])
        item = await task
        assert isinstance(item, ViewerMessage)
        assert item.text.startswith("第4条")
        assert conn.status.malformed == 5
        assert conn.status.sessions == 1
        await stream.aclose()


async def test_a_burst_of_compressed_packets_arrives_whole_and_in_order() -> None:
    async with FakeBilibiliLive(sessdata=SESSDATA) as live:
        conn = connector(live)
        stream: Any = conn.messages()
        task = asyncio.create_task(anext(stream))
        await live.wait_connected()
        for start in range(0, 2000, 100):
            live.send([danmaku(n) for n in range(start, start + 100)], version=wire.VER_BROTLI)
        items = [await task, *await take(stream, 1999)]
        assert [i.message_id for i in items] == [f"dm:m{n}" for n in range(2000)]
        await stream.aclose()


async def test_survives_100_forced_disconnects_without_losing_or_repeating_an_event() -> None:
    """The server cuts the connection 100 times mid-stream and, as platforms do, re-sends its last events to the
    new connection; every event reaches the room exactly once."""
    cuts, every, replay = 100, 10, 5
    total = (cuts + 1) * every
    async with FakeBilibiliLive(sessdata=SESSDATA) as live:
        conn = connector(live)
        stream: Any = conn.messages()
        received: list[str] = []

        async def consume() -> None:
            async for item in stream:
                received.append(item.message_id)
                if len(received) == total:
                    return

        consumer = asyncio.create_task(consume())
        sent = 0
        for _ in range(cuts):
            await live.wait_connected()
            live.send([danmaku(n) for n in range(max(0, sent - replay), sent + every)])  # replay + new
            sent += every
            async with asyncio.timeout(10):  # cut while the last `replay` events may still be in flight
                while len(received) < sent - replay:
                    await asyncio.sleep(0.001)
            live.drop()
        await live.wait_connected()
        live.send([danmaku(n) for n in range(sent - replay, total)])
        async with asyncio.timeout(30):
            await consumer
        assert received == [f"dm:m{n}" for n in range(total)]
        assert conn.status.reconnects == cuts
        assert conn.status.duplicates > 0  # the replays were seen and dropped
        await stream.aclose()


async def test_refused_authentication_is_retried_with_the_reason_and_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    statuses: list[ConnectorStatus] = []
    async with FakeBilibiliLive(sessdata=SESSDATA) as live:
        live.refuse_auth = True
        conn = connector(live, statuses)
        stream: Any = conn.messages()
        task = asyncio.create_task(anext(stream))
        async with asyncio.timeout(10):
            while conn.status.reconnects < 3:
                await asyncio.sleep(0.01)
        live.refuse_auth = False
        live_task = await live.wait_connected()
        assert live_task is not None
        live.send([danmaku(5)])
        item = await task
        assert isinstance(item, ViewerMessage)
        reasons = [s.reason for s in statuses if s.state == "retrying" and s.reason]
        assert any("refused the authentication" in r for r in reasons)
        ours = [
            r.getMessage() for r in caplog.records if not r.name.startswith("websockets.server")
        ]  # not the fake's
        text = " ".join(reasons + ours) + repr(conn.status) + repr(BilibiliCredentials(sessdata=SESSDATA))
        assert SESSDATA not in text
        await stream.aclose()


async def test_an_unknown_room_says_so_in_the_status() -> None:
    async with FakeBilibiliLive(room=6, sessdata=SESSDATA) as live:
        sessions = BilibiliSessions(999, "r1", endpoints=live.endpoints)
        conn = ResilientConnector("bilibili", "999", sessions, backoff=(0.001, 0.01))
        stream: Any = conn.messages()
        task = asyncio.create_task(anext(stream))
        async with asyncio.timeout(5):
            while conn.status.reconnects < 1:
                await asyncio.sleep(0.01)
        assert conn.status.state == "retrying"
        assert conn.status.reason is not None
        assert "room_init: code 60004" in conn.status.reason
        conn.stop()
        await finish(task, stream)


def test_a_room_must_be_a_number() -> None:
    with pytest.raises(ValueError, match="room is a number"):
        BilibiliSessions("abc", "r1")
