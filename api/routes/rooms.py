"""Live rooms over HTTP and WebSocket.

- ``POST /v1/merchants/{merchant}/rooms`` (merchant/admin key): start a room from a plan (JSON).
- ``GET /v1/merchants/{merchant}/rooms`` and ``GET .../rooms/{room_id}`` (staff key): rooms and state.
- ``POST /v1/merchants/{merchant}/rooms/{room_id}/commands`` (staff key): pause, resume, skip_to,
  say_now, stop.
- ``POST /v1/rooms/{room_id}/chat``: viewer chat and room events pushed by a platform connector or a
  replay (anonymous and rate-limited per client; a staff key of the room's merchant is not limited).
- ``WebSocket /v1/rooms/{room_id}/ws``: viewers. The server sends ``hello``, then the room's latest
  ``product`` and ``state`` (or, with ``?after=<seq>``, what the viewer missed), then every event as
  JSON (`OutputEvent.to_dict()`). A viewer may send ``{"type": "chat", "nickname", "text"}``; each gets
  a ``chat_result``. Abuse closes the socket with a code and a reason (see `CLOSE_*`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import unicodedata
from typing import Any, Final, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from agent.live.events import Command, CommandKind, RoomEvent, ViewerMessage
from agent.live.manager import RoomRunningError, UnknownRoomError
from agent.live.plan import PlanError, RoomPlan
from agent.live.triage import TriageDecision
from api.auth import OwnerKey, StaffKey, optional_principal
from api.deps import MerchantDep, ServicesDep, SettingsDep
from api.ratelimit import RateLimiter, RedisTokenBucketLimiter, TokenBucketLimiter
from api.room_feed import RoomFeed, RoomFeeds, Viewer
from api.routes.chat import client_ip, read_json_body, request_body_schema, validate_body
from api.services import Services
from api.settings import Settings

log = logging.getLogger("anchor.api.rooms")

router = APIRouter(tags=["rooms"])

ROOM_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_NICKNAME_CHARS: Final = 32
MAX_CHAT_CHARS: Final = 200
MAX_DETAIL_CHARS: Final = 64
MAX_FRAME_CHARS: Final = 1024
MAX_PLAN_BYTES: Final = 256 * 1024
MAX_CHAT_BODY_BYTES: Final = 8 * 1024

#: WebSocket close codes: 1003 binary frame, 1008 abuse (invalid or too many messages), 1009 frame too
#: big, 1013 server full, 4404 no such room, 4408 a viewer too slow to keep up, 1001 server stopping.
CLOSE_UNSUPPORTED: Final = 1003
CLOSE_POLICY: Final = 1008
CLOSE_TOO_BIG: Final = 1009
CLOSE_FULL: Final = 1013
CLOSE_GOING_AWAY: Final = 1001
CLOSE_NO_ROOM: Final = 4404
CLOSE_TOO_SLOW: Final = 4408
#: Invalid frames and refused (rate-limited) messages a connection may send before it is closed.
MAX_INVALID: Final = 3
MAX_REFUSED: Final = 10


# -- the process's feeds and room lifecycle (called from the app's lifespan) -------------------------
def room_feeds(app: FastAPI) -> RoomFeeds:
    """The app's `RoomFeeds`, built on first use from its services' bus and settings."""
    feeds: RoomFeeds | None = getattr(app.state, "room_feeds", None)
    if feeds is None:
        services: Services = app.state.services
        s = services.settings
        feeds = RoomFeeds(
            services.bus,
            max_viewers=s.room_max_viewers,
            backlog=s.room_backlog_events,
            viewer_queue=s.room_viewer_queue,
        )
        app.state.room_feeds = feeds
    return feeds


async def start_rooms(app: FastAPI) -> None:
    """Resume the rooms persisted as running or paused, each with its feed subscribed first."""
    services: Services = app.state.services
    feeds = room_feeds(app)
    try:
        manager = services.rooms
        records = await run_in_threadpool(manager.factory.state.list)
    except Exception:
        log.exception("cannot read the rooms to resume")
        return
    waiting = [r.room_id for r in records if r.status != "stopped"]
    relay = services.room_relay
    if relay is not None:
        try:
            await relay.start()
        except Exception:
            log.exception("cannot subscribe to the room inputs relayed through Redis")
    for room_id in waiting:
        await feeds.pin(room_id)
    for room_id in await manager.resume_all():
        log.info("room %s resumed", room_id)
    for room_id in waiting:
        if manager.get(room_id) is None:
            feeds.unpin(room_id)


async def stop_rooms(app: FastAPI) -> None:
    """Stop this process's rooms (their position is persisted) and close every viewer feed."""
    services: Services = app.state.services
    try:
        await services.rooms.shutdown()
    except Exception:
        log.exception("stopping the rooms failed")
    relay = services.room_relay
    if relay is not None:
        await relay.close()
    feeds: RoomFeeds | None = getattr(app.state, "room_feeds", None)
    if feeds is not None:
        await feeds.close()
    with contextlib.suppress(Exception):
        await services.bus.close()


# -- payloads ------------------------------------------------------------------------------------------
class CommandIn(BaseModel):
    """An operator command; ``argument`` is the link number for skip_to and the line for say_now."""

    model_config = ConfigDict(extra="forbid")

    kind: CommandKind
    argument: str | int | None = Field(default=None, description="skip_to: link number; say_now: text")


class ChatIn(BaseModel):
    """One viewer message (``type`` chat) or room event (enter, like, follow, gift, share)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["chat", "enter", "like", "follow", "gift", "share"] = "chat"
    nickname: str = Field(min_length=1, max_length=MAX_NICKNAME_CHARS)
    text: str = Field(default="", max_length=MAX_CHAT_CHARS)
    user_id: str | None = Field(default=None, max_length=64)
    detail: str = Field(default="", max_length=MAX_DETAIL_CHARS)
    count: int = Field(default=1, ge=1, le=100_000)
    message_id: str | None = Field(default=None, max_length=64)
    t: float | None = Field(default=None, description="ignored (the replay timestamp of a recording)")


def clean_text(value: str) -> str:
    """Text without control characters (newlines become spaces), trimmed."""
    out = "".join(
        " " if ch in "\r\n\t" else ch for ch in value if ch in "\r\n\t" or unicodedata.category(ch)[0] != "C"
    )
    return " ".join(out.split())


def room_summary(services: Services, room_id: str) -> dict[str, Any] | None:
    """A room as the API shows it: the live director's state when it runs here, else the stored row."""
    director = services.rooms.get(room_id)
    record = services.rooms.factory.state.load(room_id)
    if director is None and record is None:
        return None
    out: dict[str, Any] = {
        "room_id": room_id,
        "page": f"/room/{room_id}",
        "websocket": f"/v1/rooms/{room_id}/ws",
    }
    if record is not None:
        # The operator's view the running director last stored (from any process), then the row itself.
        out.update({k: v for k, v in record.ops.items() if k not in ("status", "position", "counters")})
        out.update(
            merchant=record.merchant,
            title=str(record.plan.get("title", "")),
            status=record.status,
            position=record.position.to_dict(),
            counters=record.counters,
            updated_at=record.updated_at.isoformat() if record.updated_at else None,
            local=False,
        )
    if director is not None:
        out.update(
            merchant=director.plan.merchant,
            title=str(getattr(director.plan, "title", "")),
            **director.snapshot(),
            local=True,
        )
    return out


def _owned_room(services: Services, merchant: str, room_id: str) -> dict[str, Any]:
    summary = room_summary(services, room_id) if ROOM_ID.match(room_id) else None
    if summary is None or summary.get("merchant") != merchant:
        raise HTTPException(404, f"merchant {merchant!r} has no room {room_id!r}")
    return summary


# -- merchant routes -------------------------------------------------------------------------------------
def _plan_body_schema() -> dict[str, Any]:
    """The room plan as the request body; ``merchant`` may be left out (the path's is used)."""
    extra = request_body_schema(RoomPlan)
    schema = extra["requestBody"]["content"]["application/json"]["schema"]
    schema["required"] = [name for name in schema.get("required", []) if name != "merchant"]
    return extra


@router.post(
    "/v1/merchants/{merchant}/rooms",
    status_code=201,
    openapi_extra=_plan_body_schema(),
    responses={
        409: {"description": "The room already runs here, or its id belongs to another merchant"},
        422: {"description": "Every problem in the plan (fields, unknown skus)"},
    },
)
async def start_room(
    request: Request, merchant: MerchantDep, services: ServicesDep, _key: OwnerKey
) -> dict[str, Any]:
    """Start a room from a plan (the `RoomPlan` fields as JSON; ``merchant`` defaults to the path's).

    422 lists every problem in the plan (fields, unknown skus); 409 when the room already runs here or
    belongs to another merchant.
    """
    data = await read_json_body(request, MAX_PLAN_BYTES)
    if not isinstance(data, dict):
        raise HTTPException(422, "a plan is a JSON object with room_id, items and optional fields")
    data.setdefault("merchant", merchant)
    if data["merchant"] != merchant:
        raise HTTPException(
            422, f"plan.merchant is {data['merchant']!r} but the path names merchant {merchant!r}"
        )
    try:
        plan = RoomPlan.from_data(data, source="plan")
    except PlanError as exc:
        raise _plan_problems(exc.problems) from exc
    return await start_plan(request.app, services, plan)


async def start_plan(app: FastAPI, services: Services, plan: RoomPlan) -> dict[str, Any]:
    """Start a validated plan (its merchant's): the catalog check (422), a room id of another merchant or
    a room already running (409), then the room; its summary. Also starts saved plans (room_plans)."""
    merchant = plan.merchant
    problems = await run_in_threadpool(plan.validate_against, services.store, services.hosts)
    if problems:
        raise _plan_problems(problems)
    record = await run_in_threadpool(services.rooms.factory.state.load, plan.room_id)
    if record is not None and record.merchant != merchant:
        raise HTTPException(409, f"room id {plan.room_id!r} belongs to another merchant: choose another id")
    if services.rooms.get(plan.room_id) is not None:
        raise HTTPException(
            409,
            f"room {plan.room_id!r} is already running: stop it first (command 'stop') to change its plan",
        )
    feeds = room_feeds(app)
    await feeds.pin(plan.room_id)
    try:
        await services.rooms.start(plan)
    except RoomRunningError as exc:
        feeds.unpin(plan.room_id)
        raise HTTPException(409, str(exc)) from exc
    summary = await run_in_threadpool(room_summary, services, plan.room_id)
    return summary or {"room_id": plan.room_id}


def _plan_problems(problems: list[str]) -> HTTPException:
    return HTTPException(422, "the plan cannot be used: " + "; ".join(problems))


@router.get("/v1/merchants/{merchant}/rooms")
def list_rooms(merchant: MerchantDep, services: ServicesDep, _key: StaffKey) -> dict[str, Any]:
    """The merchant's rooms (running here, elsewhere, paused or stopped) with status and position."""
    ids = {r.room_id for r in services.rooms.factory.state.list(merchant=merchant)}
    ids |= {room.room_id for room in services.rooms.list(merchant)}
    rooms = [room_summary(services, room_id) for room_id in sorted(ids)]
    return {"rooms": [r for r in rooms if r is not None]}


@router.get("/v1/merchants/{merchant}/rooms/{room_id}")
def get_room(merchant: MerchantDep, room_id: str, services: ServicesDep, _key: StaffKey) -> dict[str, Any]:
    return _owned_room(services, merchant, room_id)


@router.post(
    "/v1/merchants/{merchant}/rooms/{room_id}/commands",
    status_code=202,
    openapi_extra=request_body_schema(CommandIn),
    responses={
        400: {"description": "Empty or malformed body"},
        401: {"description": "No valid API key"},
        403: {"description": "The key cannot act for this merchant"},
        404: {"description": "No such room for this merchant"},
        409: {"description": "The room is not running on this server"},
        413: {"description": "Body too long"},
        422: {"description": "Invalid command"},
    },
)
async def room_command(
    request: Request, merchant: MerchantDep, room_id: str, services: ServicesDep, _key: StaffKey
) -> dict[str, Any]:
    """Send an operator command; it applies between utterances (``say_now`` goes first)."""
    body = validate_body(CommandIn, await read_json_body(request, MAX_CHAT_BODY_BYTES))
    await run_in_threadpool(_owned_room, services, merchant, room_id)
    director = services.rooms.get(room_id)
    argument = None if body.argument is None else str(body.argument)
    if director is None:
        if await forward(services, Command(room_id, body.kind, argument)):
            return {"room_id": room_id, "command": body.kind, "argument": argument, "forwarded": True}
        raise HTTPException(409, f"room {room_id!r} is not running on this server")
    try:
        director.command(Command(room_id, body.kind, argument))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    if body.kind == "stop":
        room_feeds(request.app).unpin(room_id)
    return {"room_id": room_id, "command": body.kind, "argument": argument, "state": director.snapshot()}


# -- viewer chat over HTTP ---------------------------------------------------------------------------------
def _chat_limiter(app: FastAPI, settings: Settings) -> RateLimiter:
    limiter: RateLimiter | None = getattr(app.state, "room_chat_limiter", None)
    if limiter is None and settings.redis_url:
        limiter = RedisTokenBucketLimiter(
            settings.redis_url,
            settings.room_chat_rate_per_minute_ip,
            settings.room_chat_burst_ip,
            scope="room-ip",
            prefix=settings.rate_limit_prefix,
        )
        app.state.room_chat_limiter = limiter
    if limiter is None:
        limiter = TokenBucketLimiter(
            settings.room_chat_rate_per_minute_ip,
            settings.room_chat_burst_ip,
            max_keys=settings.chat_rate_max_keys,
            scope="ip",
        )
        app.state.room_chat_limiter = limiter
    return limiter


def _trusted_sender(request: Request, merchant: str | None) -> bool:
    """True when the request carries a key of the room's merchant (a platform connector)."""
    if merchant is None:
        return False
    principal = optional_principal(request)
    return principal is not None and principal.can_act_for(merchant)


def to_chat_item(room_id: str, body: ChatIn) -> ViewerMessage | RoomEvent:
    nickname = clean_text(body.nickname)[:MAX_NICKNAME_CHARS]
    if not nickname:
        raise HTTPException(422, "nickname is empty")
    if body.type == "chat":
        text = clean_text(body.text)
        if not text:
            raise HTTPException(422, "text is empty: a chat message needs 'text'")
        return ViewerMessage(room_id, nickname, text, user_id=body.user_id, message_id=body.message_id)
    return RoomEvent(
        room_id, body.type, nickname, user_id=body.user_id, detail=clean_text(body.detail), count=body.count
    )


@router.post(
    "/v1/rooms/{room_id}/chat",
    status_code=202,
    openapi_extra=request_body_schema(ChatIn),
    responses={
        400: {"description": "Empty or malformed body"},
        404: {"description": "No such room running"},
        413: {"description": "Body too long"},
        422: {"description": "Invalid message or event"},
        429: {"description": "Rate limited; see Retry-After"},
    },
)
async def post_chat(
    request: Request, room_id: str, services: ServicesDep, settings: SettingsDep
) -> JSONResponse:
    """Push one viewer message or room event into its room (relayed when another process runs it)."""
    if not ROOM_ID.match(room_id):
        raise HTTPException(404, f"room id {room_id!r} is not valid")
    director = services.rooms.get(room_id)
    if director is not None:
        merchant: str | None = director.plan.merchant
    elif services.room_relay is not None and await _held_elsewhere(services, room_id):
        record = await run_in_threadpool(services.rooms.factory.state.load, room_id)
        merchant = record.merchant if record is not None else None
    else:
        raise HTTPException(404, f"room {room_id!r} is not running on this server")
    trusted = await run_in_threadpool(_trusted_sender, request, merchant)
    if not trusted:
        decision = _chat_limiter(request.app, settings).acquire(client_ip(request, settings))
        if not decision.allowed:
            raise HTTPException(
                429,
                f"too many chat messages from this client: retry in {decision.retry_after_header} s",
                headers={"Retry-After": decision.retry_after_header},
            )
    body = validate_body(ChatIn, await read_json_body(request, MAX_CHAT_BODY_BYTES))
    result = await deliver(services, to_chat_item(room_id, body))
    return JSONResponse(result, status_code=202)


async def _held_elsewhere(services: Services, room_id: str) -> bool:
    holder = await run_in_threadpool(services.rooms.factory.state.lease_holder, room_id)
    return holder is not None and holder != services.rooms.owner


async def forward(services: Services, item: ViewerMessage | RoomEvent | Command) -> bool:
    """Publish ``item`` for the process that holds its room's lease; False without Redis or holder."""
    relay = services.room_relay
    if relay is None or services.rooms.get(item.room_id) is not None:
        return False
    if not await _held_elsewhere(services, item.room_id):
        return False
    try:
        return await relay.publish(item) > 0
    except Exception:
        log.exception("relaying input for room %s failed", item.room_id)
        return False


async def deliver(services: Services, item: ViewerMessage | RoomEvent) -> dict[str, Any]:
    """`offer` the item here, or relay it to the process running its room (``forwarded``)."""
    result = offer(services, item)
    if result.get("outcome") == "not_running" and await forward(services, item):
        return {"accepted": True, "outcome": "forwarded", "forwarded": True}
    return result


def offer(services: Services, item: ViewerMessage | RoomEvent) -> dict[str, Any]:
    """Hand a message or event to its room; what happened, as JSON."""
    try:
        outcome = services.rooms.offer(item.room_id, item)
    except UnknownRoomError:
        return {"accepted": False, "outcome": "not_running", "reason": "the room is not running here"}
    if isinstance(outcome, TriageDecision):
        return {"accepted": outcome.accepted, "outcome": outcome.outcome, "reason": outcome.reason}
    if outcome is None:
        return {"accepted": False, "outcome": "ignored", "ack": None}
    return {"accepted": True, "outcome": "ack", "ack": outcome.text}


# -- viewers over WebSocket ------------------------------------------------------------------------------
def _parse_after(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        after = int(value)
    except ValueError:
        return None
    return after if after >= 0 else None


async def _room_exists(services: Services, feeds: RoomFeeds, room_id: str) -> bool:
    if room_id in feeds or services.rooms.get(room_id) is not None:
        return True
    record = await run_in_threadpool(services.rooms.factory.state.load, room_id)
    return record is not None


@router.websocket("/v1/rooms/{room_id}/ws")
async def room_socket(websocket: WebSocket, room_id: str) -> None:
    """Stream a room's events to one viewer and take the viewer's chat."""
    app: FastAPI = websocket.app
    services: Services = app.state.services
    feeds = room_feeds(app)
    await websocket.accept()
    if not ROOM_ID.match(room_id) or not await _room_exists(services, feeds, room_id):
        await websocket.close(CLOSE_NO_ROOM, f"no room named {room_id[:64]!r}")
        return
    if feeds.viewer_count() >= feeds.max_viewers:
        await websocket.close(CLOSE_FULL, "this server has as many viewers as it takes: try again later")
        return
    feed = feeds.feed(room_id)
    viewer = feed.join(_parse_after(websocket.query_params.get("after")))
    sender = asyncio.create_task(_send_frames(websocket, feed, viewer))
    try:
        closing = await _receive_chat(websocket, services, room_id)
    finally:
        feed.leave(viewer)
        sender.cancel()
        await asyncio.wait([sender])
    if closing is not None:
        await _close(websocket, closing)


async def _close(websocket: WebSocket, closing: tuple[int, str]) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(*closing)


async def _send_frames(websocket: WebSocket, feed: RoomFeed, viewer: Viewer) -> None:
    """Send the hello, then the viewer's frames; close the socket when the feed ends (server stopping)
    or the viewer falls too far behind (the receiving side then sees the disconnect)."""
    hello = {"kind": "hello", "room_id": feed.room_id, "seq": feed.last_seq}
    too_slow = viewer.max_queue * 4
    try:
        await websocket.send_text(json.dumps(hello, ensure_ascii=False))
        while True:
            frame = await viewer.next()
            if frame is None:
                await _close(websocket, (CLOSE_GOING_AWAY, "the room feed closed (server stopping)"))
                return
            if viewer.dropped > too_slow:
                await _close(websocket, (CLOSE_TOO_SLOW, "this connection is too slow to follow the room"))
                return
            await websocket.send_text(frame.text)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return


class _ChatGuard:
    """Per-connection chat rules: frame size, JSON shape, field limits and a token bucket."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = TokenBucketLimiter(
            settings.room_ws_chat_per_minute, settings.room_ws_chat_burst, max_keys=1
        )
        self.invalid = 0
        self.refused = 0

    def check(self, raw: str) -> tuple[ChatIn | None, dict[str, Any] | None, tuple[int, str] | None]:
        """(message, reply, close): a valid message, or a reply to send, or a close (code, reason)."""
        if len(raw) > MAX_FRAME_CHARS:
            return None, None, (CLOSE_TOO_BIG, f"messages are at most {MAX_FRAME_CHARS} characters")
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("type") != "chat":
                raise ValueError('send {"type": "chat", "nickname": ..., "text": ...}')
            body = ChatIn.model_validate({k: data.get(k) for k in ("type", "nickname", "text") if k in data})
            if not clean_text(body.text) or not clean_text(body.nickname):
                raise ValueError("nickname and text must not be blank")
        except ValueError as exc:
            self.invalid += 1
            if self.invalid >= MAX_INVALID:
                return None, None, (CLOSE_POLICY, "too many invalid messages")
            message = str(exc).splitlines()[0] if not isinstance(exc, json.JSONDecodeError) else "not JSON"
            if "validation error" in message:
                message = f"nickname must be 1-{MAX_NICKNAME_CHARS} characters and text 1-{MAX_CHAT_CHARS} characters"
            return (
                None,
                {"kind": "chat_result", "accepted": False, "code": "invalid", "message": message},
                None,
            )
        decision = self.bucket.acquire("viewer")
        if not decision.allowed:
            self.refused += 1
            if self.refused >= MAX_REFUSED:
                return None, None, (CLOSE_POLICY, "too many chat messages")
            reply = {
                "kind": "chat_result",
                "accepted": False,
                "code": "rate_limited",
                "retry_after": decision.retry_after_header,
            }
            return None, reply, None
        self.refused = 0
        return body, None, None


async def _receive_chat(websocket: WebSocket, services: Services, room_id: str) -> tuple[int, str] | None:
    """Read the viewer's frames; chat goes to the room. Returns a close (code, reason) on abuse."""
    guard = _ChatGuard(services.settings)
    connection = "ws-" + secrets.token_hex(4)
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        raw = message.get("text")
        if raw is None:
            return (CLOSE_UNSUPPORTED, "send chat as JSON text frames")
        body, reply, close = guard.check(raw)
        if close is not None:
            return close
        if body is not None:
            item = ViewerMessage(
                room_id,
                clean_text(body.nickname)[:MAX_NICKNAME_CHARS],
                clean_text(body.text),
                message_id=f"{connection}-{secrets.token_hex(4)}",
            )
            reply = {"kind": "chat_result", **await deliver(services, item)}
        if reply is not None:
            await websocket.send_text(json.dumps(reply, ensure_ascii=False))


__all__ = [
    "ROOM_ID",
    "ChatIn",
    "CommandIn",
    "room_feeds",
    "router",
    "start_plan",
    "start_rooms",
    "stop_rooms",
]
