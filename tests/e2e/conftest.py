"""End-to-end fixtures: the real app on a loopback port and a headless Chromium driven by Playwright.

`live_server` starts `create_app(settings)` in a uvicorn thread with an isolated data directory (the
`settings` fixture: hash embedder) and ingests the demo catalog; `LiveServer.run` runs a coroutine on the
server's event loop, where the app's rooms, bus and viewer feeds live. `browser` is Debian's Chromium, launched
once per session; `page` is a fresh browser context (own localStorage/sessionStorage) per test.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright

from api.app import create_app
from api.services import Services
from api.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
STARTUP_SECONDS = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class LiveServer:
    """A running app: its base URL, the app (whose `state.services` the test may use directly) and the
    event loop it serves on."""

    url: str
    app: FastAPI
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run `coroutine` on the server's loop (asyncio objects of the app are not thread-safe); its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def key(self, role: str, merchant: str | None = "demo", name: str = "") -> str:
        """A new API key's secret, made with the app's own key store."""
        return self.services.keys.create(role, merchant, name=name).secret


def demo_files() -> list[Path]:
    return [SAMPLES / "products.jsonl", *sorted((SAMPLES / "policies").glob("*.md"))]


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail("the app did not start on its loopback port")
        time.sleep(0.02)
    live = LiveServer(url=f"http://127.0.0.1:{port}", app=app, loop=server.servers[0].get_loop())
    report = live.services.ingest(demo_files(), "demo")
    assert report.applied, report.errors
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context (its own localStorage and sessionStorage)."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page_errors(page: Page) -> list[str]:
    """Uncaught script errors of `page` (a correct page has none)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture
def agent_page(browser: Browser) -> Iterator[Page]:
    """A second, separate browser (context) for the human agent working beside the shopper."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()
