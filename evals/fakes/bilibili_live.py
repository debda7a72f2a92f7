"""A loopback Bilibili live server: the HTTP API calls a chat client makes and the danmaku WebSocket.

It speaks what `agent.live.platforms.bilibili.BilibiliSessions` (and the web player) expect: ``room_init`` (short id →
real id), ``nav`` (WBI keys; code -101 without a login cookie), ``finger/spi`` (a buvid), a WBI-signed
``getDanmuInfo`` (token and chat servers; an unsigned or wrongly signed request gets code -352 as the platform's
risk control does), and ``/sub``: the client's authentication packet (checked against the token), heartbeat
replies with a popularity figure, commands sent as plain, zlib or brotli packets, raw bytes for malformed frames,
and forced disconnects. Used by the connector tests and `anchor bench --only connectors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from agent.live.platforms import bilibili_wire as wire
from agent.live.platforms.bilibili import BilibiliEndpoints, mixin_key, wbi_sign

__all__ = ["FakeBilibiliLive", "danmaku_command", "flood_commands"]

_IMG_KEY = "7cd084941338484aae1ad9425b84077c"
_SUB_KEY = "4932caff0ff746eab6f01bf08b70ac45"


@dataclass
class _Client:
    connection: ServerConnection
    auth: dict[str, Any]
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)


class FakeBilibiliLive:
    """One live room on loopback (see the module).

    Args:
        room: the room number viewers see; ``real_room`` the id it maps to.
        sessdata: the login cookie the fake accepts as logged in (uid ``uid``).
        popularity: the figure heartbeat replies carry.
    """

    def __init__(
        self,
        room: int = 6,
        real_room: int = 7734200,
        *,
        sessdata: str = "fake-sessdata",
        uid: int = 424242,
        popularity: int = 1200,
    ) -> None:
        self.room = room
        self.real_room = real_room
        self.sessdata = sessdata
        self.uid = uid
        self.popularity = popularity
        self.token = secrets.token_hex(16)
        self.clients: list[_Client] = []
        self.auths: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], str]] = []  # path, query, cookie header
        self.heartbeats = 0
        self.refuse_auth = False
        self.connected = asyncio.Event()
        self._server: Server | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeBilibiliLive:
        self._server = await serve(
            self._session,
            "127.0.0.1",
            0,
            process_request=self._http,
            max_size=wire.MAX_PACKET,
            ping_interval=None,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None, "use the fake as `async with FakeBilibiliLive() as live:`"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def endpoints(self) -> BilibiliEndpoints:
        base = f"http://127.0.0.1:{self.port}"
        return BilibiliEndpoints(live_api=base, web_api=base, secure=False)

    # -- what a test sends -----------------------------------------------------------------------------
    def send(
        self, commands: Sequence[Mapping[str, Any]], *, version: int = wire.VER_JSON, level: int | None = None
    ) -> int:
        """Send commands to every authenticated client: one packet each (version 0), or one zlib (2) or brotli
        (3) packet holding them all (``level``: the compression level). Returns how many clients they went to."""
        packets = [wire.encode(wire.OP_COMMAND, dict(c)) for c in commands]
        message = (
            b"".join(packets) if version == wire.VER_JSON else wire.compress(packets, version, level=level)
        )
        return self.send_raw(message)

    def send_raw(self, message: bytes) -> int:
        for client in self.clients:
            client.queue.put_nowait(message)
        return len(self.clients)

    def drop(self) -> int:
        """Cut every connection without a closing handshake (a network failure); returns how many."""
        dropped = 0
        for client in list(self.clients):
            client.connection.transport.abort()
            dropped += 1
        self.clients.clear()
        self.connected.clear()
        return dropped

    async def wait_connected(self, timeout: float = 10.0) -> _Client:
        async with asyncio.timeout(timeout):
            await self.connected.wait()
        return self.clients[-1]

    # -- HTTP API --------------------------------------------------------------------------------------
    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        parsed = urllib.parse.urlsplit(request.path)
        if parsed.path == "/sub":
            return None  # the WebSocket handshake goes on
        query = dict(urllib.parse.parse_qsl(parsed.query))
        cookie = request.headers.get("Cookie", "")
        self.requests.append((parsed.path, query, cookie))
        logged_in = f"SESSDATA={self.sessdata}" in cookie
        if parsed.path == "/room/v1/Room/room_init":
            if query.get("id") != str(self.room) and query.get("id") != str(self.real_room):
                return _json({"code": 60004, "message": "直播间不存在", "data": {}})
            return _json(
                {"code": 0, "message": "ok", "data": {"room_id": self.real_room, "short_id": self.room}}
            )
        if parsed.path == "/x/web-interface/nav":
            images = {
                "img_url": f"https://i0.hdslb.com/bfs/wbi/{_IMG_KEY}.png",
                "sub_url": f"https://i0.hdslb.com/bfs/wbi/{_SUB_KEY}.png",
            }
            if logged_in:
                data = {"isLogin": True, "mid": self.uid, "uname": "商家", "wbi_img": images}
                return _json({"code": 0, "message": "0", "data": data})
            return _json(
                {"code": -101, "message": "账号未登录", "data": {"isLogin": False, "wbi_img": images}}
            )
        if parsed.path == "/x/frontend/finger/spi":
            return _json({"code": 0, "data": {"b_3": "FAKE-BUVID3-0000", "b_4": "x"}})
        if parsed.path == "/xlive/web-room/v1/index/getDanmuInfo":
            if not self._signed(dict(query)):
                return _json({"code": -352, "message": "-352", "data": {}})
            hosts = [{"host": "127.0.0.1", "port": self.port, "ws_port": self.port, "wss_port": 443}]
            return _json({"code": 0, "message": "0", "data": {"token": self.token, "host_list": hosts}})
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")

    def _signed(self, query: dict[str, str]) -> bool:
        given = query.pop("w_rid", "")
        wts = query.pop("wts", "")
        if not wts.isdigit():
            return False
        expected = wbi_sign(query, mixin_key(_IMG_KEY, _SUB_KEY), now=int(wts))["w_rid"]
        return secrets.compare_digest(given, expected)

    # -- WebSocket -------------------------------------------------------------------------------------
    async def _session(self, connection: ServerConnection) -> None:
        try:
            first = await connection.recv()
        except ConnectionClosed:
            return
        packets = wire.decode(first if isinstance(first, bytes) else first.encode())
        auth = packets[0].body if packets and isinstance(packets[0], wire.Packet) else None
        if not isinstance(auth, dict) or packets[0].operation != wire.OP_AUTH:  # type: ignore[union-attr]
            await connection.close(1008, "expected an authentication packet")
            return
        self.auths.append(auth)
        ok = not self.refuse_auth and auth.get("key") == self.token and auth.get("roomid") == self.real_room
        await connection.send(wire.encode(wire.OP_AUTH_REPLY, {"code": 0 if ok else -101}))
        if not ok:
            await connection.close()
            return
        client = _Client(connection, auth)
        self.clients.append(client)
        self.connected.set()
        sender = asyncio.create_task(self._send_loop(client))
        try:
            async for message in connection:
                for packet in wire.decode(message if isinstance(message, bytes) else message.encode()):
                    if isinstance(packet, wire.Packet) and packet.operation == wire.OP_HEARTBEAT:
                        self.heartbeats += 1
                        reply = wire.encode(
                            wire.OP_HEARTBEAT_REPLY, self.popularity.to_bytes(4, "big"), version=1
                        )
                        client.queue.put_nowait(reply)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            if client in self.clients:
                self.clients.remove(client)

    @staticmethod
    async def _send_loop(client: _Client) -> None:
        while True:
            message = await client.queue.get()
            if message is None:
                return
            await client.connection.send(message)


def _json(body: dict[str, Any]) -> Response:
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = Headers(
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return Response(HTTPStatus.OK.value, HTTPStatus.OK.phrase, headers, data)


def danmaku_command(
    text: str,
    uid: int,
    nickname: str,
    *,
    ident: str,
    sent_ms: int = 1_700_000_000_000,
    cmd: str = "DANMU_MSG",
) -> dict[str, Any]:
    """One danmaku as the platform sends it: ``info`` = [meta (its 5th field the send time in ms, its 16th
    ``{"id_str": ident}``), the text, [uid, nickname]]; older rooms name it ``DANMU_MSG:4:0:2:2:2:0``."""
    meta = [0, 1, 25, 16777215, sent_ms, 0, 0, "", 0, 0, 0, "", 0, "{}", "{}", {"id_str": ident}]
    return {"cmd": cmd, "info": [meta, text, [uid, nickname]]}


# -- a chat flood for `anchor bench --only connectors` (run in its own process) -----------------------------
def flood_commands(
    n: int, start: int, rnd: Any, texts: list[str], sent_us: int, *, stamp: bool = False
) -> list[dict[str, Any]]:
    """``n`` commands of a busy room's mix — mostly danmaku, some gifts, likes, entries, a super chat now and
    then — numbered from ``start``; danmaku carry the send time (ms, as the platform's do) and, with ``stamp``,
    the send time in microseconds at the end of their id ("f12-1700000000123456": the bench's latency)."""
    out: list[dict[str, Any]] = []
    sent_ms = sent_us // 1000
    for k in range(start, start + n):
        uid = 10_000 + rnd.randrange(5000)
        roll = rnd.random()
        if roll < 0.80:
            ident = f"f{k}-{sent_us}" if stamp else f"f{k}"
            out.append(danmaku_command(rnd.choice(texts), uid, f"观众{uid}", ident=ident, sent_ms=sent_ms))
        elif roll < 0.86:
            data = {"uid": uid, "uname": f"观众{uid}", "giftName": "小心心", "num": 1, "tid": f"g{k}"}
            out.append({"cmd": "SEND_GIFT", "data": data})
        elif roll < 0.92:
            out.append({"cmd": "LIKE_INFO_V3_CLICK", "data": {"uid": uid, "uname": f"观众{uid}"}})
        elif roll < 0.995:
            data = {"uid": uid, "uname": f"观众{uid}", "msg_type": 1, "timestamp": k}
            out.append({"cmd": "INTERACT_WORD", "data": data})
        else:
            user = {"uname": f"观众{uid}"}
            data = {"id": k, "uid": uid, "message": rnd.choice(texts), "user_info": user, "ts": sent_ms}
            out.append({"cmd": "SUPER_CHAT_MESSAGE", "data": data})
    return out


async def _serve_flood(
    rate: float, seconds: float, batch_ms: float, malformed_every: int, texts: list[str], stamp: bool
) -> None:
    import random
    import sys
    import time

    rnd = random.Random(7)
    async with FakeBilibiliLive() as live:
        print(f"PORT {live.port} ROOM {live.room}", flush=True)
        await live.wait_connected(timeout=60.0)
        per_batch = max(1, round(rate * batch_ms / 1000.0))
        sent = batches = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            due = started + batches * batch_ms / 1000.0
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            commands = flood_commands(per_batch, sent, rnd, texts, int(time.time() * 1e6), stamp=stamp)
            live.send(commands, version=wire.VER_BROTLI, level=4)  # a live server compresses fast
            sent += per_batch
            batches += 1
            if malformed_every and batches % malformed_every == 0:
                live.send_raw(wire.encode(wire.OP_COMMAND, b"\xff\xfe not json"))
            if batches % 40 == 0:
                live.send([{"cmd": "WATCHED_CHANGE", "data": {"num": 1000 + batches}}])
        print(f"SENT {sent} BATCHES {batches}", flush=True)
        sys.stdout.flush()
        await asyncio.sleep(5.0)  # the client reads the last packets


def main(argv: list[str] | None = None) -> None:
    """``python -m evals.fakes.bilibili_live --rate 200 --seconds 300``: serve a room that floods its first
    client with chat (prints ``PORT n`` when listening, ``SENT n`` at the end)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="commands per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch-ms", type=float, default=50.0, help="one brotli packet every this many ms")
    parser.add_argument("--malformed-every", type=int, default=100, help="a broken packet every N batches")
    parser.add_argument("--texts", type=str, default="", help="a file of chat lines (default: built in)")
    parser.add_argument(
        "--stamp", action="store_true", help="put the send time (µs) at the end of danmaku ids"
    )
    args = parser.parse_args(argv)
    texts = [
        "2号多少钱",
        "1号有XL吗",
        "主播好",
        "666",
        "扣1",
        "3号还有货吗",
        "包邮吗",
        "这个适合油皮吗",
        "已拍",
    ]
    if args.texts:
        from pathlib import Path

        texts = [t for t in Path(args.texts).read_text(encoding="utf-8").splitlines() if t.strip()] or texts
    asyncio.run(_serve_flood(args.rate, args.seconds, args.batch_ms, args.malformed_every, texts, args.stamp))


if __name__ == "__main__":
    main()
