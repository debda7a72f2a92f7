"""How `anchor serve` and `anchor demo` run the server and talk to the terminal.

Logs go to stderr, readable on a terminal and JSON lines otherwise (`api.logging`), without the access
lines of chat posts and static files unless ``ANCHOR_LOG_ACCESS=all``. Once uvicorn is really listening
(its sockets are bound and serving), the addresses of the pages and, for the demo, the one-time API key are
printed last, in a box on stdout, so they are not lost above the start-up logs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from socket import socket

import uvicorn
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from api.logging import configure_logging
from api.settings import Settings

log = logging.getLogger("anchor.serve")

#: How long the demo waits for its live room before printing the box anyway.
READY_WAIT_SECONDS = 60.0


class ReadyServer(uvicorn.Server):
    """A uvicorn server that calls `on_ready()` once, when start-up is complete and its sockets listen."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            try:
                self.on_ready()
            except Exception:  # the banner must never take the server down
                log.exception("could not print the start-up banner")


@dataclass(frozen=True)
class Banner:
    """What the box says: the base URL, the merchant of the shopper chat, the demo's key and room."""

    base_url: str
    merchant: str
    key: str | None = None
    room_id: str | None = None
    quiet_access: bool = True


def browse_host(host: str) -> str:
    """The address to open in a browser for a bind address (the wildcard addresses mean this machine)."""
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def ready_panel(banner: Banner) -> Panel:
    """The box printed when the server listens: the pages, the API docs and, when there is one, the key."""
    base = banner.base_url
    links = Table.grid(padding=(0, 2))
    links.add_column(style="bold", no_wrap=True, min_width=13)
    links.add_column(overflow="fold")
    rows = [
        ("shopper chat", f"{base}/chat?merchant={banner.merchant}"),
        ("agent console", f"{base}/console"),
        ("catalog", f"{base}/catalog"),
        ("room builder", f"{base}/rooms"),
    ]
    if banner.room_id:
        rows += [
            ("live room", f"{base}/room/{banner.room_id}"),
            ("OBS overlay", f"{base}/room/{banner.room_id}?transparent=1"),
        ]
    rows += [("API docs", f"{base}/docs"), ("health", f"{base}/health")]
    for label, url in rows:
        links.add_row(label, Text(url, style="cyan"))
    parts: list[Text | Table] = [
        Text.assemble(("live-anchor", "bold"), f" is listening on {base}"),
        Text(""),
        links,
    ]
    parts.append(Text(""))
    if banner.key:
        parts += [
            Text("API key (shown once) — sign in to the console, the catalog and the room builder with it:"),
            Text(banner.key, style="bold yellow", no_wrap=True, overflow="ignore"),
        ]
    else:
        parts.append(
            Text(f"Sign in with an API key: anchor keys create --role merchant --merchant {banner.merchant}")
        )
    if banner.quiet_access:
        hint = "Not logged: chat posts, static files (ANCHOR_LOG_ACCESS=all logs them)."
    else:
        hint = "Every request is logged."
    parts += [Text(""), Text(hint, style="dim"), Text("Ctrl+C stops the server.", style="dim")]
    return Panel(Group(*parts), title="[bold green]ready[/]", border_style="green", expand=False)


class RequestSeen(logging.Filter):
    """Sets `event` when uvicorn logs the access line of a `method` request to `path` (whatever its status);
    lets every record through. The demo prints its box after its room's start request has been answered."""

    def __init__(self, method: str, path: str, event: threading.Event) -> None:
        super().__init__()
        self.method, self.path, self.event = method, path, event

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        matches = isinstance(args, tuple) and len(args) == 5 and args[1] == self.method
        if matches and str(args[2]).split("?", 1)[0] == self.path:  # type: ignore[index]
            self.event.set()
        return True


def when_answered(method: str, path: str) -> threading.Event:
    """An event set once the server has answered a `method` request to `path` (see `RequestSeen`)."""
    event = threading.Event()
    access = logging.getLogger("uvicorn.access")
    access.filters.insert(0, RequestSeen(method, path, event))  # before any filter that may drop the line
    return event


def run_server(
    settings: Settings,
    host: str,
    port: int,
    *,
    console: Console,
    key: str | None = None,
    room_id: str | None = None,
    wait_for: threading.Event | None = None,
) -> bool:
    """Configure the logs, run the app under uvicorn until it stops, and print the ready box once it listens
    (and `wait_for` is set, when given, or `READY_WAIT_SECONDS` passed). Returns whether it started."""
    from api.app import create_app

    quiet = settings.log_access == "quiet"
    configure_logging(settings.log_level, log_format=settings.requested_log_format(), quiet_access=quiet)
    app_ = create_app(settings)
    banner = Banner(
        base_url=f"http://{browse_host(host)}:{port}",
        merchant=settings.default_merchant,
        key=key,
        room_id=room_id,
        quiet_access=quiet,
    )

    def show() -> None:
        console.print(ready_panel(banner))

    def on_ready() -> None:
        if wait_for is None:
            show()
            return

        def wait_then_show() -> None:
            deadline = time.monotonic() + READY_WAIT_SECONDS
            while not wait_for.wait(0.2) and time.monotonic() < deadline and not server.should_exit:
                pass
            if not server.should_exit:
                show()

        threading.Thread(target=wait_then_show, name="ready-banner", daemon=True).start()

    trusted = settings.trusted_proxies.strip()
    config = uvicorn.Config(
        app_,
        host=host,
        port=port,
        # The client address rate limits count by: X-Forwarded-For only from the proxies we were told to trust
        # (uvicorn's default trusts it from 127.0.0.1, so any local client could forge its address).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        log_config=None,
        log_level=settings.log_level.lower(),
        # Live-room frames carry audio; compressing every frame for every viewer costs more than it saves.
        ws_per_message_deflate=False,
    )
    server = ReadyServer(config, on_ready)
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl+C is how a person stops it
        server.run()
    return server.started
