"""Headless programme output: ffmpeg pushes a room to an RTMP server or writes HLS.

A `Broadcaster` consumes a room's `OutputEvent`s (from `RoomBus.subscription(room_id)` or any async
iterator) and keeps one ffmpeg process fed with two live inputs:

- video: the product card (`agent.live.card.render_card`) as raw RGB frames on ffmpeg's stdin, at a low
  frame rate, re-drawn only when the card, subtitle or question changes;
- audio: s16le mono PCM through a second pipe, a continuous stream (`agent.live.programme.Programme`):
  utterances in the order published, silence in between, so the encoder never waits; a ``cut`` event ends
  the speech it names at the director's cut point, and the answer that follows it starts right there.

Both inputs are paced by the wall clock and stamped by count (frames, samples), so subtitles follow the
audio exactly. ffmpeg encodes H.264 (libx264 veryfast/zerolatency, yuv420p) and AAC into FLV for
``rtmp://`` or into an HLS playlist with rolling segments. Its stderr goes to a bounded log; when it exits
unasked it is restarted with exponential backoff and the failure is reported (log, `status()`, and the
optional ``on_report`` callback). `stop()` ends both inputs so ffmpeg flushes and closes the output.

Typical use::

    async with Broadcaster(HlsSink(Path("var/hls/room-1"))) as caster:
        await broadcast_room(bus, "room-1", caster)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from PIL import Image

from agent.live.card import CardFonts, find_fonts, render_card
from agent.live.events import AudioRef, OutputEvent
from agent.live.host import HostLayers, eyes_closed_at, idle_offset, mouth_index
from agent.live.programme import OnAir, Programme, Speech
from agent.live.sinks import EncoderOptions, HlsSink, RtmpSink, Sink, ffmpeg_command
from knowledge.images import ImageStore, is_image_url
from voice.audio import timeline_pcm, to_pcm
from voice.errors import AudioError, TTSError
from voice.mouth import mouth_track
from voice.types import AUDIO_FORMATS
from voice.wav import Pcm, parse_wav, resample

log = logging.getLogger(__name__)

#: Composed frames kept per card (each is width × height × 3 bytes: 2.7 MB at 720p).
_POSES_KEPT = 12

__all__ = [
    "BroadcastStatus",
    "Broadcaster",
    "EncoderOptions",
    "HlsSink",
    "RtmpSink",
    "Sink",
    "SupportsSubscription",
    "broadcast_room",
]


class SupportsSubscription(Protocol):
    """What `broadcast_room` needs of a `RoomBus`."""

    def subscription(self, room_id: str) -> AbstractAsyncContextManager[AsyncIterator[OutputEvent]]: ...


@dataclass(frozen=True, slots=True)
class BroadcastStatus:
    """A snapshot for dashboards and reports."""

    target: str
    running: bool
    pid: int | None
    restarts: int
    last_exit_code: int | None
    last_error: str | None
    frames: int
    audio_seconds: float
    spoken: int
    dropped: int
    backlog_seconds: float


class Broadcaster:
    """Turns a room's output events into a continuous audio/video programme on one ffmpeg process.

    Args:
        sink: where the programme goes (`RtmpSink` or `HlsSink`).
        fps: frames per second sent to ffmpeg (the card changes rarely; 2–5 is plenty).
        size: frame width and height (both even, as yuv420p needs).
        sample_rate: the PCM rate of the audio input; utterances are resampled to it.
        encoder: encoding settings.
        fonts: card fonts (default `find_fonts()`).
        ffmpeg: the ffmpeg executable.
        backoff: first and longest wait before restarting a failed ffmpeg, in seconds.
        log_lines: how many lines of ffmpeg's stderr to keep.
        max_backlog_s: queued speech beyond this drops the oldest utterance.
        on_report: called with the status whenever ffmpeg fails or is restarted.
        host: the host figure's layers (`agent.live.host`), drawn beside the card with its mouth following
            each clip's mouth track, blinking and breathing; None draws no host.
        host_scale, host_position: its size (1.0: 480 px tall at 720p) and side ("right" or "left").
        room_title: the room's title, drawn small at the top.
        images: the product images downloaded at import (`knowledge.images.ImageStore`): a card whose
            image is a URL shows the stored copy; None shows URL images as the placeholder tile.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        fps: int = 25,
        size: tuple[int, int] = (1280, 720),
        sample_rate: int = 24000,
        encoder: EncoderOptions | None = None,
        fonts: CardFonts | None = None,
        ffmpeg: str = "ffmpeg",
        backoff: tuple[float, float] = (1.0, 30.0),
        log_lines: int = 200,
        max_backlog_s: float = 120.0,
        on_report: Callable[[BroadcastStatus], None] | None = None,
        host: HostLayers | None = None,
        host_scale: float = 1.0,
        host_position: str = "right",
        room_title: str | None = None,
        images: ImageStore | None = None,
    ) -> None:
        if not 1 <= fps <= 30:
            raise ValueError(f"fps must be between 1 and 30, got {fps}")
        if size[0] % 2 or size[1] % 2 or size[0] < 160 or size[1] < 90:
            raise ValueError(f"frame size must be even and at least 160x90, got {size[0]}x{size[1]}")
        self.sink = sink
        self.fps = fps
        self.size = size
        self.sample_rate = sample_rate
        self.encoder = encoder or EncoderOptions()
        self.ffmpeg = ffmpeg
        self.backoff = backoff
        self.on_report = on_report
        self.programme = Programme(sample_rate, max_backlog_s=max_backlog_s)
        self.log: deque[str] = deque(maxlen=log_lines)
        self._fonts = fonts
        self._feed_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._frames = 0
        self._restarts = 0
        self._last_exit: int | None = None
        self._last_error: str | None = None
        self._frame_cache: tuple[tuple[int, str | None, str | None], Image.Image] | None = None
        self._composed: dict[tuple[int, bool, int], bytes] = {}  # this card's frames by host pose
        self.host = host
        self.room_title = room_title
        self.images = images
        self._host_place: tuple[float, int, int, int] | None = None  # scale, left, bottom, reserved width
        if host is not None:
            s = size[1] / 720 * host_scale
            width, height = round(host.size[0] * s), round(host.size[1] * s)
            pad = round(40 * size[1] / 720)
            bottom = size[1] - round(130 * size[1] / 720)  # the subtitle band's top
            left = size[0] - pad - width if host_position == "right" else pad
            self._host_place = (s, left, bottom - height, width + pad)
            self._reserve = (0, width + pad) if host_position == "right" else (width + pad, 0)
        else:
            self._reserve = (0, 0)

    @property
    def host_box(self) -> tuple[int, int, int, int] | None:
        """Where the host stands in the picture (left, top, width, height at rest), None without a host."""
        if self.host is None or self._host_place is None:
            return None
        scale, left, top, _ = self._host_place
        return left, top, round(self.host.size[0] * scale), round(self.host.size[1] * scale)

    @property
    def mouth_box(self) -> tuple[int, int, int, int] | None:
        """Where the host's mouth moves in the picture (left, top, right, bottom, with room for the
        breathing), None without a host: for checking the programme's lip sync."""
        if self.host is None or self._host_place is None:
            return None
        scale, left, top, _ = self._host_place
        box = self.host.mouth_box()
        return (
            left + int(box[0] * scale) - 2,
            top + int(box[1] * scale) - 8,
            left + int(box[2] * scale + 1) + 2,
            top + int(box[3] * scale + 1) + 4,
        )

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start ffmpeg and keep it running until `stop()`.

        Raises:
            CardFontError: no font to draw the card.
        """
        if self._supervisor is not None:
            return
        self._fonts = self._fonts or await asyncio.to_thread(find_fonts)
        self._supervisor = asyncio.create_task(self._supervise(), name=f"broadcast {self.sink.target}")

    async def stop(self, *, timeout: float = 10.0) -> None:
        """End both inputs, let ffmpeg flush the output (HLS gets its end tag) and wait for it."""
        self._stopping.set()
        task, self._supervisor = self._supervisor, None
        if task is None:
            return
        try:
            await asyncio.wait_for(task, timeout)
        except TimeoutError:
            log.warning("broadcast to %s did not stop within %g s", self.sink.target, timeout)

    async def __aenter__(self) -> Broadcaster:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def pid(self) -> int | None:
        """The running ffmpeg's process id."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def status(self) -> BroadcastStatus:
        return BroadcastStatus(
            target=self.sink.target,
            running=self.pid is not None,
            pid=self.pid,
            restarts=self._restarts,
            last_exit_code=self._last_exit,
            last_error=self._last_error,
            frames=self._frames,
            audio_seconds=round(self.programme.position, 3),
            spoken=self.programme.spoken,
            dropped=self.programme.dropped,
            backlog_seconds=round(self.programme.backlog_seconds, 3),
        )

    # ---- events ----------------------------------------------------------------------------------

    async def feed(self, event: OutputEvent) -> None:
        """Put one event on the programme: a product card, speech with its subtitle, or a cut of speech."""
        async with self._feed_lock:  # decoding awaits; the lock keeps publication order
            if event.kind == "product":
                self.programme.queue_card(self._with_local_image(event.data))
                return
            if event.kind == "cut":
                self._cut(event)
                return
            if event.kind not in ("say", "answer", "ack"):
                return
            text = str(event.data.get("text") or "")
            note = _question_note(event) if event.kind == "answer" else None
            pcm = await self._decode(event.audio) if event.audio is not None else None
            if pcm is None:
                # No audio (or unreadable): show the text for about as long as reading it takes.
                seconds = min(8.0, max(1.5, 0.2 * len(text)))
                pcm = bytes(round(seconds * self.sample_rate) * 2)
            cues = event.audio.cues if event.audio is not None else ()
            mouth = event.audio.mouth if event.audio is not None else ""
            if not mouth and event.audio is not None:
                mouth = await asyncio.to_thread(mouth_track, Pcm(pcm, self.sample_rate, 1))
            self.programme.queue_speech(Speech(pcm, text, cues, note, seq=event.seq, mouth=mouth))

    def _with_local_image(self, card: dict[str, Any]) -> dict[str, Any]:
        image = str(card.get("image") or "")
        if self.images is None or not is_image_url(image):
            return card
        local = self.images.local(image)
        return {**card, "image": str(local)} if local is not None else card

    def _cut(self, event: OutputEvent) -> None:
        """Stop the speech of event ``of`` at ``at`` seconds; a cut of speech no longer here does nothing."""
        try:
            of, at = int(event.data["of"]), float(event.data["at"])
        except (KeyError, TypeError, ValueError):
            log.warning("broadcast: cut event %d has no usable of/at: %r", event.seq, event.data)
            return
        if not self.programme.cut(of, at):
            log.debug("broadcast: cut of event %d at %.2f s: not queued or on air", of, at)

    async def consume(self, events: AsyncIterator[OutputEvent]) -> None:
        """Feed every event from ``events`` until it ends or the broadcaster stops."""
        async for event in events:
            if self._stopping.is_set():
                break
            await self.feed(event)

    async def _decode(self, audio: AudioRef) -> bytes | None:
        try:
            if audio.format == "wav":
                pcm = parse_wav(audio.data)
                if pcm.channels == 1:
                    return resample(pcm, self.sample_rate).data
            if audio.format not in AUDIO_FORMATS:
                raise AudioError(f"unknown audio format {audio.format!r}")
            fmt = next(f for f in AUDIO_FORMATS if f == audio.format)
            if audio.duration > 0:  # exactly the clip's length (an MP3's encoder delay left out)
                return (
                    await timeline_pcm(audio.data, fmt, audio.duration, sample_rate=self.sample_rate)
                ).data
            return (await to_pcm(audio.data, fmt, sample_rate=self.sample_rate)).data
        except TTSError as exc:
            log.warning("broadcast: cannot decode %s audio (%s); showing the text only", audio.format, exc)
            return None

    # ---- ffmpeg ----------------------------------------------------------------------------------

    def command(self, audio_fd: int, *, restart: bool = False) -> list[str]:
        """The ffmpeg command line this broadcaster runs, reading audio from pipe ``audio_fd``."""
        return ffmpeg_command(
            self.sink,
            audio_fd=audio_fd,
            size=self.size,
            fps=self.fps,
            sample_rate=self.sample_rate,
            encoder=self.encoder,
            ffmpeg=self.ffmpeg,
            restart=restart,
        )

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                code = await self._run_encoder(restart=self._restarts > 0 or failures > 0)
            except FileNotFoundError:
                self._last_error = f"{self.ffmpeg} is not installed (apt install ffmpeg)"
                log.error("broadcast: %s", self._last_error)
                self._report()
                return
            if self._stopping.is_set():
                return
            self._last_exit = code
            tail = [line for line in self.log if line.strip()]
            self._last_error = f"ffmpeg exited with code {code}: {tail[-1] if tail else 'no message'}"
            failures = 1 if time.monotonic() - began > 60 else failures + 1
            delay = min(self.backoff[1], self.backoff[0] * 2 ** (failures - 1))
            log.warning(
                "broadcast to %s: %s; restarting in %.1f s", self.sink.target, self._last_error, delay
            )
            self._report()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if not self._stopping.is_set():
                self._restarts += 1
                self.programme.restart_clock()

    def _report(self) -> None:
        if self.on_report is not None:
            try:
                self.on_report(self.status())
            except Exception:
                log.exception("broadcast on_report callback failed")

    async def _run_encoder(self, *, restart: bool) -> int:
        """Run one ffmpeg until it exits or the broadcaster stops; its exit code."""
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command(read_fd, restart=restart),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(read_fd,),
            )
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
        self._proc = proc
        loop = asyncio.get_running_loop()
        audio_file = os.fdopen(write_fd, "wb", buffering=0)
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, audio_file)
        audio = asyncio.StreamWriter(transport, protocol, None, loop)
        assert proc.stdin is not None
        assert proc.stderr is not None
        video = proc.stdin
        started = time.monotonic()
        tasks = [
            asyncio.create_task(self._pump_audio(audio, started)),
            asyncio.create_task(self._pump_video(video, started)),
            asyncio.create_task(self._read_log(proc.stderr)),
        ]
        exited = asyncio.create_task(proc.wait())
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait([exited, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            for task in tasks[:2]:
                task.cancel()
            await asyncio.gather(*tasks[:2], return_exceptions=True)
            for writer in (video, audio):
                with contextlib.suppress(Exception):
                    writer.close()
            try:
                await asyncio.wait_for(asyncio.shield(exited), 8.0)
            except (TimeoutError, asyncio.CancelledError):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await exited
            await asyncio.gather(tasks[2], return_exceptions=True)
            self._proc = None
        return proc.returncode if proc.returncode is not None else -1

    async def _read_log(self, stderr: asyncio.StreamReader) -> None:
        async for raw in stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if isinstance(self.sink, RtmpSink):  # never keep the stream key in logs
                line = line.replace(self.sink.url, self.sink.target)
            if line:
                self.log.append(line)

    async def _pump_audio(self, writer: asyncio.StreamWriter, started: float) -> None:
        """Write PCM at the wall-clock rate, 50 ms at a time, kept 250 ms ahead of real time."""
        chunk = self.sample_rate // 20
        lead = self.sample_rate // 4
        written = 0
        try:
            while True:
                due = round((time.monotonic() - started) * self.sample_rate) + lead
                while written < due:
                    writer.write(self.programme.read_audio(chunk))
                    written += chunk
                    await writer.drain()
                await asyncio.sleep(chunk / self.sample_rate)
        except (BrokenPipeError, ConnectionResetError):
            return

    async def _pump_video(self, writer: asyncio.StreamWriter, started: float) -> None:
        """Write one frame per 1/fps of wall-clock time (the card is drawn only when it changes; the host's
        poses are composed once per card and reused)."""
        count = 0
        try:
            while True:
                due = int((time.monotonic() - started) * self.fps) + 1
                while count < due:
                    t = count / self.fps
                    writer.write(await self._frame(self.programme.on_air(t), t))
                    count += 1
                    self._frames += 1
                    await writer.drain()
                await asyncio.sleep(max(0.0, started + count / self.fps - time.monotonic()))
        except (BrokenPipeError, ConnectionResetError):
            return

    async def _frame(self, on_air: OnAir, t: float = 0.0) -> bytes:
        """The picture at media time ``t``: the card (cached per card, subtitle and note) and the host."""
        cached = self._frame_cache
        if cached is None or cached[0] != on_air.key:
            fonts = self._fonts
            card = await asyncio.to_thread(
                lambda: render_card(
                    on_air.card,
                    on_air.subtitle,
                    self.size,
                    note=on_air.note,
                    fonts=fonts,
                    reserve=self._reserve,
                    room_title=self.room_title,
                )
            )
            self._frame_cache = cached = (on_air.key, card)
            self._composed.clear()
        card = cached[1]
        host, place = self.host, self._host_place
        if host is None or place is None:
            pose: tuple[int, bool, int] = (0, False, 0)
        else:
            pose = (
                mouth_index(on_air.mouth, len(host.mouths)),
                eyes_closed_at(t),
                idle_offset(t, round(host.size[1] * place[0])),
            )
        frame = self._composed.get(pose)
        if frame is None:
            frame = await asyncio.to_thread(self._compose, card, pose)
            if len(self._composed) >= _POSES_KEPT:  # a few MB a frame: keep the latest poses only
                del self._composed[next(iter(self._composed))]
            self._composed[pose] = frame
        return frame

    def _compose(self, card: Image.Image, pose: tuple[int, bool, int]) -> bytes:
        host, place = self.host, self._host_place
        if host is None or place is None:
            return card.tobytes()
        scale, left, top, _ = place
        figure = host.frame(pose[0], pose[1], scale)
        image = card.copy()
        image.paste(figure, (left, top + pose[2] - 3), figure)  # -3: breathing never reaches the band
        return image.tobytes()


def _question_note(event: OutputEvent) -> str | None:
    """ "@nickname：question" for an answer (the first of a merged group)."""
    questions: Any = event.data.get("questions") or []
    if not isinstance(questions, list) or not questions or not isinstance(questions[0], dict):
        return None
    first = questions[0]
    text = str(first.get("text") or "").strip()
    nickname = str(first.get("nickname") or "").strip()
    if not text:
        return None
    return f"@{nickname}：{text}" if nickname else text


async def broadcast_room(bus: SupportsSubscription, room_id: str, broadcaster: Broadcaster) -> None:
    """Feed ``broadcaster`` from the room's bus until the subscription ends or the broadcaster stops."""
    async with bus.subscription(room_id) as events:
        await broadcaster.consume(events)
