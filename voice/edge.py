"""`EdgeTTS`: Microsoft's neural voices through the ``edge-tts`` library (online).

The library's ``Communicate`` object and ``list_voices`` function are injectable so tests can put a fake at
exactly the library boundary; by default the real ones are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from voice.base import TTS, SpeechRequest
from voice.errors import TransientTTSError, TTSError, TTSTimeout
from voice.types import Clip, Cue, VoiceInfo
from voice.voicemap import VoiceMap, is_edge_voice

EDGE_SAMPLE_RATE = 24000
EDGE_BITRATE = 48000  # "audio-24khz-48kbitrate-mono-mp3": constant bitrate, so bytes give the duration


class Communicate(Protocol):
    """What we use of ``edge_tts.Communicate``."""

    def stream(self) -> AsyncIterator[Mapping[str, Any]]: ...


CommunicateFactory = Callable[..., Communicate]
VoicesLister = Callable[[], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class EdgeOptions:
    """Settings of the online engine.

    Attributes:
        first_audio_timeout: seconds from the call to the first audio bytes (covers a hanging handshake
            and waiting for a free connection).
        idle_timeout: seconds the stream may stall once audio flows.
        timeout: seconds the whole call may take.
        max_parallel: connections to the service at once; more requests wait for a free one.
        boundary: "SentenceBoundary" (one cue per sentence) or "WordBoundary" (one per word).
        list_timeout: seconds `list_voices` may take.
    """

    first_audio_timeout: float = 1.0
    idle_timeout: float = 3.0
    timeout: float = 30.0
    max_parallel: int = 4
    boundary: Literal["WordBoundary", "SentenceBoundary"] = "SentenceBoundary"
    list_timeout: float = 5.0


def _real_communicate(text: str, voice: str, **kwargs: Any) -> Communicate:
    import edge_tts

    communicate: Communicate = edge_tts.Communicate(text, voice, **kwargs)
    return communicate


async def _real_list_voices() -> list[dict[str, Any]]:
    import edge_tts

    voices: list[dict[str, Any]] = [dict(v) for v in await edge_tts.list_voices()]
    return voices


def _translate(exc: Exception, voice: str) -> TTSError:
    """A library or network error as ours: transient ones are worth a retry."""
    import aiohttp
    from edge_tts import exceptions as edge_errors

    if isinstance(exc, aiohttp.ClientResponseError):  # includes WSServerHandshakeError
        status = exc.status
        where = "at handshake" if isinstance(exc, aiohttp.WSServerHandshakeError) else "from the service"
        message = f"edge: HTTP {status} {where}"
        if status in (403, 408, 429) or status >= 500:
            return TransientTTSError(message)
        return TTSError(message)
    if isinstance(exc, edge_errors.NoAudioReceived):
        return TransientTTSError(f"edge: no audio received for voice {voice}")
    if isinstance(exc, edge_errors.EdgeTTSException):
        return TransientTTSError(f"edge: {type(exc).__name__}: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return TransientTTSError(f"edge: cannot connect to {exc.host}:{exc.port} ({reason})")
    if isinstance(exc, aiohttp.ClientError | OSError | ConnectionError):
        return TransientTTSError(f"edge: connection failed ({type(exc).__name__}: {exc})")
    if isinstance(exc, ValueError):
        return TTSError(f"edge: invalid voice or prosody ({exc})")
    return TTSError(f"edge: {type(exc).__name__}: {exc}")


class EdgeTTS(TTS):
    """edge-tts neural voices: 24 kHz mono MP3, cues from WordBoundary/SentenceBoundary events.

    Every call is bounded: the first audio must arrive within ``first_audio_timeout`` (or the request's
    ``first_audio_by``, if sooner), the stream must not stall for ``idle_timeout``, and at most
    ``max_parallel`` connections are open at once.
    """

    name = "edge"

    def __init__(
        self,
        options: EdgeOptions | None = None,
        *,
        voices: VoiceMap | None = None,
        communicate: CommunicateFactory | None = None,
        list_voices: VoicesLister | None = None,
    ) -> None:
        super().__init__(voices=voices)
        self.options = options or EdgeOptions()
        self._communicate = communicate or _real_communicate
        self._list_voices = list_voices or _real_list_voices
        self._slots = asyncio.Semaphore(max(1, self.options.max_parallel))
        self._in_flight = 0
        self.peak_in_flight = 0

    def owns_voice(self, voice: str) -> bool:
        return is_edge_voice(voice)

    async def _synthesize(self, request: SpeechRequest) -> Clip:
        voice = self.resolve_voice(request)
        loop = asyncio.get_running_loop()
        first_wait = self.options.first_audio_timeout
        if request.first_audio_by is not None:
            first_wait = max(0.0, min(first_wait, request.first_audio_by - time.monotonic()))
        start = loop.time()
        first_by = start + first_wait
        try:
            async with asyncio.timeout_at(first_by):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise TTSTimeout(
                f"edge: all {self.options.max_parallel} connections busy for {first_wait:.1f} s"
            ) from exc
        self._in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            return await self._run(request, voice, start, first_by)
        finally:
            self._in_flight -= 1
            self._slots.release()

    async def _run(self, request: SpeechRequest, voice: str, start: float, first_by: float) -> Clip:
        loop = asyncio.get_running_loop()
        overall_by = start + self.options.timeout
        audio = bytearray()
        cues: list[Cue] = []
        stream: AsyncIterator[Mapping[str, Any]] | None = None
        try:
            communicate = self._communicate(
                request.text,
                voice,
                rate=request.prosody.rate,
                volume=request.prosody.volume,
                pitch=request.prosody.pitch,
                boundary=self.options.boundary,
            )
            stream = communicate.stream()
            async with asyncio.timeout_at(min(first_by, overall_by)) as deadline:
                async for chunk in stream:
                    kind = chunk.get("type")
                    if kind == "audio":
                        audio += chunk["data"]
                    elif kind in ("WordBoundary", "SentenceBoundary"):
                        start_s = chunk["offset"] / 1e7
                        cues.append(Cue(start_s, start_s + chunk["duration"] / 1e7, str(chunk["text"])))
                    if audio:
                        deadline.reschedule(min(loop.time() + self.options.idle_timeout, overall_by))
        except TimeoutError as exc:
            waited = loop.time() - start
            what = "audio stalled" if audio else "no audio"
            raise TTSTimeout(f"edge: {what} after {waited:.1f} s (voice {voice})") from exc
        except TTSError:
            raise
        except Exception as exc:
            raise _translate(exc, voice) from exc
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                # The stream already ended or failed; an error while closing it adds nothing.
                with contextlib.suppress(Exception):
                    await aclose()
        if not audio:
            raise TransientTTSError(f"edge: no audio received for voice {voice}")
        duration = len(audio) * 8 / EDGE_BITRATE
        if cues:
            duration = max(duration, cues[-1].end)
        return Clip(bytes(audio), "mp3", EDGE_SAMPLE_RATE, duration, tuple(cues), self.name, voice)

    async def list_voices(self) -> list[VoiceInfo]:
        """Microsoft's voice list, bounded by ``list_timeout``.

        Raises:
            TTSError: the service is unreachable or slow; the message says so.
        """
        try:
            async with asyncio.timeout(self.options.list_timeout):
                raw = await self._list_voices()
        except TimeoutError as exc:
            raise TTSError(f"edge voice list: no answer within {self.options.list_timeout:g} s") from exc
        except Exception as exc:
            raise TTSError(f"edge voice list unreachable: {_translate(exc, '-')}") from exc
        return [
            VoiceInfo(
                engine=self.name,
                name=str(v.get("ShortName", "")),
                language=str(v.get("Locale", "")),
                gender=str(v.get("Gender", "")),
                description=str(v.get("FriendlyName", "")),
            )
            for v in raw
            if v.get("ShortName")
        ]
