"""A loopback server speaking OpenAI's chat-completions wire protocol, with scripted replies.

Tests and benchmarks point the real `openai` client (directly or inside LangChain's ``ChatOpenAI``) at
``FakeOpenAIServer.base_url``, so everything from our code down to the HTTP bytes runs for real; only
the model is played by a script. It serves ``POST /v1/chat/completions`` both ways:

- ``"stream": true``: server-sent events (``data: {chunk}`` … ``data: [DONE]``) over chunked transfer
  encoding, with `first_token_delay` before the first content chunk and `token_delay` between chunks;
- otherwise one ``chat.completion`` JSON body after `first_token_delay` plus a `token_delay` per token.

Error replies (``Reply(status=500)``, 429 …) carry OpenAI's error body; ``Reply(hang=True)`` answers
nothing until the server stops. Every received JSON body is kept in `requests`.

Example::

    with FakeOpenAIServer([Reply("这款卫衣¥159。")], first_token_delay=0.2) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_TOKEN = re.compile(r"\s*(?:[A-Za-z0-9_'%¥$]+(?:[.,:][0-9]+)*|\S)")


def split_tokens(text: str) -> list[str]:
    """Cut `text` into token-like pieces: latin words and numbers whole, other characters one by one."""
    pieces = _TOKEN.findall(text)
    joined = "".join(pieces)
    if joined != text:  # trailing whitespace the pattern does not take
        pieces.append(text[len(joined) :])
    return [p for p in pieces if p]


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer of the fake model.

    Attributes:
        text: The assistant's reply.
        status: HTTP status; anything but 200 sends an OpenAI-style error body instead of a completion.
        hang: Send nothing at all until the server stops (a provider that never answers).
        tokens: The pieces to stream; default `split_tokens(text)`.
        first_token_delay: Overrides the server's delay before the first token for this reply.
    """

    text: str = ""
    status: int = 200
    hang: bool = False
    tokens: tuple[str, ...] | None = None
    first_token_delay: float | None = None

    def pieces(self) -> list[str]:
        return list(self.tokens) if self.tokens is not None else split_tokens(self.text)


Script = Sequence[Reply] | Callable[[dict[str, Any]], Reply]


class FakeOpenAIServer:
    """A real HTTP server on 127.0.0.1 (free port) in a background thread; use it as a context manager.

    Args:
        script: Replies in order (the last one repeats once the list runs out), or a function from the
            request's JSON body to the reply.
        first_token_delay: Seconds before the first token of every reply.
        token_delay: Seconds between tokens.
    """

    def __init__(self, script: Script, *, first_token_delay: float = 0.0, token_delay: float = 0.0) -> None:
        if not callable(script) and not script:
            raise ValueError("FakeOpenAIServer needs at least one scripted Reply")
        self.script = script
        self.first_token_delay = first_token_delay
        self.token_delay = token_delay
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _QuietHTTPServer(("127.0.0.1", 0), _handler_for(self))
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # releases hanging replies
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running: use it as a context manager or call start()")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI base URL to configure, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- script --------------------------------------------------------------------------------
    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
        if callable(self.script):
            return self.script(body)
        return self.script[min(index, len(self.script) - 1)]

    def wait_stopping(self, seconds: float) -> bool:
        """Sleep `seconds` unless the server stops first; True when it is stopping."""
        if seconds <= 0:
            return self._stopping.is_set()
        return self._stopping.wait(seconds)


class _QuietHTTPServer(ThreadingHTTPServer):
    """Clients that hang up (a timeout, a closed keep-alive connection) are normal here, not errors."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


def _handler_for(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_ChatCompletionsHandler):
        fake = server

    return Handler


class _ChatCompletionsHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; small writes go out at once (no Nagle delay)."""

    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests` instead
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}", "not_found")
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"request body is not JSON: {exc}", "invalid_request_error")
            return
        reply = self.fake.next_reply(body)
        if reply.hang:
            self.fake.wait_stopping(3600)
            self.close_connection = True
            return
        delay = self.fake.first_token_delay if reply.first_token_delay is None else reply.first_token_delay
        if reply.status != 200:
            if self.fake.wait_stopping(delay):
                return
            self._error(reply.status, f"scripted error {reply.status}", "server_error")
            return
        model = str(body.get("model") or "fake-model")
        if body.get("stream"):
            self._stream(reply, model, delay)
        else:
            self._complete(reply, model, delay)

    def do_GET(self) -> None:
        self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}", "not_found")

    # -- replies -------------------------------------------------------------------------------
    def _complete(self, reply: Reply, model: str, delay: float) -> None:
        pieces = reply.pieces()
        if self.fake.wait_stopping(delay + self.fake.token_delay * max(0, len(pieces) - 1)):
            return
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(pieces)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": len(pieces), "total_tokens": len(pieces) + 1},
        }
        self._json(HTTPStatus.OK, payload)

    def _stream(self, reply: Reply, model: str, delay: float) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())

        def event(delta: dict[str, str], finish: str | None = None) -> bytes:
            data = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

        try:
            if self.fake.wait_stopping(delay):
                self.close_connection = True
                return
            pieces = reply.pieces()
            for i, piece in enumerate(pieces):
                if i > 0 and self.fake.wait_stopping(self.fake.token_delay):
                    self.close_connection = True
                    return
                delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                self._chunk(event(delta))
            if not pieces:
                self._chunk(event({"role": "assistant", "content": ""}))
            self._chunk(event({}, "stop") + b"data: [DONE]\n\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):  # the client hung up mid-stream (a timeout)
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str) -> None:
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})
