"""The TikTok LIVE connector against TikTokLive 7's own objects.

Unit tests (most of the file): real TikTokLive event objects (its betterproto classes) go through a real
`TikTokLiveClient`'s event emitter — decoded from their wire bytes with the library's ``EVENT_MAPPINGS``, custom
events (follow, share, LIVE end) made by the client's ``handle_custom_event``, emitted with ``client.emit`` as
the library's WebSocket loop does — from a client whose network ``start()`` is replaced by a scripted one.

One integration test (``test_the_real_client_over_loopback_sign_and_websocket_servers``): the real client, built
by `TikTokSessions`' default factory, talks HTTP and WebSocket to loopback servers that stand in for tiktok.com,
the Euler Stream sign server and TikTok's push server, sending protobuf webcast frames (TikTokLiveProto classes).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from TikTokLive.client.client import TikTokLiveClient
from TikTokLive.client.errors import UserOfflineError, WebcastBlockedError
from TikTokLive.client.web.web_settings import WebDefaults
from TikTokLive.events import (
    CommentEvent,
    ConnectEvent,
    ControlEvent,
    DisconnectEvent,
    EmoteChatEvent,
    GiftEvent,
    JoinEvent,
    LikeEvent,
    RoomUserSeqEvent,
    SocialEvent,
)
from TikTokLive.events.proto_events import EVENT_MAPPINGS
from TikTokLive.proto import (
    BaseProtoMessage,
    CommonMessageData,
    Gift,
    ProtoMessageFetchResult,
    PushHeader,
    User,
    WebcastPushFrame,
)
from TikTokLive.proto.custom_proto import ControlAction
from TikTokLiveProto.v3.webcast.im import MemberMessageAction
from TikTokLiveProto.v3.webcast.model.message.common import Text

from agent.live.events import RoomEvent, ViewerMessage
from agent.live.platforms.tiktok import TikTokSessionError, TikTokSessions, tiktok_item
from agent.live.resilient import ConnectorStatus, Malformed, PlatformItem, ResilientConnector

pytestmark = pytest.mark.unit

ROOM = "room-1"
KEY = "euler-KEY-0123456789abcdef"
SESSION = "f3a9c0ffee00badc0de1234567890abc"


# -- TikTok's messages, as TikTokLive's classes ---------------------------------------------------------------
def _common(msg_id: int, method: str, key: str = "") -> CommonMessageData:
    return CommonMessageData(msg_id=msg_id, method=method, display_text=Text(key=key) if key else None)


def _user(uid: int, nickname: str, handle: str = "") -> User:
    return User(id=uid, nickname=nickname, display_id=handle or nickname.lower())


def comment(msg_id: int, text: str, uid: int = 101, nickname: str = "Ann") -> CommentEvent:
    return CommentEvent(common=_common(msg_id, "WebcastChatMessage"), user=_user(uid, nickname), content=text)


def gift(msg_id: int, name: str, *, streakable: bool, repeat: int, end: bool, uid: int = 102) -> GiftEvent:
    return GiftEvent(
        common=_common(msg_id, "WebcastGiftMessage"),
        user=_user(uid, "Gifter"),
        gift=Gift(id=5655, name=name, type=1 if streakable else 2, diamond_count=1),
        repeat_count=repeat,
        repeat_end=int(end),
    )


def social(msg_id: int, key: str, uid: int = 103) -> SocialEvent:
    return SocialEvent(common=_common(msg_id, "WebcastSocialMessage", key), user=_user(uid, "Fan"), action=1)


def join(
    msg_id: int, uid: int, nickname: str, handle: str, action: int = MemberMessageAction.JOINED
) -> JoinEvent:
    return JoinEvent(
        common=_common(msg_id, "WebcastMemberMessage", "live_room_enter_toast"),
        user=User(id=uid, nickname=nickname, display_id=handle),
        action=action,
    )


def like(msg_id: int, count: int, total: int = 1000) -> LikeEvent:
    return LikeEvent(
        common=_common(msg_id, "WebcastLikeMessage"), user=_user(104, "Liker"), count=count, total=total
    )


def viewers(total: int) -> RoomUserSeqEvent:
    return RoomUserSeqEvent(common=_common(0, "WebcastRoomUserSeqMessage"), total=total, total_user=total * 3)


def live_end() -> ControlEvent:
    return ControlEvent(common=_common(900, "WebcastControlMessage"), action=ControlAction.STREAM_ENDED)


# -- the library's client with a scripted network --------------------------------------------------------------
class ScriptedClient(TikTokLiveClient):  # type: ignore[misc]  # TikTokLive ships no type hints
    """TikTokLive's client whose network ``start()`` is replaced: it fails as the library does, or returns the
    loop task, which emits a ConnectEvent and the scripted messages the way ``_ws_client_loop`` does
    (payload decoded into the ``EVENT_MAPPINGS`` class, the custom event first), then ends, raises, or holds
    the connection open until ``disconnect()``."""

    def __init__(
        self,
        script: Sequence[Any] = (),
        *,
        refuse: BaseException | None = None,
        end_with: BaseException | None = None,
        hold: bool = False,
    ) -> None:
        super().__init__(unique_id="@shop")
        self.script = list(script)
        self.refuse = refuse
        self.end_with = end_with
        self.hold = hold
        self.disconnects = 0
        self.loop_task: asyncio.Task[None] | None = None
        self.start_kwargs: dict[str, Any] = {}
        self._closed = asyncio.Event()

    async def start(self, **kwargs: Any) -> asyncio.Task[None]:
        self.start_kwargs = kwargs
        await asyncio.sleep(0)  # the HTTP round trips
        if self.refuse is not None:
            raise self.refuse
        self.loop_task = asyncio.get_running_loop().create_task(self._play())
        return self.loop_task

    async def _play(self) -> None:
        connected = ConnectEvent(unique_id=self.unique_id, room_id=7001)
        self.emit(connected.get_type(), connected)
        for step in self.script:
            for event in await self._decoded(step):
                self.emit(event.get_type(), event)
            await asyncio.sleep(0)
        if self.end_with is not None:
            raise self.end_with
        if self.hold:
            await self._closed.wait()
        ended = DisconnectEvent()
        self.emit(ended.get_type(), ended)

    async def _decoded(self, event: Any) -> list[Any]:
        method = event.common.method
        message = BaseProtoMessage(method=method, payload=bytes(event), msg_id=event.common.msg_id)
        proto_event = EVENT_MAPPINGS[method]().parse(message.payload)
        custom = await self.handle_custom_event(message, proto_event)
        return [custom, proto_event] if custom is not None else [proto_event]

    async def disconnect(self, close_client: bool = False) -> None:
        self.disconnects += 1
        self._closed.set()
        await super().disconnect(close_client)


async def _no_wait(seconds: float) -> None:
    return None


async def _drain(session: AsyncIterator[PlatformItem | Malformed]) -> list[PlatformItem | Malformed]:
    return [item async for item in session]


async def _until(condition: Callable[[], bool], *, limit_s: float = 2.0) -> None:
    """Let the loop run (closing abandoned sessions happens in tasks) until ``condition``."""
    for _ in range(int(limit_s / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def _kinds(items: list[PlatformItem | Malformed]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, Malformed):
            out.append(("malformed", item.reason))
        elif item.item is None:
            out.append(("heartbeat", item.viewers))
        elif isinstance(item.item, ViewerMessage):
            out.append(("chat", item.item.nickname, item.item.text, item.item.user_id, item.event_id))
        else:
            e = item.item
            out.append((e.kind, e.nickname, e.user_id, e.detail, e.count, item.event_id))
    return out


# -- events -----------------------------------------------------------------------------------------------------
async def test_each_event_type_becomes_a_room_item_with_tiktoks_ids_and_nicknames() -> None:
    client = ScriptedClient(
        [
            comment(9001, "2号多少钱?"),
            like(9002, 15),
            social(9003, "pm_main_follow_message_viewer_2"),  # emitted as FollowEvent + SocialEvent
            social(9004, "pm_mt_guidance_share"),  # ShareEvent + SocialEvent
            join(9005, 105, "", "bob_handle"),  # no nickname: the @handle
            join(9006, 106, "Sub", "sub", action=MemberMessageAction.SUBSCRIBED),  # not an entrance
            viewers(321),
            gift(9007, "Universe", streakable=False, repeat=1, end=False),
            EmoteChatEvent(common=_common(9008, "WebcastEmoteChatMessage"), user=_user(107, "E")),
        ]
    )
    sessions = TikTokSessions("@shop", ROOM, client_factory=lambda: client)
    items = await _drain(await sessions())

    assert _kinds(items) == [
        ("heartbeat", None),  # ConnectEvent
        ("chat", "Ann", "2号多少钱?", "tiktok:101", "9001"),
        ("like", "Liker", "tiktok:104", "", 15, "9002"),
        ("follow", "Fan", "tiktok:103", "", 1, "9003"),
        ("share", "Fan", "tiktok:103", "", 1, "9004"),
        ("enter", "bob_handle", "tiktok:105", "", 1, "9005"),
        ("heartbeat", 321),
        ("gift", "Gifter", "tiktok:102", "Universe", 1, "9007"),
    ]
    chat = items[1]
    assert isinstance(chat, PlatformItem)
    assert isinstance(chat.item, ViewerMessage)
    assert chat.item.room_id == ROOM
    assert chat.item.message_id == "9001"
    assert client.start_kwargs == {"fetch_room_info": False, "fetch_gift_info": False}
    assert client.disconnects == 1  # closed once the client's task ended


async def test_a_gift_streak_counts_once_when_it_ends() -> None:
    client = ScriptedClient(
        [
            gift(1, "Rose", streakable=True, repeat=1, end=False),
            gift(2, "Rose", streakable=True, repeat=2, end=False),
            gift(3, "Rose", streakable=True, repeat=3, end=False),
            gift(4, "Rose", streakable=True, repeat=3, end=True),  # the streak's last event
            gift(5, "Lion", streakable=False, repeat=1, end=False),  # not streakable: counted as it comes
        ]
    )
    items = await _drain(await TikTokSessions("shop", ROOM, client_factory=lambda: client)())
    gifts = [i.item for i in items if isinstance(i, PlatformItem) and isinstance(i.item, RoomEvent)]
    assert [(g.detail, g.count) for g in gifts] == [("Rose", 3), ("Lion", 1)]


def test_odd_and_unknown_events_are_malformed_or_ignored_never_raised() -> None:
    no_user = CommentEvent(common=_common(1, "WebcastChatMessage"), content="hi")
    no_gift = GiftEvent(common=_common(2, "WebcastGiftMessage"), user=_user(1, "A"), repeat_end=1)
    odd_name = CommentEvent(common=_common(3, "WebcastChatMessage"), user=User(id=1), content="x")
    odd_name.user.nickname = 42  # the classes validate on construction, not on assignment
    empty = CommentEvent(common=_common(4, "WebcastChatMessage"), user=_user(1, "A"), content="  ")
    nameless = CommentEvent(common=_common(5, "WebcastChatMessage"), user=User(id=1), content="hi")
    no_likes = LikeEvent(common=_common(6, "WebcastLikeMessage"), user=_user(1, "A"), count=0)
    reasons = [tiktok_item(ROOM, e) for e in (no_user, no_gift, odd_name, empty, nameless, no_likes)]
    assert [r.reason if isinstance(r, Malformed) else r for r in reasons] == [
        "CommentEvent: no user",
        "GiftEvent: no gift",
        "CommentEvent: nickname is int, not text",
        "CommentEvent: no text",
        "CommentEvent: a user without a nickname or handle",
        "LikeEvent: count 0",
    ]
    assert tiktok_item(ROOM, object()) is None
    assert (
        tiktok_item(ROOM, SocialEvent(common=_common(7, "WebcastSocialMessage"), user=_user(1, "A"))) is None
    )

    long = tiktok_item(ROOM, comment(8, "多" * 5000, nickname="N" * 3000))
    assert isinstance(long, PlatformItem)
    assert isinstance(long.item, ViewerMessage)
    assert len(long.item.text) == 2000
    assert len(long.item.nickname) == 2000
    anonymous = tiktok_item(
        ROOM, CommentEvent(common=_common(0, "WebcastChatMessage"), user=User(nickname="x"), content="hi")
    )
    assert isinstance(anonymous, PlatformItem)
    assert anonymous.event_id is None
    assert isinstance(anonymous.item, ViewerMessage)
    assert anonymous.item.user_id is None


async def test_malformed_events_are_counted_by_the_connector_and_the_show_goes_on() -> None:
    client = ScriptedClient(
        [
            GiftEvent(common=_common(1, "WebcastGiftMessage"), user=_user(1, "A"), repeat_end=1),
            CommentEvent(common=_common(2, "WebcastChatMessage"), content="who am I"),
            like(3, 0),
            comment(4, "still here"),
        ],
        hold=True,
    )
    connector = ResilientConnector(
        "tiktok", ROOM, TikTokSessions("shop", ROOM, client_factory=lambda: client), sleep=_no_wait
    )
    got: list[str] = []
    async for item in connector.messages():
        assert isinstance(item, ViewerMessage)
        got.append(item.text)
        connector.stop()
    assert got == ["still here"]
    assert connector.status.malformed == 3
    assert connector.status.reconnects == 0
    await _until(lambda: client.disconnects == 1)


async def test_offline_and_dropped_sessions_are_retried_and_replays_are_not_repeated() -> None:
    clients = [
        ScriptedClient(
            [comment(1, "one"), comment(2, "two")],
            end_with=WebcastBlockedError('WebSocket rejected by TikTok due to "DEVICE_BLOCKED".'),
        ),
        ScriptedClient(refuse=UserOfflineError("The requested TikTok LIVE user '@shop' is offline.")),
        ScriptedClient([comment(2, "two"), comment(3, "three"), viewers(55)], hold=True),  # replays "two"
    ]
    made = iter(clients)
    reasons: list[str | None] = []

    def record(status: ConnectorStatus) -> None:
        reasons.append(status.reason)

    connector = ResilientConnector(
        "tiktok",
        ROOM,
        TikTokSessions("shop", ROOM, client_factory=lambda: next(made)),
        sleep=_no_wait,
        on_status=record,
    )
    got: list[str] = []
    async for item in connector.messages():
        assert isinstance(item, ViewerMessage)
        got.append(item.text)
        if item.text == "three":
            connector.stop()
    assert got == ["one", "two", "three"]
    status = connector.status
    assert status.duplicates == 1
    assert status.received == 3
    assert status.reconnects == 2
    assert status.sessions == 3
    assert status.state == "stopped"
    failures = [r for r in reasons if r]
    assert failures[0].startswith(
        "TikTokSessionError: WebcastBlockedError: TikTokLive v7.0.1 -> WebSocket rejected"
    )
    assert failures[1] == (
        "TikTokSessionError: UserOfflineError: TikTokLive v7.0.1 -> The requested TikTok LIVE user '@shop' is offline."
    )
    await _until(lambda: all(c.disconnects == 1 for c in clients))
    assert all(c.loop_task is None or c.loop_task.done() for c in clients)


async def test_the_live_ending_ends_the_session_with_the_reason() -> None:
    client = ScriptedClient([comment(1, "bye"), live_end()], hold=True)  # the library disconnects itself
    session = await TikTokSessions("shop", ROOM, client_factory=lambda: client)()
    seen: list[PlatformItem | Malformed] = []

    async def read() -> None:
        async for item in session:
            seen.append(item)

    with pytest.raises(TikTokSessionError, match=r"the LIVE of @shop ended \(LiveEndEvent\)"):
        await read()
    assert len(seen) == 2  # the heartbeat, the comment
    assert client.disconnects >= 1


async def test_closing_a_session_disconnects_the_client() -> None:
    client = ScriptedClient(hold=True)
    session = await TikTokSessions("shop", ROOM, client_factory=lambda: client)()
    first = await anext(session)
    assert isinstance(first, PlatformItem)
    assert first.heartbeat
    assert client.disconnects == 0
    await session.aclose()  # type: ignore[attr-defined]
    assert client.disconnects == 1
    assert client.loop_task is not None
    assert client.loop_task.done()


async def test_a_silent_connection_is_closed_by_the_watchdog_and_reopened() -> None:
    clients = [
        ScriptedClient(hold=True),
        ScriptedClient([comment(1, "awake")], hold=True),
    ]  # connect, then nothing
    made = iter(clients)
    connector = ResilientConnector(
        "tiktok",
        ROOM,
        TikTokSessions("shop", ROOM, client_factory=lambda: next(made)),
        stale_after_s=0.01,
        sleep=_no_wait,
    )
    async for item in connector.messages():
        assert isinstance(item, ViewerMessage)
        connector.stop()
    assert connector.status.reconnects == 1
    assert clients[0].disconnects == 1  # closed by the timeout, before the second client was made
    assert clients[0].loop_task is not None
    assert clients[0].loop_task.done()


async def test_credentials_stay_out_of_status_reasons_reprs_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    library_log = logging.getLogger("TikTokLive")
    library_log.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    leak = RuntimeError(
        f"sign failed for https://sign.example/webcast/fetch?session_id={SESSION}&apiKey={KEY}"
    )
    clients = iter([ScriptedClient(end_with=leak), ScriptedClient([comment(1, "ok")], hold=True)])
    sessions = TikTokSessions(
        "shop", ROOM, sign_api_key=KEY, session_id=SESSION, client_factory=lambda: next(clients)
    )
    reasons: list[str] = []
    connector = ResilientConnector(
        "tiktok", ROOM, sessions, sleep=_no_wait, on_status=lambda s: reasons.append(str(s.to_dict()))
    )
    try:
        async for _item in connector.messages():
            connector.stop()
        # the library's own line with the WebSocket's cookies (TikTokLive logs the session id's first 8 chars)
        library_log.warning(
            f"Created WS Cookie string (Session ID: {SESSION[:8]}****). Cookies: sessionid={SESSION};"
        )
    finally:
        library_log.removeHandler(caplog.handler)
    assert any("RuntimeError: sign failed" in r and "session_id=***&apiKey=***" in r for r in reasons)
    text = "\n".join(reasons) + caplog.text + repr(sessions)
    assert KEY not in text
    assert SESSION not in text
    assert SESSION[:8] not in text
    assert "sign_api_key=<set>" in repr(sessions)


# -- the real client over loopback servers ----------------------------------------------------------------------
class FakeTikTok:
    """tiktok.com (the LIVE page, check_alive), the sign server (``/webcast/fetch``) and the push server
    (``/ws``) on one loopback port. Each connection gets the next session's frames."""

    def __init__(self) -> None:
        self.base = ""
        self.fetches: list[tuple[str | None, dict[str, str]]] = []
        self.ws_cookies: list[str] = []
        self.client_frames: list[str] = []
        self.closed = 0
        self.history: list[Any] = [comment(500, "asked before we came")]
        self.sessions: list[list[list[Any]]] = [
            [
                [
                    gift(601, "Rose", streakable=True, repeat=1, end=False),
                    gift(602, "Rose", streakable=True, repeat=2, end=True),
                    social(603, "pm_main_follow_message_viewer_2"),
                    join(604, 105, "Bob", "bob"),
                    viewers(88),
                    like(605, 5),
                    GiftEvent(common=_common(606, "WebcastGiftMessage"), user=_user(1, "A"), repeat_end=1),
                ]
            ],
            [[comment(501, "hello again")]],
        ]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/@shop/live", self.live_page)
        app.router.add_get("/webcast/room/check_alive/", self.check_alive)
        app.router.add_get("/webcast/fetch", self.fetch)
        app.router.add_get("/ws", self.push)
        return app

    async def live_page(self, request: web.Request) -> web.Response:
        state = '{"LiveRoom": {"liveRoomUserInfo": {"user": {"roomId": "7001", "uniqueId": "shop", "status": 2}}}}'
        html = f'<html><script id="SIGI_STATE" type="application/json">{state}</script></html>'
        return web.Response(text=html, content_type="text/html")

    async def check_alive(self, request: web.Request) -> web.Response:
        assert request.query["room_ids"] == "7001"
        return web.json_response({"data": [{"alive": True, "room_id": 7001}]})

    async def fetch(self, request: web.Request) -> web.Response:
        self.fetches.append((request.headers.get("X-Api-Key"), dict(request.query)))
        first = ProtoMessageFetchResult(
            messages=[_message(e) for e in self.history],
            cursor="cursor-1",
            internal_ext="ext-1",
            push_server=self.base.replace("http", "ws", 1) + "/ws",
            route_params={"wrss": "route-param"},
            is_first=True,
        )
        return web.Response(
            body=bytes(first),
            content_type="application/x-protobuf",
            headers={"X-Set-TT-Cookie": "ttwid=loopback"},
        )

    async def push(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("echo-protocol",))
        await ws.prepare(request)
        self.ws_cookies.append(request.headers.get("Cookie", ""))
        frames = self.sessions.pop(0) if self.sessions else []
        try:
            async for message in ws:
                if message.type != WSMsgType.BINARY:
                    continue
                kind = WebcastPushFrame().parse(message.data).payload_type
                self.client_frames.append(kind)
                if kind == "im_enter_room":  # the client is in the room: send the session's frames
                    for n, batch in enumerate(frames):
                        result = bytes(
                            ProtoMessageFetchResult(messages=[_message(e) for e in batch], cursor="c")
                        )
                        await ws.send_bytes(
                            bytes(
                                WebcastPushFrame(
                                    log_id=n + 1,
                                    payload_type="msg",
                                    payload_encoding="pb",
                                    headers=[PushHeader(key="compress_type", value="gzip")],
                                    payload=gzip.compress(result),
                                )
                            )
                        )
                    if len(self.sessions) == 1:  # the first connection: the server drops it
                        await ws.close()
        finally:
            self.closed += 1
        return ws


def _message(event: Any) -> BaseProtoMessage:
    return BaseProtoMessage(method=event.common.method, payload=bytes(event), msg_id=event.common.msg_id)


@pytest.fixture
async def fake_tiktok(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTikTok]:
    fake = FakeTikTok()
    runner = web.AppRunner(fake.app(), access_log=None)  # the fake's own log would show the credentials
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base = f"http://{host}:{port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SIGN_API_URL", "SIGN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(WebDefaults, "tiktok_app_url", fake.base)
    monkeypatch.setattr(WebDefaults, "tiktok_sign_url", fake.base)
    monkeypatch.setattr(WebDefaults, "tiktok_webcast_url", fake.base + "/webcast")
    # TikTokLive's opt-in for sending a sessionid to the sign server: the sign server's host
    monkeypatch.setenv("WHITELIST_AUTHENTICATED_SESSION_ID_HOST", f"{host}:{port}")
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.mark.integration
async def test_the_real_client_over_loopback_sign_and_websocket_servers(
    fake_tiktok: FakeTikTok, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    library_log = logging.getLogger("TikTokLive")
    library_log.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    # every line the library can log, to look for credentials (each new client would reset the level to ERROR)
    monkeypatch.setattr(library_log, "level", logging.DEBUG)
    monkeypatch.setattr(library_log, "setLevel", lambda level: None)
    sessions = TikTokSessions("@shop", ROOM, sign_api_key=KEY, session_id=SESSION, tt_target_idc="useast2a")
    connector = ResilientConnector("tiktok", ROOM, sessions, sleep=_no_wait)
    got: list[ViewerMessage | RoomEvent] = []
    try:
        async with asyncio.timeout(10):
            async for item in connector.messages():
                got.append(item)
                if isinstance(item, ViewerMessage) and item.text == "hello again":
                    connector.stop()
            await _until(lambda: fake_tiktok.closed == 2)
    finally:
        library_log.removeHandler(caplog.handler)

    assert [(type(i).__name__, getattr(i, "kind", None), i.nickname) for i in got] == [
        ("ViewerMessage", None, "Ann"),  # the sign server's history, on the first connection
        ("RoomEvent", "gift", "Gifter"),
        ("RoomEvent", "follow", "Fan"),
        ("RoomEvent", "enter", "Bob"),
        ("RoomEvent", "like", "Liker"),
        ("ViewerMessage", None, "Ann"),  # the second connection: the history again is dropped, this is new
    ]
    assert isinstance(got[1], RoomEvent)
    assert (got[1].detail, got[1].count) == ("Rose", 2)
    assert isinstance(got[-1], ViewerMessage)
    assert got[-1].text == "hello again"
    status = connector.status
    assert (status.sessions, status.duplicates, status.malformed, status.viewers) == (2, 1, 1, 88)
    # the credentials went where TikTokLive sends them: the key to the sign server, the sessionid as cookies
    assert [api_key for api_key, _ in fake_tiktok.fetches] == [KEY, KEY]
    assert all(
        q["session_id"] == SESSION and q["tt_target_idc"] == "useast2a" for _, q in fake_tiktok.fetches
    )
    assert all(f"sessionid={SESSION};" in cookies for cookies in fake_tiktok.ws_cookies)
    assert fake_tiktok.client_frames.count("im_enter_room") == 2
    assert "hb" in fake_tiktok.client_frames
    # … and nowhere in the logs, though the library logged the WebSocket's cookie string
    assert "Cookie string for a LOGGED IN" in caplog.text
    assert (
        "> Cookie: tt-target-idc=useast2a; sessionid=***;" in caplog.text
    )  # websockets' DEBUG line, redacted
    assert KEY not in caplog.text
    assert SESSION not in caplog.text
    assert SESSION[:8] not in caplog.text


def test_sessions_need_a_handle() -> None:
    with pytest.raises(ValueError, match="@handle"):
        TikTokSessions(" @ ", ROOM)
