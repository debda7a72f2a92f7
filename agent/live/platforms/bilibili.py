"""Bilibili live danmaku: one connection to a live room's chat, as sessions for `ResilientConnector`.

Opening a session does what the web player does:

1. ``GET {live_api}/room/v1/Room/room_init?id=ROOM`` — the room's real id (short ids such as 6 map to long ones);
2. ``GET {web_api}/x/web-interface/nav`` — today's WBI keys (and the account's uid when a login cookie is set);
   without a ``buvid3`` cookie, ``GET {web_api}/x/frontend/finger/spi`` gives one;
3. ``GET {live_api}/xlive/web-room/v1/index/getDanmuInfo?id=REAL&type=0`` signed with WBI (``wts``, ``w_rid``)
   — a token and the chat servers;
4. a WebSocket to ``wss://HOST:PORT/sub``: an authentication packet (uid, room, token, buvid, protocol 3 =
   brotli), then a heartbeat packet every 30 s; the server answers heartbeats and sends commands
   (`agent.live.platforms.bilibili_wire`), which `bilibili_commands.command_item` turns into room items.

Each new session tries the next chat server of the list. A refused authentication, an API error (the platform's
code and message) or a closed socket ends the session with the reason; `ResilientConnector` reconnects.
Frames that cannot be read are yielded as `Malformed` and skipped.

Credentials: without a login cookie (``SESSDATA``) Bilibili still sends the chat, but with masked nicknames and a
uid of 0, so viewers cannot be told apart (no tickets from live chat). The cookies go in the HTTP requests'
Cookie header only; they are never logged, never in a status reason, never in a repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from agent.live.platforms import bilibili_wire as wire
from agent.live.platforms.bilibili_commands import command_item
from agent.live.resilient import Malformed, PlatformItem

__all__ = [
    "BilibiliApiError",
    "BilibiliCredentials",
    "BilibiliEndpoints",
    "BilibiliSessions",
    "mixin_key",
    "wbi_sign",
]

log = logging.getLogger(__name__)

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
#: The WBI key permutation the web client applies to ``img_key + sub_key`` (bilibili-API-collect, misc/sign/wbi).
_MIXIN_ORDER = (
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49, 33, 9, 42, 19, 29, 28, 14, 39,
    12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40, 61, 26, 17, 0, 1, 60, 51, 30, 4, 22, 25, 54, 21, 56, 59, 6, 63,
    57, 62, 11, 36, 20, 34, 44, 52,
)  # fmt: skip
_WBI_STRIPPED = str.maketrans("", "", "!'()*")


class BilibiliApiError(ConnectionError):
    """The platform's HTTP API refused a request: its code and message (never a credential)."""


@dataclass(frozen=True)
class BilibiliCredentials:
    """A Bilibili account's cookies (from settings, never from a plan). ``uid`` is read from the account
    when not given."""

    sessdata: str | None = field(default=None, repr=False)
    buvid3: str | None = field(default=None, repr=False)
    uid: int | None = None

    @property
    def logged_in(self) -> bool:
        return bool(self.sessdata)


@dataclass(frozen=True)
class BilibiliEndpoints:
    """Where the platform is. ``secure=False`` uses ``ws://`` and the servers' plain port (the loopback test
    server); the real platform is reached over ``wss://``."""

    live_api: str = "https://api.live.bilibili.com"
    web_api: str = "https://api.bilibili.com"
    secure: bool = True


@dataclass(frozen=True)
class _Handshake:
    real_room: int
    uid: int
    buvid: str
    token: str
    hosts: tuple[str, ...]


def mixin_key(img_key: str, sub_key: str) -> str:
    """The WBI mixing key: ``img_key + sub_key`` permuted, first 32 characters."""
    joined = img_key + sub_key
    return "".join(joined[i] for i in _MIXIN_ORDER if i < len(joined))[:32]


def wbi_sign(params: Mapping[str, Any], key: str, *, now: int) -> dict[str, str]:
    """``params`` with ``wts`` and ``w_rid``: md5 of the sorted, URL-encoded query (``!'()*`` removed from the
    values) followed by the mixing key."""
    signed = {str(k): str(v).translate(_WBI_STRIPPED) for k, v in params.items()}
    signed["wts"] = str(now)
    query = urllib.parse.urlencode(sorted(signed.items()), quote_via=urllib.parse.quote)
    signed["w_rid"] = hashlib.md5((query + key).encode(), usedforsecurity=False).hexdigest()
    return signed


def _key_of(url: object) -> str:
    name = str(url).rsplit("/", 1)[-1]
    return name.split(".", 1)[0]


class BilibiliSessions:
    """Opens sessions on one Bilibili live room (a `SessionFactory` for `ResilientConnector`).

    Args:
        room: the room number viewers see (``live.bilibili.com/ROOM``).
        room_id: our room the items are for.
        credentials: the account's cookies (None: anonymous, masked nicknames).
        endpoints: where the platform is.
        heartbeat_s: how often a heartbeat packet is sent (the web client: 30 s).
        timeout_s: HTTP requests, the WebSocket handshake and the authentication reply.
        transport: an httpx transport (None: the network).
        clock: wall-clock seconds for the WBI timestamp.
    """

    def __init__(
        self,
        room: int | str,
        room_id: str,
        *,
        credentials: BilibiliCredentials | None = None,
        endpoints: BilibiliEndpoints | None = None,
        heartbeat_s: float = 30.0,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        text = str(room).strip()
        if not text.isdigit() or int(text) <= 0:
            raise ValueError(f"a Bilibili room is a number (live.bilibili.com/NUMBER), got {room!r}")
        self.room = int(text)
        self.room_id = room_id
        self.credentials = credentials or BilibiliCredentials()
        self.endpoints = endpoints or BilibiliEndpoints()
        self.heartbeat_s = heartbeat_s
        self.timeout_s = timeout_s
        self._transport = transport
        self._clock = clock
        self._attempt = 0

    async def __call__(self) -> AsyncIterator[PlatformItem | Malformed]:
        """Connect and authenticate; the returned iterator yields the room's items until the socket ends."""
        shake = await self._handshake()
        host = shake.hosts[self._attempt % len(shake.hosts)]
        self._attempt += 1
        scheme = "wss" if self.endpoints.secure else "ws"
        socket = await connect(
            f"{scheme}://{host}/sub",
            open_timeout=self.timeout_s,
            max_size=wire.MAX_PACKET,
            user_agent_header=USER_AGENT,
            origin=None,
            ping_interval=None,  # the protocol's own heartbeat keeps the connection alive
        )
        try:
            await socket.send(
                wire.encode(
                    wire.OP_AUTH,
                    {
                        "uid": shake.uid,
                        "roomid": shake.real_room,
                        "protover": 3,
                        "platform": "web",
                        "type": 2,
                        "buvid": shake.buvid,
                        "key": shake.token,
                    },
                    version=1,
                )
            )
            early = await self._authenticated(socket)
        except BaseException:
            await socket.close()
            raise
        return self._items(socket, early)

    # -- HTTP ------------------------------------------------------------------------------------------
    async def _handshake(self) -> _Handshake:
        cookies: dict[str, str] = {}
        if self.credentials.sessdata:
            cookies["SESSDATA"] = self.credentials.sessdata
        headers = {"User-Agent": USER_AGENT, "Referer": "https://live.bilibili.com/"}
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.timeout_s, headers=headers, cookies=cookies
        ) as client:
            init = await self._get(
                client, f"{self.endpoints.live_api}/room/v1/Room/room_init", {"id": self.room}
            )
            real_room = int(init["room_id"])
            nav = await self._get(client, f"{self.endpoints.web_api}/x/web-interface/nav", {}, allow=(-101,))
            images = nav.get("wbi_img") or {}
            key = mixin_key(_key_of(images.get("img_url", "")), _key_of(images.get("sub_url", "")))
            uid = self.credentials.uid
            if uid is None:
                uid = int(nav.get("mid") or 0) if nav.get("isLogin") else 0
            buvid = self.credentials.buvid3
            if not buvid:
                spi = await self._get(client, f"{self.endpoints.web_api}/x/frontend/finger/spi", {})
                buvid = str(spi.get("b_3", ""))
            client.cookies.set("buvid3", buvid)
            params = wbi_sign({"id": real_room, "type": 0}, key, now=int(self._clock()))
            info = await self._get(
                client, f"{self.endpoints.live_api}/xlive/web-room/v1/index/getDanmuInfo", params
            )
        hosts = tuple(
            f"{h['host']}:{h['wss_port'] if self.endpoints.secure else h['ws_port']}"
            for h in info.get("host_list", [])
            if isinstance(h, Mapping) and h.get("host")
        )
        if not hosts:
            raise BilibiliApiError("getDanmuInfo returned no chat server")
        return _Handshake(real_room, uid, buvid, str(info["token"]), hosts)

    async def _get(
        self, client: httpx.AsyncClient, url: str, params: Mapping[str, Any], *, allow: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        name = url.rsplit("/", 1)[-1]
        try:
            response = await client.get(url, params=dict(params))
        except httpx.HTTPError as exc:
            raise BilibiliApiError(f"{name}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise BilibiliApiError(f"{name}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise BilibiliApiError(f"{name}: the reply is not JSON") from None
        if not isinstance(body, dict):
            raise BilibiliApiError(f"{name}: the reply is not a JSON object")
        code = body.get("code", 0)
        data = body.get("data")
        if code != 0 and code not in allow:
            raise BilibiliApiError(f"{name}: code {code} {str(body.get('message', ''))[:120]}".rstrip())
        if not isinstance(data, dict):
            raise BilibiliApiError(f"{name}: the reply has no data")
        return data

    # -- WebSocket -------------------------------------------------------------------------------------
    async def _authenticated(self, socket: ClientConnection) -> list[wire.Packet | wire.Broken]:
        """Wait for the authentication reply; returns the packets that came after it in the same message."""
        async with asyncio.timeout(self.timeout_s):
            while True:
                message = await socket.recv()
                if isinstance(message, str):
                    continue
                packets = wire.decode(message)
                for index, packet in enumerate(packets):
                    if isinstance(packet, wire.Packet) and packet.operation == wire.OP_AUTH_REPLY:
                        code = packet.body.get("code") if isinstance(packet.body, dict) else None
                        if code != 0:
                            raise BilibiliApiError(
                                f"the chat server refused the authentication (code {code})"
                            )
                        return packets[index + 1 :]

    async def _items(
        self, socket: ClientConnection, early: list[wire.Packet | wire.Broken]
    ) -> AsyncIterator[PlatformItem | Malformed]:
        beat = asyncio.create_task(self._heartbeat(socket))
        try:
            yield PlatformItem(None, heartbeat=True)  # authenticated: the connection is alive
            for got in self._read(early):
                yield got
            while True:
                try:
                    message = await socket.recv()
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd is not None else 1006
                    raise ConnectionError(f"the chat server closed the connection ({code})") from None
                if isinstance(message, str):
                    yield Malformed("a text frame (the protocol sends binary packets)")
                    continue
                for got in self._read(wire.decode(message)):
                    yield got
        finally:
            beat.cancel()
            await asyncio.wait({beat})  # never swallows a cancellation of this task
            await socket.close()

    def _read(self, packets: list[wire.Packet | wire.Broken]) -> list[PlatformItem | Malformed]:
        out: list[PlatformItem | Malformed] = []
        for packet in packets:
            if isinstance(packet, wire.Broken):
                out.append(Malformed(packet.reason))
            elif packet.operation == wire.OP_HEARTBEAT_REPLY:
                out.append(PlatformItem(None, heartbeat=True))
            elif packet.operation == wire.OP_COMMAND:
                item = command_item(self.room_id, packet.body)
                if item is not None:
                    out.append(item)
        return out

    async def _heartbeat(self, socket: ClientConnection) -> None:
        packet = wire.encode(wire.OP_HEARTBEAT, b"[object Object]", version=1)
        with contextlib.suppress(ConnectionClosed):
            while True:
                await socket.send(packet)
                await asyncio.sleep(self.heartbeat_s)
