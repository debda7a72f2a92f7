"""Text is validated once, at the edge: a JSON body holding a string that is not valid Unicode (a lone
surrogate such as ``"\\ud800"``, which JSON allows and UTF-8 cannot encode) is refused with 422 naming the
field, before any route, store or log sees it. Surrogate pairs (emoji written as ``"\\ud83d\\ude00"``) are
valid and pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A \uD800–\uDFFF escape anywhere in the body: only then is the body parsed and walked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _unencodable(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _unencodable(key, (*path, "(key)"))
            yield from _unencodable(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unencodable(item, (*path, str(index)))


def find_unencodable(body: bytes) -> list[str]:
    """Dotted paths ("body.text", "body.messages.0.content") of strings in a JSON body that are not valid
    Unicode; [] for a body without any, or one that is not JSON (the route reports that itself)."""
    if not _SURROGATE_ESCAPE.search(body):
        return []
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    return [".".join(("body", *path)) for path in _unencodable(data)]


class UnencodableTextGuard:
    """ASGI middleware: refuses JSON bodies with unencodable text (422, the field named)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if b"json" not in headers.get(b"content-type", b""):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        bad = find_unencodable(body)
        if bad:
            problems = [
                {"where": where, "message": "not valid Unicode (an unpaired surrogate)"} for where in bad
            ]
            summary = "; ".join(f"{p['where']}: {p['message']}" for p in problems)
            payload = json.dumps(
                {"error": {"code": "invalid", "message": f"invalid request: {summary}", "problems": problems}}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 422,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        await self.app(
            scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send
        )


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
