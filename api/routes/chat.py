"""Shopper chat: answer a message (JSON or server-sent events) and read a conversation's messages.

Anonymous and rate-limited per client IP and per conversation. Input is checked before the pipeline
runs: the request body is read with a size bound (a huge body gets 413 without being buffered), must
be UTF-8 JSON, and the text must be non-empty and within `max_message_chars`. HTML or script in the
text is only text: it is never interpreted here, and every response is JSON.

The helpers (`read_json_body`, `enforce_chat_rate_limit`, `record_answer`, …) are shared with the
OpenAI-compatible endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.conversations import Conversation, ConversationError, check_conversation_id
from agent.pipeline import AnswerResult, MessageTooLongError
from api.auth import optional_principal
from api.deps import MerchantDep, ServicesDep
from api.logging import log_answer
from api.ratelimit import ChatRateLimits, RedisTokenBucketLimiter
from api.schemas import MAX_OFFSET
from api.services import Services
from api.settings import Settings

log = logging.getLogger("anchor.api.chat")

router = APIRouter(prefix="/v1/merchants/{merchant}/conversations/{conversation_id}", tags=["chat"])

_Model = TypeVar("_Model", bound=BaseModel)


# -- payloads --------------------------------------------------------------------------------------
class ChatMessageIn(BaseModel):
    """A shopper's message."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(description="The shopper's message (plain text; HTML is not interpreted).")
    channel: Literal["chat", "live"] = Field(
        default="chat", description="'chat' (private shop chat) or 'live' (public live room)"
    )
    focus_sku: str | None = Field(
        default=None, max_length=128, description="Pin the product in focus (a product page's chat)"
    )
    user_id: str | None = Field(default=None, max_length=128, description="The platform's user id, if any")


class ChatAnswerOut(BaseModel):
    conversation_id: str
    message: dict[str, Any] = Field(description="The answer: AnswerResult.to_dict()")
    conversation_token: str | None = Field(
        default=None,
        description="Given once, to the request that started the conversation: send it as "
        "X-Conversation-Token to read the conversation's messages",
    )


class ConversationMessageOut(BaseModel):
    id: int
    role: Literal["customer", "bot", "agent", "system"]
    text: str
    created_at: str


class ConversationMessagesOut(BaseModel):
    conversation_id: str
    state: Literal["bot", "human"]
    messages: list[ConversationMessageOut]


def request_body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI `requestBody` for routes that read and validate the body themselves.

    Nested models' `$defs` are inlined: their `#/$defs/...` references would not resolve inside the
    OpenAPI document.
    """
    schema = model.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }


# -- shared helpers --------------------------------------------------------------------------------
def conversation_path(
    conversation_id: Annotated[str, Path(description="Client-generated id: 1-64 of A-Z a-z 0-9 _ . : -")],
) -> str:
    try:
        return check_conversation_id(conversation_id)
    except ConversationError as exc:
        raise HTTPException(422, str(exc)) from exc


async def read_body(request: Request, limit: int, *, empty: str) -> bytes:
    """The request's body, read with a size bound (the declared Content-Length first, then what arrives);
    413 over the bound, 400 with ``empty`` (what to send) for a blank body."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError as exc:
            raise HTTPException(400, f"Content-Length {declared!r} is not a number") from exc
        if size > limit:
            raise HTTPException(413, f"request body is {size} bytes; the limit is {limit} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise HTTPException(413, f"request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise HTTPException(400, f"request body is empty: {empty}")
    return raw


async def read_json_body(request: Request, limit: int) -> Any:
    """The request's JSON body, read with a size bound; 413/400 with a clear message otherwise."""
    raw = await read_body(request, limit, empty='send a JSON object such as {"text": "..."}')
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            400, f"request body is not valid UTF-8 (bad byte at offset {exc.start}); send UTF-8 JSON"
        ) from exc
    try:
        return json.loads(decoded)
    except json.JSONDecodeError as exc:
        raise HTTPException(
            400, f"request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc


def validate_body(model: type[_Model], data: Any) -> _Model:
    """Validate parsed JSON; errors go through the app's 422 handler with `body.<field>` locations."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"loc": ("body", *err["loc"]), "msg": err["msg"], "type": err["type"]} for err in exc.errors()
        ]
        raise RequestValidationError(errors) from exc


def check_message_text(text: str, settings: Settings) -> None:
    """422 for an empty message, 413 for one over `max_message_chars`."""
    if not text.strip():
        raise HTTPException(422, "text is empty: send the shopper's message in 'text'")
    if len(text) > settings.max_message_chars:
        raise HTTPException(
            413,
            f"text is {len(text)} characters; the limit is {settings.max_message_chars} "
            "(ANCHOR_MAX_MESSAGE_CHARS)",
        )


def client_ip(request: Request, settings: Settings) -> str:
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.client.host if request.client else "unknown"


def chat_limits(request: Request, settings: Settings) -> ChatRateLimits:
    """The app's chat limiter, built on first use from the settings."""
    limits: ChatRateLimits | None = getattr(request.app.state, "chat_limits", None)
    if limits is None and settings.redis_url:
        # Several API processes share one Redis: the limits hold across all of them.
        limits = ChatRateLimits(
            RedisTokenBucketLimiter(
                settings.redis_url,
                settings.chat_rate_per_minute_ip,
                settings.chat_burst_ip,
                scope="ip",
                prefix=settings.rate_limit_prefix,
            ),
            RedisTokenBucketLimiter(
                settings.redis_url,
                settings.chat_rate_per_minute_conversation,
                settings.chat_burst_conversation,
                scope="conversation",
                prefix=settings.rate_limit_prefix,
            ),
        )
        request.app.state.chat_limits = limits
    if limits is None:
        limits = ChatRateLimits.in_memory(
            ip_per_minute=settings.chat_rate_per_minute_ip,
            ip_burst=settings.chat_burst_ip,
            conversation_per_minute=settings.chat_rate_per_minute_conversation,
            conversation_burst=settings.chat_burst_conversation,
            max_keys=settings.chat_rate_max_keys,
        )
        request.app.state.chat_limits = limits
    return limits


def enforce_chat_rate_limit(
    request: Request, settings: Settings, merchant: str, conversation_id: str
) -> None:
    """429 with `Retry-After` when the client or the conversation sends too fast."""
    decision = chat_limits(request, settings).check(client_ip(request, settings), merchant, conversation_id)
    if decision.allowed:
        return
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.rate_limited.labels(scope=decision.scope).inc()
    if decision.scope == "ip":
        what = f"this address ({settings.chat_rate_per_minute_ip:g} messages a minute)"
    else:
        what = f"this conversation ({settings.chat_rate_per_minute_conversation:g} messages a minute)"
    seconds = decision.retry_after_header
    raise HTTPException(
        429,
        f"too many messages from {what}; retry in {seconds} s",
        headers={"Retry-After": seconds},
    )


def record_answer(
    request: Request,
    *,
    merchant: str,
    conversation_id: str,
    channel: str,
    endpoint: str,
    result: AnswerResult,
    seconds: float,
    message_chars: int,
) -> None:
    """Count the answer in the app's metrics and write its log line."""
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.observe_answer(result, channel, seconds)
    log_answer(
        merchant=merchant,
        conversation_id=conversation_id,
        channel=channel,
        endpoint=endpoint,
        route=result.route,
        refused=result.refused,
        escalated=result.escalated,
        silent=result.silent,
        ticket_id=result.ticket_id,
        writer=result.writer,
        latency_ms=seconds * 1000.0,
        message_chars=message_chars,
    )


async def answer_message(
    services: Services, merchant: str, conversation_id: str, message: ChatMessageIn
) -> AnswerResult:
    """Run the pipeline, turning input errors it finds into HTTP errors."""
    try:
        return await services.pipeline.answer(
            merchant,
            conversation_id,
            message.text,
            channel=message.channel,
            user_id=message.user_id,
            focus_sku=message.focus_sku,
        )
    except MessageTooLongError as exc:
        raise HTTPException(413, str(exc)) from exc
    except ConversationError as exc:
        raise HTTPException(422, str(exc)) from exc


def sse_event(event: str, data: Any) -> str:
    """One server-sent event (JSON data never contains a raw newline)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, MessageTooLongError):
        return {"error": {"code": "too_large", "message": str(exc)}}
    if isinstance(exc, ConversationError):
        return {"error": {"code": "invalid", "message": str(exc)}}
    return {"error": {"code": "internal", "message": "the answer failed on the server; please try again"}}


async def _incoming(
    request: Request, services: Services, merchant: str, conversation_id: str
) -> ChatMessageIn:
    settings = services.settings
    require_merchant(services, merchant)
    enforce_chat_rate_limit(request, settings, merchant, conversation_id)
    message = validate_body(ChatMessageIn, await read_json_body(request, settings.chat_max_body_bytes))
    check_message_text(message.text, settings)
    return message


ConversationDep = Annotated[str, Depends(conversation_path)]


def require_merchant(services: Services, merchant: str) -> None:
    """404 for a shop that does not exist here, before anything is stored or counted."""
    if not services.store.has_merchant(merchant):
        raise HTTPException(
            404, f"merchant {merchant!r} does not exist here: check the shop's id in the page's URL"
        )


def conversation_token(settings: Settings, merchant: str, conversation: Conversation) -> str:
    """The secret that proves a reader started the conversation: an HMAC, under the deployment's secret, of
    the merchant, the conversation id and the moment it was created (which only its first request saw)."""
    material = f"{merchant}\x00{conversation.id}\x00{conversation.created_at.isoformat()}".encode()
    digest = hmac.new(settings.secret_key.get_secret_value().encode(), material, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def new_conversation_token(
    services: Services, merchant: str, conversation_id: str, existed: bool
) -> str | None:
    """The token for a conversation this request created; None when it already existed."""
    if existed:
        return None
    conversation = services.conversations.get(merchant, conversation_id)
    return None if conversation is None else conversation_token(services.settings, merchant, conversation)


def _may_read(request: Request, services: Services, merchant: str, conversation: Conversation) -> bool:
    """The conversation's own token, or a staff key (agent, merchant, admin) of its merchant."""
    presented = request.headers.get("x-conversation-token", "")
    if presented and hmac.compare_digest(
        presented.encode(), conversation_token(services.settings, merchant, conversation).encode()
    ):
        return True
    principal = optional_principal(request)
    return (
        principal is not None
        and principal.role in ("agent", "merchant", "admin")
        and principal.can_act_for(merchant)
    )


# -- routes ----------------------------------------------------------------------------------------
@router.post(
    "/messages",
    summary="Answer a shopper's message",
    response_model=ChatAnswerOut,
    openapi_extra=request_body_schema(ChatMessageIn),
    responses={
        413: {"description": "Body or text too long"},
        422: {"description": "Empty text or invalid field"},
        429: {"description": "Rate limited; see Retry-After"},
    },
)
async def post_message(
    merchant: MerchantDep,
    conversation_id: ConversationDep,
    request: Request,
    services: ServicesDep,
) -> ChatAnswerOut:
    message = await _incoming(request, services, merchant, conversation_id)
    existed = services.conversations.get(merchant, conversation_id) is not None
    start = time.perf_counter()
    result = await answer_message(services, merchant, conversation_id, message)
    record_answer(
        request,
        merchant=merchant,
        conversation_id=conversation_id,
        channel=message.channel,
        endpoint="chat",
        result=result,
        seconds=time.perf_counter() - start,
        message_chars=len(message.text),
    )
    token = new_conversation_token(services, merchant, conversation_id, existed)
    return ChatAnswerOut(conversation_id=conversation_id, message=result.to_dict(), conversation_token=token)


@router.post(
    "/messages/stream",
    summary="Answer a shopper's message as server-sent events (delta, replace, done, error)",
    openapi_extra=request_body_schema(ChatMessageIn),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_message(
    merchant: MerchantDep,
    conversation_id: ConversationDep,
    request: Request,
    services: ServicesDep,
) -> StreamingResponse:
    message = await _incoming(request, services, merchant, conversation_id)
    existed = services.conversations.get(merchant, conversation_id) is not None

    async def events() -> AsyncIterator[str]:
        start = time.perf_counter()
        try:
            async for event in services.pipeline.answer_stream(
                merchant,
                conversation_id,
                message.text,
                channel=message.channel,
                user_id=message.user_id,
                focus_sku=message.focus_sku,
            ):
                if event.kind == "done" and event.result is not None:
                    record_answer(
                        request,
                        merchant=merchant,
                        conversation_id=conversation_id,
                        channel=message.channel,
                        endpoint="chat_stream",
                        result=event.result,
                        seconds=time.perf_counter() - start,
                        message_chars=len(message.text),
                    )
                    done = event.result.to_dict()
                    token = new_conversation_token(services, merchant, conversation_id, existed)
                    if token is not None:
                        done["conversation_token"] = token
                    yield sse_event("done", done)
                elif event.kind in ("delta", "replace"):
                    yield sse_event(event.kind, {"text": event.text})
        except Exception as exc:
            if not isinstance(exc, MessageTooLongError | ConversationError):
                log.exception("streamed answer failed (merchant %s)", merchant)
            yield sse_event("error", stream_error(exc))

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/messages",
    summary="The conversation's messages after a message id (poll for a human agent's replies); needs the "
    "conversation's X-Conversation-Token or a staff key of the merchant",
    response_model=ConversationMessagesOut,
    responses={
        403: {"description": "Neither the conversation's token nor a staff key of its merchant"},
        404: {"description": "No such conversation"},
    },
)
def list_messages(
    merchant: MerchantDep,
    conversation_id: ConversationDep,
    services: ServicesDep,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Only messages with a larger id")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> ConversationMessagesOut:
    conversation = services.conversations.get(merchant, conversation_id)
    if conversation is None:
        raise HTTPException(404, f"conversation {conversation_id!r} not found for merchant {merchant!r}")
    if not _may_read(request, services, merchant, conversation):
        raise HTTPException(
            403,
            "a conversation's messages are its shopper's: send the X-Conversation-Token its first answer gave, "
            "or a staff API key of the merchant",
        )
    rows = services.conversations.messages_since(merchant, conversation_id, after, limit)
    return ConversationMessagesOut(
        conversation_id=conversation_id,
        state=conversation.state,
        messages=[
            ConversationMessageOut(id=m.id, role=m.role, text=m.text, created_at=m.created_at.isoformat())
            for m in rows
        ],
    )
