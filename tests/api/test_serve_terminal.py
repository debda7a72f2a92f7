"""A quiet, readable terminal for `anchor serve` / `anchor demo`: the log format (text on a terminal, JSON
otherwise, ANCHOR_LOG_FORMAT to force either), no access lines for chat posts and static files (errors
still logged), and the URLs and the key printed last, in a box, once uvicorn listens."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import ValidationError
from rich.console import Console
from typer.testing import CliRunner

from api.cli.serving import Banner, ReadyServer, RequestSeen, browse_host, ready_panel
from api.logging import (
    FIELDS_ATTR,
    QuietAccessFilter,
    choose_log_format,
    configure_logging,
    is_quiet_request,
)
from api.settings import Settings

ANCHOR = Path(sys.executable).with_name("anchor")
KEY = "ak_" + "x" * 43


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`configure_logging` replaces the root handlers and uvicorn's filters: put them back afterwards."""
    root = logging.getLogger()
    access = logging.getLogger("uvicorn.access")
    handlers, level, filters = list(root.handlers), root.level, list(access.filters)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        access.filters[:] = filters


# -- the format -------------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("requested", "tty", "chosen"),
    [
        ("auto", True, "text"),
        ("auto", False, "json"),
        ("json", True, "json"),
        ("text", False, "text"),
    ],
)
def test_text_on_a_terminal_json_otherwise_unless_asked(requested: str, tty: bool, chosen: str) -> None:
    stream = Terminal() if tty else io.StringIO()
    assert choose_log_format(requested, stream) == chosen


@pytest.mark.unit
def test_an_invalid_format_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, json or text"):
        choose_log_format("yaml", io.StringIO())


@pytest.mark.unit
def test_the_environment_chooses_the_format_and_the_access_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANCHOR_LOG_FORMAT", "ANCHOR_LOG_JSON", "ANCHOR_LOG_ACCESS"):
        monkeypatch.delenv(name, raising=False)
    default = Settings()
    assert default.requested_log_format() == "auto"
    assert default.log_access == "quiet"
    assert isinstance(default, Settings)  # what create_app takes

    monkeypatch.setenv("ANCHOR_LOG_FORMAT", "json")
    assert Settings().requested_log_format() == "json"
    monkeypatch.setenv("ANCHOR_LOG_FORMAT", "text")
    assert Settings().requested_log_format() == "text"
    monkeypatch.setenv("ANCHOR_LOG_FORMAT", "loud")
    with pytest.raises(ValidationError):
        Settings()

    # The older switch still decides when ANCHOR_LOG_FORMAT is not set.
    monkeypatch.delenv("ANCHOR_LOG_FORMAT")
    monkeypatch.setenv("ANCHOR_LOG_JSON", "false")
    assert Settings().requested_log_format() == "text"
    monkeypatch.setenv("ANCHOR_LOG_JSON", "true")
    assert Settings().requested_log_format() == "json"

    monkeypatch.setenv("ANCHOR_LOG_ACCESS", "all")
    assert Settings().log_access == "all"


@pytest.mark.unit
def test_a_terminal_gets_readable_lines_a_pipe_gets_json(restore_logging: None) -> None:
    terminal = Terminal()
    assert configure_logging("INFO", log_format="auto", stream=terminal) == "text"
    fields = {"event": "answer", "route": "product", "merchant": "demo", "latency_ms": 12.5}
    logging.getLogger("anchor.answers").info("answer product demo", extra={FIELDS_ATTR: fields})
    logging.getLogger("uvicorn.error").warning("Uvicorn running on http://127.0.0.1:8000")
    text = terminal.getvalue()
    assert not text.lstrip().startswith("{")
    assert "answer product demo" in text
    assert "route=product merchant=demo latency_ms=12.5" in text
    assert "server" in text  # uvicorn.error, named for people
    assert "\x1b[33mWARN" in text  # a coloured level on a terminal
    assert logging.getLogger("faiss.loader").level == logging.WARNING  # no start-up chatter at INFO

    pipe = io.StringIO()
    assert configure_logging("INFO", log_format="auto", stream=pipe) == "json"
    logging.getLogger("anchor.answers").info("answer product demo", extra={FIELDS_ATTR: fields})
    line = json.loads(pipe.getvalue().splitlines()[-1])
    assert line["route"] == "product"
    assert line["logger"] == "anchor.answers"

    forced = io.StringIO()
    assert configure_logging("INFO", log_format="text", stream=forced) == "text"
    logging.getLogger("anchor.api").info("ready")
    assert forced.getvalue().rstrip().endswith("anchor.api  ready")
    assert "\x1b[" not in forced.getvalue()  # no colours where there is no terminal


# -- access lines -----------------------------------------------------------------------------------------


def access_record(method: str, path: str, status: int) -> logging.LogRecord:
    return logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", method, path, "1.1", status),
        None,
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("method", "path", "status", "logged"),
    [
        ("POST", "/v1/rooms/demo-room/chat", 202, False),  # the demo's replay, a message a second
        ("GET", "/static/console.js", 200, False),
        ("GET", "/static/app.css?v=2", 304, False),
        ("GET", "/v1/rooms/demo-room/host/mouth-a.png", 200, False),
        ("GET", "/v1/images/abc123", 200, False),
        ("POST", "/v1/rooms/demo-room/chat", 422, True),  # errors are always logged
        ("POST", "/v1/rooms/demo-room/chat", 429, True),
        ("GET", "/static/missing.js", 404, True),
        ("GET", "/static/app.css", 500, True),
        ("GET", "/console", 200, True),  # other requests are logged
        ("POST", "/v1/merchants/demo/rooms", 201, True),
        ("POST", "/v1/merchants/demo/conversations/c1/messages", 200, True),
        ("GET", "/v1/rooms/demo-room/chat", 200, True),
    ],
)
def test_the_quiet_filter_hides_chat_posts_and_static_files_that_succeed(
    method: str, path: str, status: int, logged: bool
) -> None:
    assert QuietAccessFilter().filter(access_record(method, path, status)) is logged


@pytest.mark.unit
def test_records_of_another_shape_pass() -> None:
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "something else", (), None
    )
    assert QuietAccessFilter().filter(record)
    assert not is_quiet_request("DELETE", "/static/app.css")


def _small_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/rooms/{room_id}/chat", status_code=202)
    def chat(room_id: str) -> dict[str, str]:
        if room_id == "closed":
            raise HTTPException(409, "the room is not on air")
        return {"room": room_id}

    @app.get("/static/{name}")
    def asset(name: str) -> dict[str, str]:
        return {"name": name}

    @app.get("/console")
    def console() -> dict[str, str]:
        return {"page": "console"}

    return app


def _run(app: FastAPI, on_ready: Any) -> tuple[ReadyServer, threading.Thread, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_config=None, log_level="info", lifespan="off")
    server = ReadyServer(config, lambda: on_ready(port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return server, thread, port


@pytest.mark.integration
@pytest.mark.parametrize("quiet", [True, False])
def test_real_access_lines_are_quiet_for_chat_and_static_not_for_errors(
    restore_logging: None, quiet: bool
) -> None:
    out = io.StringIO()
    configure_logging("INFO", log_format="text", quiet_access=quiet, stream=out)
    listening: list[bool] = []
    ready = threading.Event()

    def on_ready(port: int) -> None:
        # Called once uvicorn listens: a connection is accepted right now.
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            listening.append(True)
        ready.set()

    server, thread, port = _run(_small_app(), on_ready)
    try:
        assert ready.wait(10)
        assert listening == [True]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.post("/v1/rooms/demo-room/chat", json={"text": "hi"}).status_code == 202
            assert http.get("/static/app.css").status_code == 200
            assert http.post("/v1/rooms/closed/chat", json={"text": "hi"}).status_code == 409
            assert http.get("/console").status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
    lines = out.getvalue()
    assert '"POST /v1/rooms/closed/chat HTTP/1.1" 409' in lines  # an error is logged
    assert '"GET /console HTTP/1.1" 200' in lines  # another request is logged
    assert ('"POST /v1/rooms/demo-room/chat HTTP/1.1" 202' in lines) is not quiet
    assert ('"GET /static/app.css HTTP/1.1" 200' in lines) is not quiet


# -- the box ----------------------------------------------------------------------------------------------


def render(banner: Banner, width: int = 100) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(ready_panel(banner))
    return out.getvalue()


@pytest.mark.unit
def test_the_box_holds_the_urls_and_the_key() -> None:
    text = render(Banner("http://127.0.0.1:8000", "demo", key=KEY, room_id="demo-room"))
    lines = text.splitlines()
    assert lines[0].startswith("╭")
    assert "ready" in lines[0]
    assert lines[-1].startswith("╰")
    for url in (
        "http://127.0.0.1:8000/chat?merchant=demo",
        "http://127.0.0.1:8000/console",
        "http://127.0.0.1:8000/catalog",
        "http://127.0.0.1:8000/room/demo-room",
        "http://127.0.0.1:8000/room/demo-room?transparent=1",
        "http://127.0.0.1:8000/docs",
    ):
        assert url in text
    assert KEY in text  # whole, on one line, to copy
    assert "shown once" in text
    assert "ANCHOR_LOG_ACCESS=all" in text

    plain = render(Banner("http://127.0.0.1:8000", "shop1", quiet_access=False))
    assert "ak_" not in plain
    assert "anchor keys create --role merchant --merchant shop1" in plain
    assert "/room/" not in plain
    assert "Every request is logged" in plain


@pytest.mark.unit
def test_a_wildcard_bind_address_is_shown_as_this_machine() -> None:
    assert browse_host("0.0.0.0") == "127.0.0.1"
    assert browse_host("::") == "[::1]"
    assert browse_host("192.168.1.5") == "192.168.1.5"
    assert browse_host("fe80::1") == "[fe80::1]"


@pytest.mark.integration
def test_demo_hands_its_key_and_room_to_the_box(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    from api.cli import app as cli
    from api.cli import catalog, room
    from api.services import Services

    served: dict[str, Any] = {}

    def fake_run_server(settings: Settings, host: str, port: int, **kwargs: Any) -> bool:
        served.update(settings=settings, host=host, port=port, **kwargs)
        return True

    monkeypatch.setattr(catalog, "run_server", fake_run_server)
    monkeypatch.setattr(room, "start_demo_room", lambda base, key, plan, chat, merchant=None: "demo-room")
    result = CliRunner().invoke(cli, ["demo", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "ak_" not in result.output  # not before the logs: only in the box, at the end
    assert served["room_id"] == "demo-room"
    assert served["port"] == 8123
    assert isinstance(served["settings"], Settings)
    services = Services(settings)
    try:
        key = services.keys.find(served["key"])  # a real key of the demo merchant
        assert (key.role, key.merchant) == ("merchant", "demo")
    finally:
        services.close()
    # The box waits until the demo's room start request has been answered.
    wait_for = served["wait_for"]
    assert not wait_for.is_set()
    for record in (
        access_record("GET", "/health", 200),
        access_record("POST", "/v1/merchants/demo/rooms", 201),
    ):
        logging.getLogger("uvicorn.access").handle(record)
    assert wait_for.is_set()


@pytest.mark.unit
def test_request_seen_watches_one_request_and_drops_nothing() -> None:
    event = threading.Event()
    seen = RequestSeen("POST", "/v1/merchants/demo/rooms", event)
    assert seen.filter(access_record("POST", "/v1/merchants/demo/rooms/x", 201))
    assert seen.filter(access_record("GET", "/v1/merchants/demo/rooms", 200))
    assert not event.is_set()
    assert seen.filter(access_record("POST", "/v1/merchants/demo/rooms?x=1", 409))
    assert event.is_set()


# -- `anchor serve` for real ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.integration
@pytest.mark.slow
def test_anchor_serve_prints_the_box_last_and_keeps_the_log_quiet(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "ANCHOR_DATA_DIR": str(tmp_path / "var"),
        "ANCHOR_EMBEDDER": "hash",
        "COLUMNS": "120",
    }
    for name in ("ANCHOR_LOG_FORMAT", "ANCHOR_LOG_JSON", "ANCHOR_LOG_ACCESS", "ANCHOR_LOG_LEVEL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [str(ANCHOR), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # logs (stderr) and the box (stdout) in the order a terminal shows them
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout or []:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []

    def read_until(predicate: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(predicate(line) for line in seen):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("anchor serve did not get there:\n" + "".join(seen)[-3000:])
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.2))

    try:
        read_until(lambda line: line.startswith("╰"), 90)  # the bottom of the box
        box_top = next(i for i, line in enumerate(seen) if line.startswith("╭"))
        before, box = seen[:box_top], "".join(seen[box_top:])
        # Not a terminal: JSON lines, and the server was listening before the box.
        records = [json.loads(line) for line in before if line.startswith("{")]
        assert any("Uvicorn running on" in r["msg"] for r in records)
        assert any("Application startup complete" in r["msg"] for r in records)
        assert f"http://127.0.0.1:{port}/console" in box
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert http.get("/static/app.css").status_code == 200
            assert http.post("/v1/rooms/no-such-room/chat", json={"text": "hi"}).status_code == 404
            assert http.get("/v1/me").status_code == 401
        read_until(lambda line: "/v1/me" in line, 20)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(5)
    while not lines.empty():
        seen.append(lines.get())
    after = [json.loads(line)["msg"] for line in seen[box_top:] if line.startswith("{")]
    assert any('"GET /health HTTP/1.1" 200' in msg for msg in after)  # other requests are logged
    assert any('"POST /v1/rooms/no-such-room/chat HTTP/1.1" 404' in msg for msg in after)  # errors are logged
    assert any('"GET /v1/me HTTP/1.1" 401' in msg for msg in after)
    assert not any("/static/app.css" in msg for msg in after)  # a static file that succeeded is not
