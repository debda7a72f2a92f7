"""`FallbackTTS`: engines in order of preference, with timeouts, retries, backoff and circuit breakers.

The caller gets a clip or an `AllEnginesFailed` that lists why each engine failed, never a hang: every
attempt is bounded, an engine that is not the last must start producing audio within ``failover_after``
seconds, and retries stop once ``retry_window`` seconds have passed so the next engine speaks in time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from voice.base import TTS, SpeechRequest
from voice.breaker import BreakerState, CircuitBreaker
from voice.errors import AllEnginesFailed, TransientTTSError, TTSError, TTSTimeout
from voice.types import Clip, VoiceInfo
from voice.voicemap import VoiceMap


@dataclass(frozen=True, slots=True)
class FallbackOptions:
    """Retry, timeout and breaker settings for every engine of a chain.

    Attributes:
        attempt_timeout: seconds one attempt of one engine may take in all.
        failover_after: seconds an engine that is not the last has to start producing audio.
        max_attempts: attempts per engine per request (transient errors only are retried).
        retry_window: no retry starts later than this many seconds after the request started.
        backoff_base: delay before the second attempt; it doubles each attempt.
        backoff_max: the longest delay between attempts.
        jitter: fraction of each delay that is random (0 = fixed delays, 1 = anywhere in [0, delay]).
        breaker_threshold: consecutive failed requests that open an engine's breaker.
        breaker_cooldown: seconds an open breaker skips its engine before probing it again.
    """

    attempt_timeout: float = 15.0
    failover_after: float = 1.2
    max_attempts: int = 3
    retry_window: float = 1.0
    backoff_base: float = 0.1
    backoff_max: float = 1.0
    jitter: float = 0.5
    breaker_threshold: int = 3
    breaker_cooldown: float = 30.0


class FallbackTTS(TTS):
    """Speak with the first engine that can; the last engine is always tried.

    Args:
        engines: in order of preference, e.g. ``[EdgeTTS(), EspeakTTS()]``.
        options: timeouts, retries, breaker settings.
        clock: monotonic seconds for breakers and retry windows (injectable for tests).
        sleep: how to wait between attempts (injectable for tests).
        rand: a uniform [0, 1) source for jitter.

    Attributes:
        last_failures: (engine, why) for the engines that failed or were skipped in the most recent
            request, for a CLI or health page to show why a fallback engine spoke.
    """

    name = "fallback"

    def __init__(
        self,
        engines: Sequence[TTS],
        options: FallbackOptions | None = None,
        *,
        voices: VoiceMap | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not engines:
            raise ValueError("FallbackTTS needs at least one engine")
        super().__init__(voices=voices or engines[0].voices)
        self.engines = tuple(engines)
        self.options = options or FallbackOptions()
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self.last_failures: tuple[tuple[str, str], ...] = ()
        self.breakers = tuple(
            CircuitBreaker(self.options.breaker_threshold, self.options.breaker_cooldown, clock)
            for _ in self.engines
        )

    @property
    def cache_tag(self) -> str:
        return "fallback(" + ",".join(e.cache_tag for e in self.engines) + ")"

    def owns_voice(self, voice: str) -> bool:
        return any(e.owns_voice(voice) for e in self.engines)

    def resolve_voice(self, request: SpeechRequest) -> str:
        return self.engines[0].resolve_voice(request)

    def engine_states(self) -> list[tuple[str, BreakerState]]:
        """Each engine's name and breaker state, for health pages."""
        return [(e.name, b.state) for e, b in zip(self.engines, self.breakers, strict=True)]

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), jittered."""
        o = self.options
        delay = min(o.backoff_max, o.backoff_base * 2.0 ** (attempt - 1))
        return delay * (1.0 - o.jitter + o.jitter * self._rand())

    async def _synthesize(self, request: SpeechRequest) -> Clip:
        started = self._clock()
        failures: list[tuple[str, str]] = []
        last = len(self.engines) - 1
        for i, (engine, breaker) in enumerate(zip(self.engines, self.breakers, strict=True)):
            if not breaker.allow() and i != last:
                failures.append((engine.name, f"skipped, circuit open for {breaker.retry_in():.0f} s more"))
                continue
            try:
                clip = await self._attempts(engine, request, started, is_last=i == last)
            except asyncio.CancelledError:
                breaker.record_abandoned()
                raise
            except TTSError as exc:
                breaker.record_failure()
                why = str(exc)
                failures.append((engine.name, why.removeprefix(f"{engine.name}: ")))
                continue
            except Exception as exc:  # an engine bug must not silence the room: try the next engine
                breaker.record_failure()
                failures.append((engine.name, f"{type(exc).__name__}: {exc}"))
                continue
            breaker.record_success()
            self.last_failures = tuple(failures)
            return clip
        self.last_failures = tuple(failures)
        raise AllEnginesFailed(request.text, failures)

    async def _attempts(self, engine: TTS, request: SpeechRequest, started: float, *, is_last: bool) -> Clip:
        o = self.options
        if not is_last:
            left = o.failover_after - (self._clock() - started)
            by = time.monotonic() + max(0.0, left)
            if request.first_audio_by is not None:
                by = min(by, request.first_audio_by)
            request = replace(request, first_audio_by=by)
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(o.attempt_timeout):
                    return await engine.speak(request)
            except TimeoutError:
                error: TransientTTSError = TTSTimeout(f"no clip within {o.attempt_timeout:g} s")
            except TransientTTSError as exc:
                error = exc
            delay = self.backoff(attempt)
            elapsed = self._clock() - started
            if attempt >= o.max_attempts or elapsed + delay > o.retry_window:
                tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                raise TransientTTSError(f"{error} ({tries})") from error
            await self._sleep(delay)

    async def list_voices(self) -> list[VoiceInfo]:
        """Every engine's voices; engines that cannot list right now are left out."""
        found: list[VoiceInfo] = []
        for engine in self.engines:
            try:
                found.extend(await engine.list_voices())
            except TTSError:
                continue
        return found
