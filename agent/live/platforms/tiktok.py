"""TikTok LIVE chat through TikTokLive 7: events as room items, connections as sessions for `ResilientConnector`.

`tiktok_item(room_id, event)` reads one TikTokLive event object and returns a `PlatformItem` with TikTok's id for
the message (``common.msg_id``, so a message replayed after a reconnect is recognised), a `Malformed` with the
reason, or None for events the room does not use. Users are ``tiktok:<user.id>``; the nickname is the user's
nickname, else the @handle (``user.display_id``). Read:

- ``CommentEvent``: a chat message (``content``);
- ``GiftEvent``: a gift (``gift.name``, ``repeat_count``). A streakable gift (``gift.type == 1``) sends one
  event per tap with a growing ``repeat_count``; it is counted once, from the event that ends the streak
  (``repeat_end``), the way TikTokLive's ``GiftEvent.streaking`` tells them apart;
- ``LikeEvent``: likes (``count`` in this batch, not the room's ``total``);
- ``FollowEvent`` / ``ShareEvent``: both are TikTok's *social* message; TikTokLive emits one of them (besides
  the plain ``SocialEvent``, ignored here) when the message's ``common.display_text.key`` contains "follow" or
  "share";
- ``JoinEvent``: a viewer entered (``WebcastMemberMessage`` with action joined; other actions are ignored);
- ``RoomUserSeqEvent``: the viewer count (``total``), and ``ConnectEvent``: the connection is up — both
  heartbeat items, so a quiet room is not taken for a dead connection.

`TikTokSessions` opens sessions with a `TikTokLiveClient`: it registers handlers, starts the client (the sign
server, then TikTok's WebSocket) in a task and yields the items its handlers queue. The client failing (offline
user, sign server error, blocked WebSocket) ends the session with a `TikTokSessionError` that names the
library's exception and message; the LIVE ending ends it too; closing the session disconnects the client.

Credentials: an Euler Stream sign API key (rate limits) and optionally TikTok's ``sessionid`` cookie. They are
given to this client only (``signer_kwargs`` and ``client.web.set_session``), never to TikTokLive's global
``WebDefaults`` or the environment; they are scrubbed from error text, never logged, never in a repr, and the
session cookie is redacted from TikTokLive's and httpx's log lines (the library logs the WebSocket's cookies,
httpx the sign server's URL with ``session_id`` in its query).

TikTokLive is imported when a session opens or an event is read (it takes seconds to import).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from agent.live.events import RoomEvent, RoomEventKind, ViewerMessage
from agent.live.resilient import Malformed, PlatformItem

__all__ = ["MAX_TEXT", "TikTokSessionError", "TikTokSessions", "tiktok_item"]

log = logging.getLogger(__name__)

MAX_TEXT: Final = 2000
_STREAKABLE: Final = 1  # Gift.type of gifts sent as a streak (TikTokLive's ExtendedGift.streakable)
_JOIN_ACTIONS: Final = frozenset({0, 1})  # MemberMessageAction UNKNOWN (unset), JOINED; 3 is SUBSCRIBED
_SOCIAL_METHOD: Final = "WebcastSocialMessage"


class TikTokSessionError(ConnectionError):
    """A TikTok session ended: the library's exception type and message, or why the LIVE ended (never a
    credential)."""


class _Odd(ValueError):
    """A field an event needs is missing or of the wrong kind."""


# -- events ---------------------------------------------------------------------------------------------------
def tiktok_item(room_id: str, event: object) -> PlatformItem | Malformed | None:
    """One TikTokLive event as a room item (see the module); None for an event the room does not use."""
    from TikTokLive.events import (
        CommentEvent,
        ConnectEvent,
        FollowEvent,
        GiftEvent,
        JoinEvent,
        LikeEvent,
        RoomUserSeqEvent,
        ShareEvent,
    )

    name = type(event).__name__
    try:
        if isinstance(event, CommentEvent):
            text = _text(event, "content")
            if not text.strip():
                raise _Odd("no text")
            nickname, user_id = _who(event)
            ident = _msg_id(event)
            message = ViewerMessage(room_id, nickname, text, user_id=user_id, message_id=ident)
            return PlatformItem(message, event_id=ident)
        if isinstance(event, GiftEvent):
            return _gift(room_id, event)
        if isinstance(event, LikeEvent):
            count = _int(event, "count")
            if count < 1:
                raise _Odd(f"count {count}")
            return _event(room_id, "like", event, count=count)
        if isinstance(event, FollowEvent | ShareEvent):
            method = _text(getattr(event, "common", None), "method", required=False)
            if method and method != _SOCIAL_METHOD:
                # TikTokLive matches "follow"/"share" in the display key of *any* message; only the social
                # message is a follow or a share (the other message arrives as its own event).
                return None
            return _event(room_id, "follow" if isinstance(event, FollowEvent) else "share", event)
        if isinstance(event, JoinEvent):
            action = getattr(event, "action", 0)
            if not isinstance(action, int):
                raise _Odd(f"action {action!r}")
            return _event(room_id, "enter", event) if int(action) in _JOIN_ACTIONS else None
        if isinstance(event, RoomUserSeqEvent):
            viewers = _int(event, "total")
            if viewers < 0:
                raise _Odd(f"viewer count {viewers}")
            return PlatformItem(None, heartbeat=True, viewers=viewers)
        if isinstance(event, ConnectEvent):
            return PlatformItem(None, heartbeat=True)
    except _Odd as exc:
        return Malformed(f"{name}: {exc}")
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        return Malformed(f"{name}: {type(exc).__name__} {exc}"[:300])
    return None


def _gift(room_id: str, event: Any) -> PlatformItem | None:
    gift = getattr(event, "gift", None)
    if gift is None:
        raise _Odd("no gift")
    streakable = _int(gift, "type") == _STREAKABLE
    if streakable and not _int(event, "repeat_end"):
        return None  # a tap in a streak: the streak's last event carries the total
    name = _text(gift, "name", required=False).strip()
    if not name:
        gift_id = _int(gift, "id") or _int(event, "gift_id")
        if not gift_id:
            raise _Odd("a gift without a name or id")
        name = f"gift {gift_id}"
    count = _int(event, "repeat_count")
    if count < 0:
        raise _Odd(f"repeat count {count}")
    return _event(room_id, "gift", event, detail=name, count=max(1, count))


def _event(
    room_id: str, kind: RoomEventKind, event: Any, *, detail: str = "", count: int = 1
) -> PlatformItem:
    nickname, user_id = _who(event)
    return PlatformItem(RoomEvent(room_id, kind, nickname, user_id, detail, count), event_id=_msg_id(event))


def _who(event: Any) -> tuple[str, str | None]:
    user = getattr(event, "user", None)
    if user is None:
        raise _Odd("no user")
    nickname = (
        _text(user, "nickname", required=False).strip() or _text(user, "display_id", required=False).strip()
    )
    if not nickname:
        raise _Odd("a user without a nickname or handle")
    uid = _int(user, "id")
    return nickname, (f"tiktok:{uid}" if uid > 0 else None)


def _msg_id(event: Any) -> str | None:
    common = getattr(event, "common", None)
    if common is None:
        return None
    ident = _int(common, "msg_id")
    return str(ident) if ident else None


def _text(obj: Any, attr: str, *, required: bool = True) -> str:
    value = getattr(obj, attr, None) if obj is not None else None
    if value is None:
        if required:
            raise _Odd(f"no {attr}")
        return ""
    if not isinstance(value, str):
        raise _Odd(f"{attr} is {type(value).__name__}, not text")
    return value[:MAX_TEXT]


def _int(obj: Any, attr: str) -> int:
    value = getattr(obj, attr, None)
    if value is None:
        return 0  # proto3: an unset number
    if not isinstance(value, int):  # bool and the proto enums are ints
        raise _Odd(f"{attr} is {type(value).__name__}, not a number")
    return int(value)


# -- credentials in text and logs -----------------------------------------------------------------------------
_COOKIE_SECRETS = re.compile(r"\b(session_?id|sessionid_ss|sid_tt|sid_guard|uid_tt|uid_tt_ss)=([^;&\s\"']+)")
_SESSION_ID_NOTE = re.compile(r"(Session ID:\s*)\S+")


class _RedactCredentials(logging.Filter):
    """Redacts TikTok's session cookies from log lines: TikTokLive logs the WebSocket's cookie string (the
    session id's first 8 characters in clear, the whole cookie header at DEBUG), and httpx logs the sign
    server's URL, whose query carries ``session_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record stays the library's problem
            return True
        redacted = _SESSION_ID_NOTE.sub(r"\1***", _COOKIE_SECRETS.sub(r"\1=***", message))
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _redact_library_logs(*loggers: logging.Logger) -> None:
    for logger in loggers:
        if not any(isinstance(f, _RedactCredentials) for f in logger.filters):
            logger.addFilter(_RedactCredentials())


# -- sessions -------------------------------------------------------------------------------------------------
class _End:
    """The client's task finished (the queue's last item)."""


_END: Final = _End()


class TikTokSessions:
    """Opens sessions on one TikTok LIVE (a `SessionFactory` for `ResilientConnector`).

    Args:
        unique_id: the live account's @handle ("@shop" or "shop").
        room_id: our room the items are for.
        sign_api_key: an Euler Stream API key (None: the sign server's anonymous limits, or TikTokLive's own
            ``SIGN_API_KEY`` / ``WebDefaults`` configuration).
        session_id: TikTok's ``sessionid`` cookie (None: anonymous). TikTokLive sends it to the sign server
            only when ``WHITELIST_AUTHENTICATED_SESSION_ID_HOST`` names the sign server's host (the library's
            safety switch, left to the operator); otherwise every connection fails with the library's reason.
        tt_target_idc: the data centre of the ``sessionid``'s account (e.g. "useast2a"; None: the library's
            default cookie).
        client_factory: builds the `TikTokLiveClient` for one session (None: the real one, with the
            credentials above).
        disconnect_timeout_s: how long closing a session waits for the client to disconnect.
    """

    def __init__(
        self,
        unique_id: str,
        room_id: str,
        *,
        sign_api_key: str | None = None,
        session_id: str | None = None,
        tt_target_idc: str | None = None,
        client_factory: Callable[[], Any] | None = None,
        disconnect_timeout_s: float = 5.0,
    ) -> None:
        handle = unique_id.strip().removeprefix("@")
        if not handle:
            raise ValueError("a TikTok LIVE is named by its account's @handle")
        self.unique_id = handle
        self.room_id = room_id
        self._sign_api_key = sign_api_key or None
        self._session_id = session_id or None
        self._tt_target_idc = tt_target_idc or None
        self._client_factory = client_factory or self._real_client
        self._disconnect_timeout = disconnect_timeout_s

    def __repr__(self) -> str:
        return (
            f"TikTokSessions(unique_id={self.unique_id!r}, room_id={self.room_id!r}, "
            f"sign_api_key={'<set>' if self._sign_api_key else None}, "
            f"session_id={'<set>' if self._session_id else None})"
        )

    async def __call__(self) -> AsyncIterator[PlatformItem | Malformed]:
        """A new client; the returned iterator connects it and yields its items until it ends (see the
        module)."""
        try:
            client = self._client_factory()
        except Exception as exc:
            raise TikTokSessionError(self._describe(exc)) from None
        return self._items(client)

    def _real_client(self) -> Any:
        from TikTokLive.client.client import TikTokLiveClient

        web_kwargs: dict[str, Any] = {}
        if self._sign_api_key:
            # TikTokSigner(sign_api_key=…) — the per-client form of WebDefaults.tiktok_sign_api_key / SIGN_API_KEY.
            web_kwargs["signer_kwargs"] = {"sign_api_key": self._sign_api_key}
        client = TikTokLiveClient(unique_id=self.unique_id, web_kwargs=web_kwargs)
        if self._session_id:
            idc = self._tt_target_idc or client.web.cookies.get("tt-target-idc")
            client.web.set_session(self._session_id, idc)
        return client

    async def _items(self, client: Any) -> AsyncIterator[PlatformItem | Malformed]:
        from TikTokLive.events import (
            CommentEvent,
            ConnectEvent,
            FollowEvent,
            GiftEvent,
            JoinEvent,
            LikeEvent,
            LiveEndEvent,
            RoomUserSeqEvent,
            ShareEvent,
        )

        queue: asyncio.Queue[PlatformItem | Malformed | _End] = asyncio.Queue()
        ended: list[str] = []

        def deliver(event: object) -> None:  # called by the client's emitter, in its loop task: never raise
            try:
                got = tiktok_item(self.room_id, event)
            except Exception as exc:
                got = Malformed(f"{type(event).__name__}: {type(exc).__name__}")
            if got is not None:
                queue.put_nowait(got)

        def live_ended(event: object) -> None:
            ended.append(type(event).__name__)

        _redact_library_logs(logging.getLogger("TikTokLive"), logging.getLogger("httpx"))
        for event_type in (
            ConnectEvent,
            CommentEvent,
            GiftEvent,
            LikeEvent,
            FollowEvent,
            ShareEvent,
            JoinEvent,
            RoomUserSeqEvent,
        ):
            # add_listener, not on(type, f): TikTokLive 7's on() with a handler passes the event *name* to its
            # own add_listener, which then fails (AttributeError: 'str' object has no attribute 'get_type').
            client.add_listener(event_type, deliver)
        client.add_listener(LiveEndEvent, live_ended)

        runner = asyncio.create_task(self._run(client), name=f"tiktok @{self.unique_id}")
        runner.add_done_callback(lambda _task: queue.put_nowait(_END))
        try:
            while True:
                got = await queue.get()
                if isinstance(got, _End):
                    break
                yield got
            failure = None if runner.cancelled() else runner.exception()
            if failure is not None:
                raise TikTokSessionError(self._describe(failure)) from None
            if runner.cancelled():
                raise TikTokSessionError("the TikTok client's task was cancelled")
            if ended:
                raise TikTokSessionError(f"the LIVE of @{self.unique_id} ended ({ended[0]})")
        finally:
            await self._close(client, runner)

    @staticmethod
    async def _run(client: Any) -> None:
        # start() returns once connected (room id, live check, sign server) with the WebSocket loop's task;
        # connect() would await that task too, but its cancellation path calls run_until_complete on the
        # running loop (RuntimeError), so the loop task is awaited here.
        loop_task = await client.start(fetch_room_info=False, fetch_gift_info=False)
        await loop_task

    async def _close(self, client: Any, runner: asyncio.Task[None]) -> None:
        try:
            await asyncio.wait_for(client.disconnect(), self._disconnect_timeout)
        except Exception as exc:  # closing goes on: cancel the task, close the HTTP clients
            log.debug("tiktok @%s: disconnect failed: %s", self.unique_id, type(exc).__name__)
        if not runner.done():
            runner.cancel()
            await asyncio.wait({runner}, timeout=self._disconnect_timeout)
        if runner.done() and not runner.cancelled():
            runner.exception()  # retrieved: a failure after the session was closed is not logged as lost
        # client.close() would also end the loop's tasks through run_until_complete (RuntimeError in a running
        # loop), so the HTTP clients are closed directly.
        with contextlib.suppress(Exception):
            await client.web.close()
        with contextlib.suppress(Exception):
            await client.web.signer.client.aclose()

    def _describe(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or "no message"
        for secret in (self._sign_api_key, self._session_id):
            if secret:
                for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
                    text = text.replace(form, "***")
        text = _COOKIE_SECRETS.sub(r"\1=***", text)
        return f"{type(exc).__name__}: {text}"[:500]
