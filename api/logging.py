"""Structured logs: one JSON object per line, and one line per answered shopper message.

`configure_logging(settings)` installs the JSON formatter on the root logger (`anchor serve` calls it
and hands uvicorn `log_config=None` so its access and error logs come out the same way).

The answer line (`log_answer`) carries merchant, conversation, channel, route, refused, escalated,
silent, ticket, writer and latency. It never carries the message or answer text, user ids, client
addresses or keys: those can hold personal data (order ids, phone numbers) and live-room chat is
public. Only the message length is logged.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

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


def configure_logging(level: str = "INFO", *, json_lines: bool = True, stream: IO[str] | None = None) -> None:
    """Send every logger's records to `stream` (stderr) as JSON lines (or plain text).

    Replaces the root logger's handlers and routes uvicorn's loggers through the root, so a process
    writes one log format.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True


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
