"""Bilibili live commands (the JSON inside operation-5 packets) as room items.

`command_item(room_id, command)` reads one command — as the wire carries it, and as bilibili-api-python's
`LiveDanmaku` hands it to its event handlers (``event["data"]``) — and returns a `PlatformItem` with the
platform's id for the event (so an event replayed after a reconnect is recognised), or None for commands the
room does not use. Users are identified by their Bilibili uid (``bili:<uid>``; a uid of 0, which is what an
anonymous connection sees, gives no user id). Read:

- ``DANMU_MSG``: a viewer's chat message (``info[1]`` text, ``info[2]`` = [uid, nickname]);
- ``SUPER_CHAT_MESSAGE``: a paid message, as chat marked ``super_chat`` in its message id (``sc:<id>``);
- ``SEND_GIFT`` (gift name and count), ``GUARD_BUY`` (a captain/admiral/governor purchase, as a gift);
- ``INTERACT_WORD``: msg_type 1 entered, 2 followed, 3 shared;
- ``LIKE_INFO_V3_CLICK``: a like; ``WATCHED_CHANGE``: the viewer count (a heartbeat-like item).
A command with missing or odd fields is a `Malformed` with the reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.live.events import RoomEvent, RoomEventKind, ViewerMessage
from agent.live.resilient import Malformed, PlatformItem

__all__ = ["command_item"]

_INTERACT: dict[int, RoomEventKind] = {1: "enter", 2: "follow", 3: "share"}
_GUARDS = {1: "总督", 2: "提督", 3: "舰长"}


def command_item(room_id: str, command: Mapping[str, Any]) -> PlatformItem | Malformed | None:
    """One command as a room item (see the module); None for a command the room does not use."""
    cmd = str(command.get("cmd", "")).split(":", 1)[0]  # "DANMU_MSG:4:0:2:2:2:0" in older rooms
    try:
        if cmd == "DANMU_MSG":
            return _danmaku(room_id, command)
        if cmd == "SUPER_CHAT_MESSAGE":
            data = command["data"]
            user = data["user_info"]
            message = ViewerMessage(
                room_id,
                str(user["uname"]),
                str(data["message"]),
                user_id=_user(data.get("uid")),
                message_id=f"sc:{data['id']}",
                paid=True,
            )
            return PlatformItem(message, event_id=f"sc:{data['id']}")
        if cmd == "SEND_GIFT":
            data = command["data"]
            event = _event(room_id, "gift", data, detail=str(data["giftName"]), count=int(data.get("num", 1)))
            return PlatformItem(
                event, event_id=f"gift:{data.get('tid') or data.get('rnd')}:{data.get('uid')}"
            )
        if cmd == "GUARD_BUY":
            data = command["data"]
            name = _GUARDS.get(int(data.get("guard_level", 3)), "舰长")
            event = RoomEvent(
                room_id, "gift", str(data["username"]), _user(data.get("uid")), name, int(data.get("num", 1))
            )
            return PlatformItem(event, event_id=f"guard:{data.get('uid')}:{data.get('start_time')}")
        if cmd == "INTERACT_WORD":
            data = command["data"]
            kind = _INTERACT.get(int(data.get("msg_type", 0)))
            if kind is None:
                return None
            return PlatformItem(
                _event(room_id, kind, data), event_id=f"iw:{kind}:{data.get('uid')}:{data.get('timestamp')}"
            )
        if cmd == "LIKE_INFO_V3_CLICK":
            data = command["data"]
            return PlatformItem(_event(room_id, "like", data), event_id=None)
        if cmd == "WATCHED_CHANGE":
            return PlatformItem(None, heartbeat=True, viewers=int(command["data"]["num"]))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        return Malformed(f"{cmd}: {type(exc).__name__} {exc}")
    return None


def _danmaku(room_id: str, command: Mapping[str, Any]) -> PlatformItem | Malformed:
    info = command["info"]
    meta, text, user = info[0], info[1], info[2]
    if not isinstance(text, str) or not isinstance(user, list) or len(user) < 2:
        return Malformed("DANMU_MSG: no text or no user")
    uid, nickname = user[0], str(user[1])
    extra = meta[15] if isinstance(meta, list) and len(meta) > 15 and isinstance(meta[15], Mapping) else {}
    ident = extra.get("id_str") if isinstance(extra, Mapping) else None
    sent = meta[4] if isinstance(meta, list) and len(meta) > 4 else None
    event_id = f"dm:{ident}" if ident else f"dm:{uid}:{sent}:{text}"
    message = ViewerMessage(room_id, nickname, text, user_id=_user(uid), message_id=event_id)
    return PlatformItem(message, event_id=event_id)


def _event(
    room_id: str, kind: RoomEventKind, data: Mapping[str, Any], *, detail: str = "", count: int = 1
) -> RoomEvent:
    return RoomEvent(room_id, kind, str(data["uname"]), _user(data.get("uid")), detail, count)


def _user(uid: Any) -> str | None:
    try:
        number = int(uid)
    except (TypeError, ValueError):
        return None
    return f"bili:{number}" if number > 0 else None
