"""The live-room page in Chromium: a real room (espeak-ng speech) streamed over WebSocket, played through
one AudioContext in seq order without overlaps, viewer text shown as text, and the OBS transparent mode.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import connect

from api.settings import Settings
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer
from tests.e2e.helpers import snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOM = "e2e-room"
PLAN = {
    "room_id": ROOM,
    "title": "E2E <b>room</b>",
    "loop": True,
    "items": [
        {"link": 1, "sku": "ZH-AP-001", "segments": ["hook", "intro"]},
        {"link": 2, "sku": "ZH-BE-002", "segments": ["hook"]},
    ],
}
SCHEDULE_LEAD_S = 0.05  # room.js: the least time ahead a clip is scheduled
EVIL_NICK = "<script>window.__pwned=1</script>"
EVIL_TEXT = '1号链接多少钱<img src=x onerror="window.__pwned=2">'


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The shared e2e settings, speaking with espeak-ng (offline) in the rooms."""
    monkeypatch.setenv("ANCHOR_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ANCHOR_EMBEDDER", "hash")
    monkeypatch.delenv("ANCHOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("ANCHOR_REDIS_URL", raising=False)
    return Settings(data_dir=data_dir, embedder="hash", room_tts_engine="espeak")


@pytest.fixture(scope="module")
def audio_browser(browser: Browser) -> Iterator[Browser]:
    """Chromium that may start audio without a click (as OBS does), from the session's Playwright."""
    chromium = browser.browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
    )
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def audio_page(audio_browser: Browser) -> Iterator[Page]:
    context = audio_browser.new_context(locale="en-US", viewport={"width": 1280, "height": 720})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


class Recorder:
    """A second viewer (Python, over the same WebSocket API) recording what the room published."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        assert self._ready.wait(10), "the recording viewer could not connect"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with connect(self.url, max_size=None) as ws:
            self._ready.set()
            while not self._stop.is_set():
                try:
                    raw = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                self.events.append(json.loads(raw))

    def audio_seqs(self) -> list[int]:
        return [e["seq"] for e in list(self.events) if e.get("kind") in ("say", "answer", "ack")]


def wait_until(page: Page, expression: str, timeout: float) -> None:
    """Poll `expression` in the page (the page's CSP forbids eval, so no wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(200)


def start_room(live: LiveServer) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {live.key('merchant')}"}
    response = httpx.post(f"{live.url}/v1/merchants/demo/rooms", json=PLAN, headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    return headers


def test_room_page_plays_utterances_in_seq_order_and_shows_viewer_text_as_text(
    live_server: LiveServer, audio_page: Page
) -> None:
    page = audio_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    start_room(live_server)
    ws_url = live_server.url.replace("http://", "ws://") + f"/v1/rooms/{ROOM}/ws"
    with Recorder(ws_url) as recorder:
        page.goto(f"{live_server.url}/room/{ROOM}?lang=en")
        page.wait_for_selector("body[data-ready='true']")
        # A viewer whose nickname and question carry markup asks about link 1.
        chat = httpx.post(
            f"{live_server.url}/v1/rooms/{ROOM}/chat",
            json={"type": "chat", "nickname": EVIL_NICK[:32], "text": EVIL_TEXT, "user_id": "viewer-e2e-1"},
            timeout=10,
        )
        assert chat.status_code == 202, chat.text
        assert chat.json()["accepted"], chat.json()
        answer = page.locator(".bubble-answer")
        expect(answer).to_have_count(1, timeout=60_000)
        wait_until(page, "window.__room.played.length >= 3", 60.0)
        snapshot(page, "room")
        room = page.evaluate("window.__room")
        published = recorder.audio_seqs()

    assert room["audio"] == "on"
    assert room["errors"] == [], room["errors"]
    assert errors == []
    played = room["played"]
    # Played in the order the room published them, none missing, none twice.
    first = published.index(played[0])
    assert played == published[first : first + len(played)]
    clips = [c for c in room["clips"] if c["seq"] in played]
    assert all(c["audible"] for c in clips), "each clip was decoded and played through the AudioContext"
    back_to_back = 0
    for before, after in itertools.pairwise(clips):
        end = before["start"] + before["duration"]
        assert after["start"] >= end - 1e-6, f"clip {after['seq']} overlaps clip {before['seq']}"
        if after["queuedAt"] + SCHEDULE_LEAD_S <= end:  # arrived while the previous one played:
            assert after["start"] == pytest.approx(end, abs=1e-6)  # back to back, no gap
            back_to_back += 1
    # The playout buffer absorbs the director's synthesis time, so sentences follow without gaps.
    assert back_to_back >= 1, clips

    # The answer bubble shows exactly the nickname, question and answer the room sent, as text: the
    # markup in the question is visible as characters, and no element was created from it or run.
    sent = next(e for e in recorder.events if e["kind"] == "answer")
    question = sent["questions"][0]
    assert "<img" in question["text"]
    expect(answer.locator(".bubble-nickname")).to_have_text(question["nickname"])
    expect(answer.locator(".bubble-text")).to_have_text(question["text"])
    expect(answer.locator(".bubble-reply")).to_have_text(sent["text"])
    assert page.locator("#answers script, #answers img, #answers b").count() == 0
    assert page.evaluate("window.__pwned") is None
    # The product card of the room's first product.
    expect(page.locator("#product-link")).to_have_text("Link 1")
    expect(page.locator("#product-title")).to_contain_text("卫衣")
    expect(page.locator("#product-price")).to_contain_text("159")


def test_transparent_mode_has_no_background_and_no_controls(live_server: LiveServer, page: Page) -> None:
    page.goto(f"{live_server.url}/room/{ROOM}?transparent=1&muted=1")
    page.wait_for_selector("body[data-ready='true']")
    backgrounds = page.evaluate(
        "[getComputedStyle(document.body).backgroundColor,"
        " getComputedStyle(document.documentElement).backgroundColor]"
    )
    assert backgrounds == ["rgba(0, 0, 0, 0)", "rgba(0, 0, 0, 0)"]
    expect(page.locator("#room-chat")).to_be_hidden()
    expect(page.locator("#sound-overlay")).to_be_hidden()
    assert page.evaluate("window.__room.audio") == "muted"

    page.goto(f"{live_server.url}/room/{ROOM}?muted=1")
    page.wait_for_selector("body[data-ready='true']")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"
    expect(page.locator("#room-chat")).to_be_visible()


def test_without_autoplay_the_page_asks_for_a_click_to_start_sound(
    live_server: LiveServer, page: Page, page_errors: list[str]
) -> None:
    page.goto(f"{live_server.url}/room/{ROOM}?lang=en")
    page.wait_for_selector("body[data-ready='true']")
    if page.evaluate("window.__room.audio") == "on":
        pytest.skip("this Chromium allows audio without a gesture")
    overlay = page.locator("#sound-overlay")
    expect(overlay).to_be_visible()
    page.get_by_role("button", name="Click to start sound").click()
    expect(overlay).to_be_hidden()
    assert page.evaluate("window.__room.audio") == "on"
    assert page_errors == []


def test_a_room_that_does_not_exist_says_so(live_server: LiveServer, page: Page) -> None:
    page.goto(f"{live_server.url}/room/no-such-room?lang=en&muted=1")
    expect(page.locator("#room-status")).to_have_text("This room does not exist")
    response = httpx.get(f"{live_server.url}/room/bad%20id")
    assert response.status_code == 404
