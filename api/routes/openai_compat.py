"""An OpenAI-compatible face of the shopper chat: `POST /v1/chat/completions`, `GET /v1/models`.

Any OpenAI client can talk to the bot: `model` is the merchant id ("anchor" means the default
merchant), the last `user` message is the question, and the conversation id is the request's `user`
field (used as is when it is a valid id, hashed otherwise) or else a stable hash of the first user
message and the client address, so a client resending the whole history keeps one conversation. The
bot keeps its own memory; earlier messages in the request are not replayed into it.

Replies follow the OpenAI wire format (`chat.completion`, or `chat.completion.chunk` events ending
with `data: [DONE]`) and add an `anchor` field with the full AnswerResult, which OpenAI clients ignore.
Extensions (pass them with the client's `extra_body`): `channel` ("chat"|"live") and `focus_sku`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.conversations import ConversationError, check_conversation_id
from agent.pipeline import AnswerResult, MessageTooLongError
from api.deps import ServicesDep
from api.routes.chat import (
    ChatMessageIn,
    answer_message,
    check_message_text,
    client_ip,
    enforce_chat_rate_limit,
    read_json_body,
    record_answer,
    request_body_schema,
    require_merchant,
    stream_error,
    validate_body,
)
from api.services import InvalidMerchantError, Services, check_merchant_id

log = logging.getLogger("anchor.api.openai")

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

#: `model` naming the default merchant.
DEFAULT_MODEL = "anchor"


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionIn(BaseModel):
    """The fields of an OpenAI chat completion request this endpoint uses (others are ignored)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="Merchant id, or 'anchor' for the default merchant")
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = Field(default=None, max_length=256)
    stream_options: dict[str, Any] | None = None
    channel: Literal["chat", "live"] = "chat"
    focus_sku: str | None = Field(default=None, max_length=128)


def message_text(message: OpenAIMessage) -> str:
    """Plain text of a message: a string, or the text parts of a content list."""
    if isinstance(message.content, str):
        return message.content
    if not message.content:
        return ""
    return "".join(
        str(part.get("text", "")) for part in message.content if part.get("type", "text") == "text"
    )


def rough_tokens(text: str) -> int:
    """A rough token count: one per CJK character, one per four other characters."""
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return wide + math.ceil((len(text) - wide) / 4)


def conversation_for(body: ChatCompletionIn, first_user_text: str, ip: str) -> str:
    if body.user:
        try:
            return check_conversation_id(body.user)
        except ConversationError:
            return "u-" + hashlib.sha256(body.user.encode("utf-8")).hexdigest()[:40]
    digest = hashlib.sha256(f"{ip}\n{first_user_text}".encode()).hexdigest()[:40]
    return "oa-" + digest


def merchant_for(model: str, default_merchant: str) -> str:
    if model == DEFAULT_MODEL:
        return default_merchant
    try:
        return check_merchant_id(model)
    except InvalidMerchantError as exc:
        raise HTTPException(
            404, f"model {model!r} is not a merchant id; use '{DEFAULT_MODEL}' or a merchant id ({exc})"
        ) from exc


class _Completion:
    """Builds the OpenAI-shaped objects of one completion."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def _base(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def full(self, result: AnswerResult, prompt_tokens: int) -> dict[str, Any]:
        return {
            **self._base("chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.answer, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage(prompt_tokens, result.answer),
            "anchor": result.to_dict(),
        }

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
        body = {
            **self._base("chat.completion.chunk"),
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            **extra,
        }
        return _data(body)

    def usage_chunk(self, prompt_tokens: int, answer: str) -> str:
        return _data(
            {**self._base("chat.completion.chunk"), "choices": [], "usage": usage(prompt_tokens, answer)}
        )


def usage(prompt_tokens: int, answer: str) -> dict[str, int]:
    completion = rough_tokens(answer)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }


def _data(payload: Any) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


@router.get("/models", summary="Models (merchants) this endpoint answers for")
def list_models(services: ServicesDep) -> dict[str, Any]:
    names = [DEFAULT_MODEL, services.settings.default_merchant]
    return {
        "object": "list",
        "data": [{"id": name, "object": "model", "created": 0, "owned_by": "live-anchor"} for name in names],
    }


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat completion (model = merchant id)",
    openapi_extra=request_body_schema(ChatCompletionIn),
    response_model=None,
    responses={
        404: {"description": "The model names no merchant here"},
        429: {"description": "Rate limited; see Retry-After"},
    },
)
async def chat_completions(request: Request, services: ServicesDep) -> JSONResponse | StreamingResponse:
    settings = services.settings
    body = validate_body(ChatCompletionIn, await read_json_body(request, settings.chat_max_body_bytes))
    merchant = merchant_for(body.model, settings.default_merchant)
    require_merchant(services, merchant)
    user_texts = [message_text(m) for m in body.messages if m.role == "user"]
    if not user_texts:
        raise HTTPException(422, "messages has no 'user' message: the last user message is the question")
    question = user_texts[-1]
    check_message_text(question, settings)
    conversation_id = conversation_for(body, user_texts[0], client_ip(request, settings))
    enforce_chat_rate_limit(request, settings, merchant, conversation_id)
    message = ChatMessageIn(text=question, channel=body.channel, focus_sku=body.focus_sku)
    prompt_tokens = sum(rough_tokens(message_text(m)) for m in body.messages)
    completion = _Completion(body.model)
    if not body.stream:
        start = time.perf_counter()
        result = await answer_message(services, merchant, conversation_id, message)
        _record(request, merchant, conversation_id, message, result, start, "openai")
        return JSONResponse(completion.full(result, prompt_tokens))
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    return StreamingResponse(
        _stream(
            request, services, merchant, conversation_id, message, completion, prompt_tokens, include_usage
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _record(
    request: Request,
    merchant: str,
    conversation_id: str,
    message: ChatMessageIn,
    result: AnswerResult,
    start: float,
    endpoint: str,
) -> None:
    record_answer(
        request,
        merchant=merchant,
        conversation_id=conversation_id,
        channel=message.channel,
        endpoint=endpoint,
        result=result,
        seconds=time.perf_counter() - start,
        message_chars=len(message.text),
    )


async def _stream(
    request: Request,
    services: Services,
    merchant: str,
    conversation_id: str,
    message: ChatMessageIn,
    completion: _Completion,
    prompt_tokens: int,
    include_usage: bool,
) -> AsyncIterator[str]:
    """Chunks per the OpenAI wire format.

    OpenAI streams cannot retract text, so a "replace" event (the pipeline discarding what it
    streamed) is sent as a paragraph break followed by the replacement; the final chunk's `anchor`
    field carries the authoritative answer.
    """
    start = time.perf_counter()
    yield completion.chunk({"role": "assistant", "content": ""})
    try:
        async for event in services.pipeline.answer_stream(
            merchant,
            conversation_id,
            message.text,
            channel=message.channel,
            focus_sku=message.focus_sku,
        ):
            if event.kind == "delta" and event.text:
                yield completion.chunk({"content": event.text})
            elif event.kind == "replace":
                yield completion.chunk({"content": "\n\n" + event.text})
            elif event.kind == "done" and event.result is not None:
                _record(request, merchant, conversation_id, message, event.result, start, "openai_stream")
                yield completion.chunk({}, "stop", anchor=event.result.to_dict())
                if include_usage:
                    yield completion.usage_chunk(prompt_tokens, event.result.answer)
    except Exception as exc:
        if not isinstance(exc, MessageTooLongError | ConversationError):
            log.exception("streamed completion failed (merchant %s)", merchant)
        yield _data(stream_error(exc))
    yield "data: [DONE]\n\n"
