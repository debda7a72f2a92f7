"""Headless broadcast end to end: real ffmpeg writes HLS or pushes to a real nginx-rtmp on loopback.

Speech is real espeak-ng audio; the output is read back with ffprobe/ffmpeg and checked for streams,
duration, audible speech where it was said, silence where nothing was, and subtitles on the picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.live.broadcast import Broadcaster, BroadcastStatus, HlsSink, RtmpSink, broadcast_room
from agent.live.card import card_layout
from agent.live.events import AudioRef, Cue, OutputEvent
from agent.live.host import default_host
from voice import MasterSpec, build_tts, transcode
from voice.wav import parse_wav

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIZE = (640, 360)
ROOM = "room-broadcast"
CARD = {"sku": "CREAM-50", "title": "云朵柔肤保湿面霜", "price": 199, "list_price": 299, "link": 1}
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


def _espeak_wav(tmp_path: Path, text: str) -> bytes:
    out = tmp_path / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-w", str(out), text], check=True, timeout=20)
    return out.read_bytes()


async def _speech_events(tmp_path: Path) -> list[OutputEvent]:
    """A product card and two sentences: espeak-ng's own 22.05 kHz WAV, and a TTS clip as MP3."""
    wav = _espeak_wav(tmp_path, "huan1 ying2 lai2 dao4 zhi2 bo1 jian1")
    first = parse_wav(wav)
    clip = await build_tts("espeak").synthesize("今天有好货。", voice="zh")
    mp3 = await transcode(clip.audio, clip.format, "mp3")
    return [
        OutputEvent(ROOM, 1, "product", dict(CARD)),
        OutputEvent(
            ROOM,
            2,
            "say",
            {"text": "欢迎来到直播间"},
            AudioRef(
                wav, "wav", first.sample_rate, first.duration, (Cue(0, first.duration, "欢迎来到直播间"),)
            ),
        ),
        OutputEvent(
            ROOM,
            3,
            "answer",
            {"text": "今天有好货。", "questions": [{"nickname": "小米", "text": "有什么好货"}]},
            AudioRef(mp3, "mp3", 24000, clip.duration, tuple(Cue(c.start, c.end, c.text) for c in clip.cues)),
        ),
    ]


def _probe(url: str, *, timeout: float = 20.0) -> dict[str, Any]:
    # A live RTMP stream has no end: 3 s of media is enough to see both streams.
    live = ["-analyzeduration", "3000000"] if url.startswith("rtmp://") else []
    out = subprocess.run(
        ["ffprobe", "-v", "error", *live, "-show_streams", "-show_format", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    info: dict[str, Any] = json.loads(out.stdout)
    return info


def _audio_levels(playlist: Path, window: float = 0.1) -> np.ndarray:
    """RMS per ``window`` seconds of the programme's audio (16 kHz mono)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(playlist), "-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    n = int(16000 * window)
    blocks = samples[: len(samples) // n * n].reshape(-1, n)
    levels: np.ndarray = np.sqrt((blocks**2).mean(axis=1))
    return levels


def _frames(playlist: Path) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(playlist), "-an", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    w, h = SIZE
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, h, w, 3)


def _bright(frame: np.ndarray, box: tuple[int, int, int, int]) -> int:
    left, top, right, bottom = box
    return int((frame[top:bottom, left:right].min(axis=2) > 200).sum())


async def _events(events: list[OutputEvent]) -> AsyncIterator[OutputEvent]:
    for event in events:
        yield event


async def test_hls_programme_has_video_audio_speech_and_subtitles(tmp_path: Path) -> None:
    events = await _speech_events(tmp_path)
    spoken = sum(e.audio.duration for e in events if e.audio is not None)
    sink = HlsSink(tmp_path / "hls")
    caster = Broadcaster(sink, fps=2, size=SIZE)
    async with caster:
        await caster.consume(_events(events))
        await asyncio.sleep(7.0)
        status = caster.status()
    assert status.running
    assert status.spoken == 2
    assert status.restarts == 0
    assert caster.status().running is False

    playlist = sink.playlist_path.read_text()
    assert "#EXT-X-ENDLIST" in playlist  # stop() let ffmpeg close the playlist
    info = _probe(str(sink.playlist_path))
    codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == SIZE
    assert float(info["format"]["duration"]) >= 6.0

    # Speech is on the audio track for as long as it was said, and silence follows it.
    levels = _audio_levels(sink.playlist_path)
    loud = levels > 0.01
    assert 0.5 * spoken <= loud.sum() * 0.1 <= spoken + 0.6
    assert not loud[-10:].any()
    assert loud[:10].any()

    # The subtitle band shows text while the first sentence plays and is gone by the end.
    frames = _frames(sink.playlist_path)
    layout = card_layout(SIZE)
    assert _bright(frames[2], layout.subtitle) > 100  # t = 1 s, inside the first sentence
    assert _bright(frames[-1], layout.subtitle) == 0
    assert _bright(frames[-1], layout.title) > 100  # the product card stays up


async def test_hls_programme_ends_a_cut_sentence_where_the_director_cut_it(tmp_path: Path) -> None:
    long = _espeak_wav(
        tmp_path, "jin1 tian1 gei3 da4 jia1 jie4 shao4 yi1 kuan3 bao3 shi1 mian4 shuang1, zhi4 di4 qing1 bo2"
    )
    sentence = parse_wav(long)
    clip = await build_tts("espeak").synthesize("今天有好货。", voice="zh")
    mp3 = await transcode(clip.audio, clip.format, "mp3")
    at = 1.5
    assert sentence.duration - at > 2.5  # the cut drops far more than the tolerance below
    cut = {
        "of": 2,
        "at": at,
        "reason": "answer",
        "position": {"loop": 0, "item": 0, "segment": 0, "sentence": 0},
    }
    events = [
        OutputEvent(ROOM, 1, "product", dict(CARD)),
        OutputEvent(
            ROOM,
            2,
            "say",
            {"text": "今天给大家介绍一款保湿面霜"},
            AudioRef(long, "wav", sentence.sample_rate, sentence.duration),
        ),
        OutputEvent(ROOM, 3, "cut", cut),
        OutputEvent(
            ROOM,
            4,
            "answer",
            {"text": "今天有好货。", "questions": [{"nickname": "小米", "text": "有什么好货"}]},
            AudioRef(mp3, "mp3", 24000, clip.duration),
        ),
    ]
    expected = at + clip.duration
    sink = HlsSink(tmp_path / "hls", segment_seconds=1)
    caster = Broadcaster(sink, fps=2, size=(320, 180))
    for event in events:  # all on the programme before ffmpeg starts, so speech begins at media time 0
        await caster.feed(event)
    assert caster.programme.backlog_seconds == pytest.approx(expected, abs=0.1)
    async with caster:
        deadline = time.monotonic() + 15
        while caster.programme.backlog_seconds > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        status = caster.status()
    assert status.backlog_seconds == 0
    assert status.spoken == 2

    # The output is as long as the cut sentence's first 1.5 s and the answer (a segment of tolerance).
    duration = float(_probe(str(sink.playlist_path))["format"]["duration"])
    assert abs(duration - expected) <= 1.0
    # The answer is heard right after the cut, and nothing of the dropped rest of the sentence after it.
    levels = _audio_levels(sink.playlist_path)
    loud = np.flatnonzero(levels > 0.01) * 0.1
    assert loud.min() < 0.5
    assert ((loud > at + 0.2) & (loud < expected - 0.2)).any()
    assert loud.max() <= expected + 0.2


async def test_mp3_clips_last_what_the_room_says_so_the_programme_keeps_the_directors_pace(
    tmp_path: Path,
) -> None:
    # Rooms send MP3 from LAME without a gapless tag: decoded as is, each clip would be 64 ms longer
    # (encoder delay and padding) and the programme would fall that much behind per sentence.
    tts = build_tts("espeak", master=MasterSpec(format="mp3"))
    clips = [await tts.synthesize(text) for text in ("今天有好货。", "欢迎来到直播间，喜欢的宝宝点点关注。")]
    caster = Broadcaster(HlsSink(tmp_path / "hls"), fps=2, size=(320, 180))
    for seq, clip in enumerate(clips, start=1):
        cues = tuple(Cue(c.start, c.end, c.text) for c in clip.cues)
        ref = AudioRef(clip.audio, "mp3", clip.sample_rate, clip.duration, cues)
        await caster.feed(OutputEvent(ROOM, seq, "say", {"text": clip.text}, ref))
    assert caster.programme.backlog_seconds == pytest.approx(sum(c.duration for c in clips), abs=2e-3)


def _mouth_signal(frames: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Per frame, how many pixels of the host's open mouth (its dark inside) show where the mouth moves:
    zero with the mouth closed, growing as it opens."""
    left, top, right, bottom = box
    region = frames[:, top:bottom, left:right].astype(np.int16)
    r, g, b = region[..., 0], region[..., 1], region[..., 2]
    dark_red = (abs(r - 92) < 35) & (g < 70) & (b < 80) & (r - g > 30)
    signal: np.ndarray = dark_red.reshape(len(frames), -1).sum(axis=1)
    return signal


async def test_the_programme_shows_the_host_moving_its_mouth_with_the_voice(tmp_path: Path) -> None:
    tts = build_tts("espeak", master=MasterSpec(format="mp3"))
    clip = await tts.synthesize("欢迎来到直播间，今天这款面霜到手价一百九十九元，喜欢的宝宝拍一号链接。")
    assert clip.mouth, "mastered clips carry their mouth track"
    cues = tuple(Cue(c.start, c.end, c.text) for c in clip.cues)
    ref = AudioRef(clip.audio, "mp3", clip.sample_rate, clip.duration, cues, mouth=clip.mouth)
    sink = HlsSink(tmp_path / "hls", segment_seconds=1)
    caster = Broadcaster(sink, fps=25, size=SIZE, host=default_host(), room_title="直播间")
    async with caster:
        await caster.feed(OutputEvent(ROOM, 1, "product", dict(CARD)))
        await caster.feed(OutputEvent(ROOM, 2, "say", {"text": clip.text}, ref))
        await asyncio.sleep(clip.duration + 2.5)
        box = caster.mouth_box
    assert box is not None
    info = _probe(str(sink.playlist_path))
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert video["r_frame_rate"] == "25/1"
    frames = _frames(sink.playlist_path)
    mouth = _mouth_signal(frames, box)
    levels = _audio_levels(sink.playlist_path, window=0.04)  # one value per video frame
    n = min(len(mouth), len(levels))
    mouth, levels = mouth[:n], levels[:n]
    speaking = levels > 0.01
    assert speaking.sum() > 25
    # The mouth is open while the voice sounds and shut in the silence after it.
    assert (mouth[speaking] > 0).mean() > 0.6
    assert (mouth[-20:] == 0).all()
    # Frame by frame it follows the sound's envelope, best aligned within a frame (40 ms) of the audio.
    by_lag = {
        lag: float(
            np.corrcoef(mouth[max(0, lag) : n + min(0, lag)], levels[max(0, -lag) : n - max(0, lag)])[0, 1]
        )
        for lag in range(-3, 4)
    }
    best = max(by_lag, key=lambda lag: by_lag[lag])
    assert by_lag[best] > 0.5, by_lag
    assert abs(best) <= 1, by_lag


async def test_ffmpeg_that_dies_is_restarted_and_reported(tmp_path: Path) -> None:
    reports: list[BroadcastStatus] = []
    sink = HlsSink(tmp_path / "hls", segment_seconds=1)
    caster = Broadcaster(sink, fps=2, size=(320, 180), backoff=(0.2, 1.0), on_report=reports.append)
    async with caster:
        await caster.feed(OutputEvent(ROOM, 1, "product", dict(CARD)))
        await asyncio.sleep(2.5)
        first_pid = caster.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while (caster.pid in (None, first_pid)) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert caster.pid not in (None, first_pid)
        await asyncio.sleep(2.5)
        status = caster.status()
    assert status.restarts == 1
    assert status.last_exit_code == -signal.SIGKILL
    assert status.last_error is not None
    assert "exited with code" in status.last_error
    assert len(reports) == 1
    assert reports[0].last_exit_code == -signal.SIGKILL
    playlist = sink.playlist_path.read_text()
    assert "#EXT-X-DISCONTINUITY" in playlist
    info = _probe(str(sink.playlist_path))
    assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}


# ---- RTMP into a real nginx-rtmp on loopback --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"nginx-rtmp is required in CI: {reason}")
    pytest.skip(f"{reason} (apt install nginx libnginx-mod-rtmp)")


@pytest.fixture
def rtmp_server(tmp_path: Path) -> Iterator[str]:
    """A real nginx with the RTMP module on a free loopback port; yields rtmp://127.0.0.1:PORT/live."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        _unavailable("nginx is not installed")
    if not RTMP_MODULE.exists():
        _unavailable(f"the nginx RTMP module is missing ({RTMP_MODULE})")
    assert nginx is not None
    port = _free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "nginx.conf").write_text(
        f"load_module {RTMP_MODULE};\n"
        "daemon off;\nmaster_process off;\nworker_processes 1;\n"
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n"
        "events { worker_connections 64; }\n"
        f"rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; record off; }} }} }}\n"
    )
    proc = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 5
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                _unavailable(f"nginx with the RTMP module did not start: {err.strip()[-300:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                pytest.fail("nginx-rtmp did not listen within 5 s")
            time.sleep(0.05)
        yield f"rtmp://127.0.0.1:{port}/live"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _QueueBus:
    """The subscription side of a room bus: events put on a queue reach the subscriber, None ends it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[OutputEvent | None] = asyncio.Queue()

    @contextlib.asynccontextmanager
    async def subscription(self, room_id: str) -> AsyncIterator[AsyncIterator[OutputEvent]]:
        async def events() -> AsyncIterator[OutputEvent]:
            while (event := await self.queue.get()) is not None:
                if event.room_id == room_id:
                    yield event

        yield events()


async def test_rtmp_push_is_readable_from_nginx_while_streaming(tmp_path: Path, rtmp_server: str) -> None:
    events = await _speech_events(tmp_path)
    url = f"{rtmp_server}/test"
    bus = _QueueBus()
    caster = Broadcaster(RtmpSink(url), fps=2, size=SIZE)
    async with caster:
        consumer = asyncio.create_task(broadcast_room(bus, ROOM, caster))
        for event in events:
            await bus.queue.put(event)
        await asyncio.sleep(2.0)
        info = await asyncio.to_thread(_probe, url)
        status = caster.status()
        await bus.queue.put(None)
        await asyncio.wait_for(consumer, 5)
    codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == SIZE
    assert status.running
    assert status.restarts == 0
    assert status.spoken >= 1
    assert "test" not in status.target  # the stream key is not shown


async def test_unreachable_rtmp_server_is_reported_without_the_stream_key() -> None:
    reports: list[BroadcastStatus] = []
    url = f"rtmp://127.0.0.1:{_free_port()}/live/SECRET-KEY"  # nothing listens there
    caster = Broadcaster(RtmpSink(url), size=(320, 180), backoff=(0.2, 0.5), on_report=reports.append)
    async with caster:
        deadline = time.monotonic() + 8
        while len(reports) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    assert len(reports) >= 2  # it keeps trying, and reports each failure
    assert reports[0].last_exit_code not in (None, 0)
    assert reports[0].last_error is not None
    assert "refused" in reports[0].last_error.lower()
    assert reports[1].restarts >= 1
    assert all("SECRET" not in line for line in [*caster.log, reports[0].last_error])
