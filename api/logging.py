"""Logs: readable lines on a terminal, JSON lines otherwise, and one line per answered shopper message.

`configure_logging(level, log_format=...)` installs the formatter on the root logger (`anchor serve` calls
it and hands uvicorn `log_config=None` so its access and error logs come out the same way). The format is
chosen by `choose_log_format`: ``json`` or ``text`` when asked (``ANCHOR_LOG_FORMAT``), else readable text
when the log stream is a terminal and JSON lines when it is not (a file, a pipe, a log collector).

Access lines: with ``quiet_access`` (the default of `anchor serve`, ``ANCHOR_LOG_ACCESS=quiet``) the
requests that come by the second and say nothing — viewers' chat posted to a live room (the demo's replay
posts a message a second) and static files (page assets, the host figure's layers, product images) — are
not logged when they succeed; errors (status 400 and above) and every other request still are.
``ANCHOR_LOG_ACCESS=all`` logs every request.

The answer line (`log_answer`) carries merchant, conversation, channel, route, refused, escalated,
silent, ticket, writer and latency. It never carries the message or answer text, user ids, client
addresses or keys: those can hold personal data (order ids, phone numbers) and live-room chat is
public. Only the message length is logged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal

#: Attribute on a `LogRecord` holding the structured fields of the line.
FIELDS_ATTR = "anchor_fields"

answers_log = logging.getLogger("anchor.answers")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message and structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


#: What ``ANCHOR_LOG_FORMAT`` may say: ``auto`` (text on a terminal, JSON otherwise), ``json`` or ``text``.
LogFormat = Literal["auto", "json", "text"]
#: What ``ANCHOR_LOG_ACCESS`` may say: ``quiet`` (no access lines for chat posts and static files that
#: succeed) or ``all``.
AccessLog = Literal["quiet", "all"]

_LEVEL_COLOURS = {"WARNING": "\x1b[33m", "ERROR": "\x1b[31m", "CRITICAL": "\x1b[1;31m", "DEBUG": "\x1b[2m"}
_DIM, _RESET = "\x1b[2m", "\x1b[0m"
#: Libraries whose INFO lines say nothing to the person running the server.
_CHATTY_LIBRARIES = ("faiss.loader",)
#: Logger names shortened on a terminal.
_SHORT_NAMES = {"uvicorn.error": "server", "uvicorn.access": "http", "uvicorn": "server"}


class TextFormatter(logging.Formatter):
    """A readable line: ``19:06:32 INFO  anchor.api  live-anchor ready …`` with the structured fields as
    ``key=value`` after the message; coloured levels when `colour` is set (a terminal)."""

    def __init__(self, *, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = f"{record.levelname:<5}"
        name = _SHORT_NAMES.get(record.name, record.name)
        message = record.getMessage()
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, dict):
            extra = " ".join(f"{k}={v}" for k, v in fields.items() if k != "event" and v is not None)
            if extra:
                message = f"{message}  {extra}"
        if self.colour:
            colour = _LEVEL_COLOURS.get(record.levelname, "")
            line = f"{_DIM}{when}{_RESET} {colour}{level}{_RESET if colour else ''} {_DIM}{name}{_RESET}  {message}"
        else:
            line = f"{when} {level} {name}  {message}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # a closed or detached stream
        return False


def choose_log_format(requested: str, stream: IO[str]) -> Literal["json", "text"]:
    """``json`` or ``text`` when `requested` says so; for ``auto``, text when `stream` is a terminal (a person
    reads it) and JSON lines when it is not (a file, a pipe or a log collector)."""
    if requested == "json":
        return "json"
    if requested == "text":
        return "text"
    if requested != "auto":
        raise ValueError(f"log format {requested!r} is not valid: use auto, json or text")
    return "text" if _is_terminal(stream) else "json"


#: Requests whose access line says nothing when they succeed: a viewer's chat posted to a live room,
#: page assets, the host figure's layers and product images.
_QUIET_REQUESTS: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = (
    (frozenset({"POST"}), re.compile(r"/v1/rooms/[^/]+/chat")),
    (frozenset({"GET", "HEAD"}), re.compile(r"/static/[^/]+|/favicon\.ico")),
    (frozenset({"GET", "HEAD"}), re.compile(r"/v1/rooms/[^/]+/host/[^/]+\.png|/v1/images/[^/]+")),
)


def is_quiet_request(method: str, path: str) -> bool:
    """True for a request `QuietAccessFilter` hides when it succeeds (see `_QUIET_REQUESTS`)."""
    path = path.split("?", 1)[0]
    return any(method in methods and pattern.fullmatch(path) for methods, pattern in _QUIET_REQUESTS)


class QuietAccessFilter(logging.Filter):
    """Drops uvicorn's access lines for chat posts and static files that succeeded (status below 400).

    Works on the record's arguments (client, method, path, HTTP version, status), as uvicorn logs them;
    a record of any other shape passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        _, method, path, _, status = args
        if not isinstance(status, int):
            return True
        return status >= 400 or not is_quiet_request(str(method), str(path))


def configure_logging(
    level: str = "INFO",
    *,
    json_lines: bool | None = None,
    log_format: str = "auto",
    quiet_access: bool = False,
    stream: IO[str] | None = None,
) -> Literal["json", "text"]:
    """Send every logger's records to `stream` (stderr), as JSON lines or readable text; returns the format.

    The format is `log_format` (see `choose_log_format`); `json_lines`, when given, forces JSON (True) or
    text (False). `quiet_access` installs `QuietAccessFilter` on uvicorn's access logger. Replaces the root
    logger's handlers and routes uvicorn's loggers through the root, so a process writes one log format.
    """
    out = stream or sys.stderr
    if json_lines is not None:
        chosen: Literal["json", "text"] = "json" if json_lines else "text"
    else:
        chosen = choose_log_format(log_format, out)
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter(colour=_is_terminal(out)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    for name in _CHATTY_LIBRARIES:  # start-up chatter ("Loading faiss with AVX2 support…") below DEBUG
        logging.getLogger(name).setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    for old_filter in [f for f in access.filters if isinstance(f, QuietAccessFilter)]:
        access.removeFilter(old_filter)
    if quiet_access:
        access.addFilter(QuietAccessFilter())
    return chosen


def log_answer(
    *,
    merchant: str,
    conversation_id: str,
    channel: str,
    endpoint: str,
    route: str,
    refused: bool,
    escalated: bool,
    silent: bool,
    ticket_id: str | None,
    writer: str,
    latency_ms: float,
    message_chars: int,
    logger: logging.Logger = answers_log,
) -> None:
    """Log one answered message (no texts, no user ids: see the module docstring)."""
    fields = {
        "event": "answer",
        "merchant": merchant,
        "conversation": conversation_id,
        "channel": channel,
        "endpoint": endpoint,
        "route": route,
        "refused": refused,
        "escalated": escalated,
        "silent": silent,
        "ticket": ticket_id,
        "writer": writer,
        "latency_ms": round(latency_ms, 1),
        "message_chars": message_chars,
    }
    logger.info("answer %s %s", route, merchant, extra={FIELDS_ATTR: fields})
