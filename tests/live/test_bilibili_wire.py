"""Bilibili's danmaku packets: framing, compressed runs, heartbeats and malformed frames."""

from __future__ import annotations

import json
import zlib

import pytest

from agent.live.platforms.bilibili_wire import (
    HEADER,
    OP_AUTH_REPLY,
    OP_COMMAND,
    OP_HEARTBEAT_REPLY,
    Broken,
    Packet,
    compress,
    decode,
    encode,
)

pytestmark = pytest.mark.unit

DANMU = {
    "cmd": "DANMU_MSG",
    "info": [[0, 1, 25, 16777215, 1700000000000, 0, 0, "", 0, 0, 0], "2号多少钱", [42, "小米"]],
}


def test_plain_compressed_and_heartbeat_packets_decode_in_order() -> None:
    gift = {"cmd": "SEND_GIFT", "data": {"uid": 7, "uname": "阿花", "giftName": "小心心", "num": 3}}
    message = (
        encode(OP_AUTH_REPLY, {"code": 0})
        + encode(OP_HEARTBEAT_REPLY, (1234).to_bytes(4, "big"), version=1)
        + compress([encode(OP_COMMAND, DANMU), encode(OP_COMMAND, gift)])
    )
    packets = decode(message)
    assert packets == [
        Packet(OP_AUTH_REPLY, {"code": 0}, 1),
        Packet(OP_HEARTBEAT_REPLY, 1234, 1),
        Packet(OP_COMMAND, DANMU, 1),
        Packet(OP_COMMAND, gift, 1),
    ]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"\x00\x00", "less than a header"),
        (HEADER.pack(10, 16, 0, OP_COMMAND, 1), "bad header"),
        (encode(OP_COMMAND, DANMU)[:-5], "cut at"),
        (encode(OP_COMMAND, b"\xff\xfe not json"), "not JSON"),
        (encode(OP_COMMAND, b"[1, 2]"), "not a JSON object"),
        (encode(OP_COMMAND, b"not zlib at all", version=2), "cannot decompress"),
        (encode(OP_HEARTBEAT_REPLY, b"\x01", version=1), "without its popularity"),
    ],
)
def test_malformed_frames_are_reported_never_raised(message: bytes, reason: str) -> None:
    packets = decode(message)
    assert isinstance(packets[-1], Broken)
    assert reason in packets[-1].reason


def test_good_packets_before_a_broken_one_are_kept_and_bombs_are_refused() -> None:
    packets = decode(encode(OP_COMMAND, DANMU) + b"\x00\x01\x02")
    assert isinstance(packets[0], Packet)
    assert isinstance(packets[1], Broken)
    nested = encode(OP_COMMAND, zlib.compress(compress([compress([encode(OP_COMMAND, DANMU)])])), version=2)
    assert any(isinstance(p, Broken) and "too deep" in p.reason for p in decode(nested))
    assert json.loads(encode(OP_COMMAND, DANMU)[16:]) == DANMU
