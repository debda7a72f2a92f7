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


def test_commands_become_room_items_with_the_platforms_ids() -> None:
    from agent.live.events import RoomEvent, ViewerMessage
    from agent.live.platforms.bilibili_commands import command_item
    from agent.live.resilient import Malformed, PlatformItem

    meta = [0, 1, 25, 16777215, 1700000000000, 0, 0, "", 0, 0, 0, "", 0, "{}", "{}", {"id_str": "abc123"}]
    danmu = command_item("r", {"cmd": "DANMU_MSG", "info": [meta, "2号多少钱", [42, "小米<b>"]]})
    assert isinstance(danmu, PlatformItem)
    assert isinstance(danmu.item, ViewerMessage)
    assert danmu.item == ViewerMessage(
        "r", "小米<b>", "2号多少钱", user_id="bili:42", ts=danmu.item.ts, message_id="dm:abc123"
    )
    assert danmu.event_id == "dm:abc123"
    anonymous = command_item("r", {"cmd": "DANMU_MSG:4:0:2", "info": [meta[:5], "666", [0, "***"]]})
    assert isinstance(anonymous, PlatformItem)
    assert isinstance(anonymous.item, ViewerMessage)
    assert anonymous.item.user_id is None  # an anonymous connection sees uid 0
    gift = command_item(
        "r",
        {
            "cmd": "SEND_GIFT",
            "data": {"uid": 7, "uname": "阿花", "giftName": "小心心", "num": 3, "tid": "t9"},
        },
    )
    assert isinstance(gift, PlatformItem)
    assert isinstance(gift.item, RoomEvent)
    assert (gift.item.kind, gift.item.detail, gift.item.count, gift.item.user_id) == (
        "gift",
        "小心心",
        3,
        "bili:7",
    )
    follow = command_item(
        "r", {"cmd": "INTERACT_WORD", "data": {"uid": 8, "uname": "路人", "msg_type": 2, "timestamp": 1}}
    )
    assert isinstance(follow, PlatformItem)
    assert isinstance(follow.item, RoomEvent)
    assert follow.item.kind == "follow"
    sc = command_item(
        "r",
        {
            "cmd": "SUPER_CHAT_MESSAGE",
            "data": {"id": 55, "uid": 9, "message": "主播1号有L吗", "user_info": {"uname": "大佬"}},
        },
    )
    assert isinstance(sc, PlatformItem)
    assert sc.event_id == "sc:55"
    watched = command_item("r", {"cmd": "WATCHED_CHANGE", "data": {"num": 3210}})
    assert isinstance(watched, PlatformItem)
    assert (watched.item, watched.viewers) == (None, 3210)
    assert command_item("r", {"cmd": "STOP_LIVE_ROOM_LIST", "data": {}}) is None
    broken = command_item("r", {"cmd": "SEND_GIFT", "data": {"uid": 7}})
    assert isinstance(broken, Malformed)
    assert "SEND_GIFT" in broken.reason
