"""Fakes at the edge-tts library boundary: a scripted stand-in for ``edge_tts.Communicate``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from edge_tts import exceptions as edge_errors

# 1 s of 48 kbps audio; only its length matters where the bytes are not decoded.
FAKE_MP3 = b"\xff\xf3" + b"\x00" * 5998


class FakeCommunicate:
    """One call's communicate object: ``stream()`` plays its behaviour once."""

    def __init__(
        self, service: FakeEdgeService, behaviour: str, text: str, voice: str, kwargs: dict[str, Any]
    ):
        self.service = service
        self.behaviour = behaviour
        self.text = text
        self.voice = voice
        self.kwargs = kwargs
        self._streamed = False

    async def stream(self) -> AsyncIterator[dict[str, Any]]:
        if self._streamed:
            raise RuntimeError("stream can only be called once.")
        self._streamed = True
        svc = self.service
        svc.active += 1
        svc.peak_active = max(svc.peak_active, svc.active)
        try:
            if svc.start_delay:
                await asyncio.sleep(svc.start_delay)
            b = self.behaviour
            if b == "403":
                raise aiohttp.WSServerHandshakeError(None, (), status=403, message="Invalid response status")  # type: ignore[arg-type]
            if b == "401":
                raise aiohttp.WSServerHandshakeError(None, (), status=401, message="Unauthorized")  # type: ignore[arg-type]
            if b == "noaudio":
                raise edge_errors.NoAudioReceived("No audio was received.")
            if b == "conn":
                raise aiohttp.ClientConnectionError("connection reset")
            if b == "hang":
                await asyncio.Event().wait()
            if b == "empty":
                return
            words = self.text.split() or [self.text]
            step = 10_000_000 // max(1, len(words))  # 1 s spread over the words, in 100 ns units
            if self.kwargs.get("boundary") == "WordBoundary":
                for i, w in enumerate(words):
                    yield {"type": "WordBoundary", "offset": i * step, "duration": step, "text": w}
            else:
                yield {
                    "type": "SentenceBoundary",
                    "offset": 1_000_000,
                    "duration": 9_000_000,
                    "text": self.text,
                }
            half = len(svc.audio) // 2
            yield {"type": "audio", "data": svc.audio[:half]}
            if svc.chunk_delay:
                await asyncio.sleep(svc.chunk_delay)
            if b == "stall":
                await asyncio.Event().wait()
            yield {"type": "audio", "data": svc.audio[half:]}
        finally:
            svc.active -= 1


class FakeEdgeService:
    """The communicate factory: each call takes the next scripted behaviour (the last one repeats).

    Behaviours: "ok", "403", "401", "noaudio", "conn", "hang", "empty", "stall".
    """

    def __init__(
        self, *behaviours: str, audio: bytes = FAKE_MP3, chunk_delay: float = 0.0, start_delay: float = 0.0
    ) -> None:
        self.behaviours = list(behaviours) or ["ok"]
        self.audio = audio
        self.chunk_delay = chunk_delay
        self.start_delay = start_delay
        self.calls: list[FakeCommunicate] = []
        self.active = 0
        self.peak_active = 0

    def __call__(self, text: str, voice: str, **kwargs: Any) -> FakeCommunicate:
        index = min(len(self.calls), len(self.behaviours) - 1)
        call = FakeCommunicate(self, self.behaviours[index], text, voice, kwargs)
        self.calls.append(call)
        return call


class FakeClock:
    """Monotonic time that moves only when `sleep` is awaited (or `advance` is called)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
