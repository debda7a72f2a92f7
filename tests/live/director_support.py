"""Shared pieces of the director, state and manager tests: controlled time, a fixed-duration TTS double,
a recording bus and a demo catalog with a real answer pipeline (hash embedder)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.live.events import OutputEvent
from api.services import Services
from api.settings import Settings
from voice import AllEnginesFailed, Clip, Cue, Prosody
from voice.wav import Pcm, build_wav

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "samples" / "demo"


class VirtualTime:
    """Controlled time: `sleep` moves the clock forward and delivers every arrival that has become due.

    Arrivals (questions, commands, a crash) are callables scheduled at virtual instants. `sleep` delivers
    the arrivals it spans at its end (a plain wait sees nothing earlier in real time either); `wait`,
    the director's wait-for-wake-or-timeout, stops at the first arrival that sets its event, so a
    question that comes in mid-sentence wakes the director at that virtual instant.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self._due: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self.sleeps: list[tuple[float, float]] = []

    def clock(self) -> float:
        return self.now

    def at(self, when: float, action: Callable[[], object]) -> None:
        heapq.heappush(self._due, (when, next(self._order), action))

    def deliver(self) -> None:
        while self._due and self._due[0][0] <= self.now:
            _, _, action = heapq.heappop(self._due)
            action()

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Until ``event`` is set by an arrival (True, clock at that arrival) or ``seconds`` pass."""
        target = self.now + max(0.0, seconds)
        self.sleeps.append((self.now, seconds))
        while not event.is_set() and self._due and self._due[0][0] <= target:
            self.now = max(self.now, self._due[0][0])
            self.deliver()
        if not event.is_set():
            self.now = target
            self.deliver()
        await asyncio.sleep(0)
        if event.is_set():
            event.clear()
            return True
        return False

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append((self.now, seconds))
        self.now += max(0.0, seconds)
        self.deliver()
        await asyncio.sleep(0)


SILENT_RATE = 4000


class FixedClipTTS:
    """A TTS double: silent clips whose duration grows with the text, with a pause every ``pause_every``
    seconds when asked (None: no pauses); fails on the texts it is told to."""

    def __init__(
        self,
        *,
        base: float = 0.5,
        per_char: float = 0.1,
        pause_every: float | None = None,
        fail: Callable[[str], bool] | None = None,
    ) -> None:
        self.base = base
        self.per_char = per_char
        self.pause_every = pause_every
        self.fail = fail
        self.calls: list[tuple[str, str | None]] = []

    def duration(self, text: str) -> float:
        return self.base + self.per_char * len(text)

    async def synthesize(self, text: str, voice: str | None = None, prosody: Prosody | None = None) -> Clip:
        self.calls.append((text, voice))
        if self.fail is not None and self.fail(text):
            raise AllEnginesFailed(text, [("edge", "403 on handshake"), ("espeak", "not installed")])
        seconds = self.duration(text)
        step = self.pause_every
        pauses = tuple(step * k for k in range(1, int(seconds / step))) if step else ()
        return Clip(
            audio=build_wav(Pcm(bytes(2 * round(seconds * SILENT_RATE)), SILENT_RATE)),
            format="wav",
            sample_rate=SILENT_RATE,
            duration=seconds,
            cues=(Cue(0.0, seconds, text),),
            engine="fixed",
            voice=voice or "",
            pauses=pauses,
        )


@dataclass(frozen=True, slots=True)
class Published:
    at: float
    event: OutputEvent


class RecordingBus:
    """A bus double that keeps every event with the (virtual) time it was published."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.log: list[Published] = []

    async def publish(self, event: OutputEvent) -> None:
        self.log.append(Published(self._clock(), event))

    def events(self, *kinds: str) -> list[OutputEvent]:
        return [p.event for p in self.log if not kinds or p.event.kind in kinds]

    def script_says(self) -> list[OutputEvent]:
        return [e for e in self.events("say") if e.data.get("origin") == "script"]


def demo_files() -> list[Path]:
    return [DEMO / "products.jsonl", *sorted((DEMO / "policies").glob("*.md"))]


@pytest.fixture(scope="session")
def demo_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A data dir with the demo catalog ingested (hash embedder): a real store and answer pipeline."""
    data_dir = tmp_path_factory.mktemp("live-demo")
    services = Services(Settings(data_dir=data_dir, embedder="hash", database_url=None))
    services.ingest(demo_files(), "demo")
    yield services
    services.close()
