"""The live-room page in Chromium: a real room (espeak-ng speech) streamed over WebSocket, played through
one AudioContext in seq order without overlaps, viewer text shown as text, and the OBS transparent mode.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import connect

from agent.live.events import AudioRef, Cue, OutputEvent, OutputKind
from api.routes.rooms import room_feeds
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


def start_room(live: LiveServer, plan: dict[str, Any] | None = None) -> dict[str, str]:
    """Start ``plan`` (the module's PLAN by default) as the demo merchant; the merchant key's headers."""
    headers = {"Authorization": f"Bearer {live.key('merchant')}"}
    response = httpx.post(
        f"{live.url}/v1/merchants/demo/rooms", json=plan or PLAN, headers=headers, timeout=30
    )
    assert response.status_code == 201, response.text
    return headers


def stop_room(live: LiveServer, room_id: str, headers: dict[str, str]) -> None:
    httpx.post(
        f"{live.url}/v1/merchants/demo/rooms/{room_id}/commands",
        json={"kind": "stop"},
        headers=headers,
        timeout=10,
    )


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
    formats = {e["audio"]["format"] for e in recorder.events if e["seq"] in played}
    assert formats == {"mp3"}, "rooms send MP3 clips by default, and the page decodes them"
    back_to_back = 0
    for before, after in itertools.pairwise(clips):
        end = before["end"]  # start + duration, or where a cut event stopped it
        assert end <= before["start"] + before["duration"] + 1e-6
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
    # The comment feed shows the message too, as text.
    expect(page.locator("#comments li").last).to_contain_text(question["text"], timeout=10_000)
    assert page.locator("#comments script, #comments img, #comments b").count() == 0
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


# -- cuts: the director stops a script sentence at a pause so an answer starts there ---------------------
CUT_ROOM = "e2e-cut-room"
QUANTUM_S = 0.003  # one Web Audio render quantum (128 frames) at 44.1 or 48 kHz
SUBTITLES_JS = """() => {
  const subtitle = document.getElementById("subtitle");
  window.__subtitles = [];
  new MutationObserver(() => window.__subtitles.push(subtitle.textContent)).observe(subtitle, {
    childList: true,
    characterData: true,
    subtree: true,
  });
}"""


def tone_mp3(seconds: float, frequency: int) -> bytes:
    """A real MP3 clip as rooms send them (24 kHz mono, 64 kbit/s), encoded by ffmpeg into a pipe."""
    source = f"sine=frequency={frequency}:sample_rate=24000:duration={seconds}"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", source]
    argv += ["-ac", "1", "-ar", "24000", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1"]
    audio = subprocess.run(argv, check=True, capture_output=True, timeout=30).stdout
    assert audio[:3] == b"ID3" or audio[0] == 0xFF, "ffmpeg wrote MP3"
    return audio


def clip(seq: int, kind: OutputKind, text: str, seconds: float, cues: list[Cue], **data: Any) -> OutputEvent:
    """An utterance of `seconds` with a real MP3 clip (a tone; its pitch tells the clips apart)."""
    audio = AudioRef(tone_mp3(seconds, 300 + 100 * seq), "mp3", 24000, seconds, tuple(cues), "e2e")
    return OutputEvent(CUT_ROOM, seq, kind, {"text": text, **data}, audio)


def cut(seq: int, of: int, at: float) -> OutputEvent:
    return OutputEvent(CUT_ROOM, seq, "cut", {"of": of, "at": at, "reason": "answer", "position": {}})


def state(seq: int) -> OutputEvent:
    return OutputEvent(CUT_ROOM, seq, "state", {"status": "running"})


def open_room_feed(live: LiveServer) -> None:
    """Subscribe the app to the room's bus as starting a room does, so viewers may watch it."""
    live.run(room_feeds(live.app).pin(CUT_ROOM))


def publish(live: LiveServer, *events: OutputEvent) -> None:
    """Publish `events` on the app's room bus, in order, as a director does."""

    async def send() -> None:
        for event in events:
            await live.services.bus.publish(event)

    live.run(send())


def join(live: LiveServer, page: Page, query: str, first_seq: int) -> None:
    """Open the room page, watch its subtitle line, and wait until it receives the room's events."""
    page.goto(f"{live.url}/room/{CUT_ROOM}?lang=en&{query}")
    page.wait_for_selector("body[data-ready='true']")
    page.evaluate(SUBTITLES_JS)
    # The latest state reaches a viewer whether it joins before or after it is published.
    publish(live, state(first_seq))
    wait_until(page, f"window.__room.lastSeq >= {first_seq}", 10.0)


def clips_by_seq(room: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {c["seq"]: c for c in room["clips"]}


def test_a_cut_stops_the_sentence_where_the_answer_starts(live_server: LiveServer, audio_page: Page) -> None:
    page = audio_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_room_feed(live_server)
    join(live_server, page, "buffer=1500", 0)
    assert page.evaluate("window.__room.audio") == "on"

    sentence = [
        Cue(0.0, 0.9, "Before the cut, one"),
        Cue(0.9, 1.5, "Before the cut, <b>two</b>"),
        Cue(1.6, 2.4, "AFTER the cut"),
        Cue(2.4, 3.0, "AFTER the cut, tail"),
    ]
    answer_text = 'Answer <img src=x onerror="window.__pwned=3">'
    # Every clip is encoded before the sentence goes out, so the cut and the answer follow it at once.
    said_event = clip(1, "say", "Before the cut … AFTER the cut", 3.0, sentence)
    answer_event = clip(
        3,
        "answer",
        answer_text,
        1.0,
        [Cue(0.0, 1.0, "Answer <i>cue</i>")],
        questions=[{"nickname": EVIL_NICK[:32], "text": "how much <b>?</b>"}],
    )
    again_event = clip(
        4, "say", "The sentence again, whole", 1.0, [Cue(0.0, 1.0, "The sentence again, whole")]
    )
    publish(live_server, said_event)
    wait_until(page, "window.__room.clips.some((c) => c.seq === 1)", 10.0)
    # The director cuts the sentence 1.5 s in and publishes the answer right after the cut.
    publish(live_server, cut(2, of=1, at=1.5), answer_event, again_event)
    wait_until(page, "window.__room.clips.some((c) => c.seq === 4 && c.ended !== null)", 15.0)
    room = page.evaluate("window.__room")
    subtitles = page.evaluate("window.__subtitles")
    snapshot(page, "room-cut")

    assert room["errors"] == [], room["errors"]
    assert errors == []
    assert room["played"] == [1, 3, 4]
    assert room["lastSeq"] == 4
    clips = clips_by_seq(room)
    said, answer, again = clips[1], clips[3], clips[4]
    assert all(c["audible"] for c in (said, answer, again)), "the MP3 clips were decoded and played"
    # An MP3 piped out of LAME decodes 48 ms longer (encoder delay and padding): the page plays the room's
    # duration of it, so the line keeps the director's pace. Each sound stops where its clip ends: the
    # audio clock read when the source's "ended" event runs is within a render quantum (128 frames,
    # under 3 ms) before that instant, or up to a few tens of ms after it.
    assert [said["duration"], answer["duration"], again["duration"]] == [3.0, 1.0, 1.0]
    for whole in (answer, again):
        assert whole["end"] - QUANTUM_S <= whole["ended"] < whole["end"] + 0.045, whole
    # The cut reached the page before the sentence started: it plays its first 1.5 s only.
    assert answer["queuedAt"] < said["start"]
    assert said["cut"] == 1.5
    assert said["end"] == pytest.approx(said["start"] + 1.5, abs=1e-9)
    # Its sound really stopped there, not 1.5 s later.
    assert said["end"] - QUANTUM_S <= said["ended"] < said["end"] + 0.045, said
    # The answer starts exactly at the cut, and what follows it right after: no gap, no overlap.
    assert answer["start"] == pytest.approx(said["end"], abs=1e-6)
    assert again["start"] == pytest.approx(answer["end"], abs=1e-6)
    assert answer["cut"] is None
    assert again["cut"] is None
    # The subtitles after the cut never showed; the others showed as text, markup and all.
    assert not [s for s in subtitles if "AFTER" in s], subtitles
    shown = [s for s in subtitles if s]
    assert shown[:2] == ["Before the cut, one", "Before the cut, <b>two</b>"]
    assert "Answer <i>cue</i>" in shown
    assert shown[-1] == "The sentence again, whole"
    # A cut is not shown: one bubble (the answer's), its texts as text.
    bubbles = page.locator(".bubble-answer")
    expect(bubbles).to_have_count(1)
    expect(bubbles).to_have_attribute("data-seq", "3")
    expect(bubbles.locator(".bubble-reply")).to_have_text(answer_text)
    expect(bubbles.locator(".bubble-nickname")).to_have_text(EVIL_NICK[:32])
    assert page.locator("#answers img, #answers b, #answers script, #subtitle b, #subtitle i").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_cut_on_the_silent_timeline_moves_its_end_to_the_cut(live_server: LiveServer, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_room_feed(live_server)
    join(live_server, page, "muted=1&buffer=300", 0)
    sentence = [Cue(0.0, 1.0, "First half"), Cue(1.0, 1.8, "Second half"), Cue(2.2, 3.0, "AFTER the cut")]
    answer_event = clip(3, "answer", "The answer", 1.0, [Cue(0.0, 1.0, "The answer")], questions=[])
    publish(live_server, clip(1, "say", "First half, second half", 3.0, sentence))
    wait_until(page, "window.__room.played.includes(1)", 10.0)
    # The sentence is playing (on the page clock) when the cut arrives, 2 s into it.
    page_now = page.evaluate("performance.now() / 1000")
    publish(live_server, cut(2, of=1, at=2.0), answer_event)
    wait_until(
        page, "window.__room.played.includes(3) && document.getElementById('subtitle').textContent === ''", 10
    )
    room = page.evaluate("window.__room")
    subtitles = page.evaluate("window.__subtitles")

    assert room["errors"] == [], room["errors"]
    assert errors == []
    assert room["audio"] == "muted"
    clips = clips_by_seq(room)
    said, answer = clips[1], clips[3]
    assert not said["audible"]
    assert not answer["audible"]
    assert said["start"] < page_now < said["start"] + 2.0, "the cut came while the sentence played"
    assert said["cut"] == 2.0
    assert said["end"] == pytest.approx(said["start"] + 2.0, abs=1e-9)
    assert answer["start"] == pytest.approx(said["end"], abs=1e-6)
    assert [s for s in subtitles if s] == ["First half", "Second half", "The answer"]
    expect(page.locator(".bubble-answer")).to_have_count(1)


def test_the_platform_comment_feed_and_viewer_count_show_and_the_overlay_hides_the_feed(
    live_server: LiveServer, page: Page
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_room_feed(live_server)
    join(live_server, page, "muted=1", 0)
    items = [
        {"nickname": f"观众{n}", "text": f"第{n}条<b>弹幕</b>", "paid": n == 11, "ts": 0} for n in range(12)
    ]
    publish(
        live_server,
        OutputEvent(CUT_ROOM, 1, "comments", {"items": items}),
        OutputEvent(CUT_ROOM, 2, "source", {"platform": "bilibili", "state": "connected", "viewers": 12345}),
    )
    feed = page.locator("#comments li")
    expect(feed).to_have_count(8)  # the newest eight
    expect(feed.last).to_have_text("观众11第11条<b>弹幕</b>")
    expect(feed.last).to_have_class("paid")
    assert page.locator("#comments b").count() == 0
    expect(page.locator("#room-viewers")).to_have_text("12,345 watching")
    snapshot(page, "room-comments")
    assert errors == []
    page.goto(f"{live_server.url}/room/{CUT_ROOM}?transparent=1&muted=1")
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#comments")).to_be_hidden()


def test_a_cut_of_a_clip_the_page_does_not_have_changes_nothing(live_server: LiveServer, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_room_feed(live_server)
    # A sentence published before the page joined: its cut reaches the page, the sentence never did.
    publish(live_server, clip(0, "say", "Before you came", 3.0, [Cue(0.0, 3.0, "Before you came")]))
    join(live_server, page, "muted=1&buffer=300", 1)
    publish(
        live_server,
        cut(2, of=0, at=0.5),
        clip(3, "say", "A whole sentence", 1.5, [Cue(0.0, 1.5, "A whole sentence")]),
        cut(4, of=3, at=9.0),  # past the clip's end: it plays whole
        clip(5, "answer", "An answer", 1.0, [Cue(0.0, 1.0, "An answer")], questions=[]),
    )
    wait_until(
        page, "window.__room.played.includes(5) && document.getElementById('subtitle').textContent === ''", 10
    )
    publish(live_server, cut(6, of=5, at=0.2))  # a clip that has ended
    wait_until(page, "window.__room.lastSeq === 6", 10.0)
    page.wait_for_timeout(300)
    room = page.evaluate("window.__room")
    subtitles = page.evaluate("window.__subtitles")

    assert room["errors"] == [], room["errors"]
    assert errors == []
    assert room["played"] == [3, 5]
    clips = clips_by_seq(room)
    assert sorted(clips) == [3, 5]
    said, answer = clips[3], clips[5]
    assert said["cut"] is None
    assert answer["cut"] is None
    assert said["end"] == pytest.approx(said["start"] + 1.5, abs=1e-9)
    assert answer["start"] == pytest.approx(said["end"], abs=1e-6)
    assert answer["end"] == pytest.approx(answer["start"] + 1.0, abs=1e-9)
    assert [s for s in subtitles if s] == ["A whole sentence", "An answer"]
    expect(page.locator(".bubble-answer")).to_have_count(1)


def test_the_console_shows_each_live_room_answers_drops_and_latency(
    live_server: LiveServer, page: Page
) -> None:
    from tests.e2e.helpers import sign_in

    headers = start_room(live_server, {**PLAN, "room_id": "e2e-ops", "title": "Ops room"})
    for user, text in (("u-1", "1号链接多少钱"), ("u-2", "加我微信 vx123456 低价代购")):
        posted = httpx.post(
            f"{live_server.url}/v1/rooms/e2e-ops/chat",
            json={"type": "chat", "nickname": user, "text": text, "user_id": user},
            timeout=10,
        )
        assert posted.status_code == 202, posted.text
    page.goto(f"{live_server.url}/console?lang=en")
    page.wait_for_selector("body[data-ready='true']")
    sign_in(page, live_server.key("agent", "demo", name="Olga"), "demo")
    row = page.locator(".room-row[data-room='e2e-ops']")
    expect(row).to_contain_text("Ops room", timeout=30_000)
    # The answer reaches the console's figures once it is spoken or shown (the console refreshes).
    expect(row.locator(".room-figure", has_text="question → answer")).to_contain_text("p95", timeout=60_000)
    expect(row.locator(".room-figure", has_text="dropped")).to_contain_text("ad 1")
    expect(row.locator("details li").first).to_contain_text("1号链接")
    snapshot(page, "console-rooms")
    stop_room(live_server, "e2e-ops", headers)


def test_a_page_opened_mid_show_shows_the_card_at_once_and_the_hosts_mouth_follows_the_audio(
    live_server: LiveServer, audio_page: Page
) -> None:
    headers = start_room(live_server, {**PLAN, "room_id": "e2e-host", "title": "Host room"})
    ws_url = live_server.url.replace("http://", "ws://") + "/v1/rooms/e2e-host/ws"
    time.sleep(4.0)  # the show is on: its first card went out before this page existed
    page = audio_page
    with Recorder(ws_url) as recorder:
        page.goto(f"{live_server.url}/room/e2e-host?lang=en")
        page.wait_for_selector("body[data-ready='true']")
        expect(page.locator("#product-title")).to_contain_text("卫衣", timeout=5_000)
        shown = page.evaluate("window.__room.productShownAt")
        assert shown is not None
        assert shown <= 1000.0, f"the card showed {shown} ms after the page opened"
        expect(page.locator("#host .host-layer")).to_have_count(8)  # body, 2 eyes, 5 mouths
        wait_until(
            page, "window.__room.mouth.filter((m) => m.seq !== null && m.level > 0).length >= 20", 60.0
        )
        changes = page.evaluate("window.__room.mouth")
        events = {e["seq"]: e for e in list(recorder.events) if e.get("audio")}
        snapshot(page, "room-host")
    stop_room(live_server, "e2e-host", headers)
    # Each change of mouth shape on the page against the track of the clip it played: the page showed the
    # shape the track gives for that instant of the audio clock, within 50 ms of the frame the track
    # starts it at.
    checked = 0
    latest = 0.0
    for change in changes:
        event = events.get(change["seq"])
        if event is None or change["offset"] is None:
            continue
        track = event["audio"]["mouth"]
        fps, levels = track["fps"], track["levels"]
        frame = int(change["offset"] * fps + 1e-9)
        assert frame < len(levels)
        assert int(levels[frame]) == change["level"]
        begun = frame
        while begun > 0 and levels[begun - 1] == levels[frame]:
            begun -= 1
        late = change["offset"] - begun / fps
        assert -1e-6 <= late <= 0.05, (change, late)
        latest = max(latest, late)
        checked += 1
    assert checked >= 20
    print(
        f"mouth: {checked} changes, latest {latest * 1000:.1f} ms after the track's frame; card {shown:.0f} ms"
    )
