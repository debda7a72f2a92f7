from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest

from tests.voice.fakes import FakeClock, FakeEdgeService
from voice.breaker import BreakerState
from voice.edge import EdgeOptions, EdgeTTS
from voice.errors import AllEnginesFailed
from voice.espeak import EspeakTTS
from voice.fallback import FallbackOptions, FallbackTTS

OPTIONS = FallbackOptions(
    max_attempts=3,
    backoff_base=0.1,
    backoff_max=1.0,
    jitter=0.5,
    retry_window=1.0,
    breaker_threshold=2,
    breaker_cooldown=30.0,
)


def chain(
    primary: FakeEdgeService, secondary: FakeEdgeService, clock: FakeClock, **overrides: Any
) -> FallbackTTS:
    options = dataclasses.replace(OPTIONS, **overrides)
    fast = EdgeOptions(first_audio_timeout=0.3)
    return FallbackTTS(
        [EdgeTTS(fast, communicate=primary), EdgeTTS(fast, communicate=secondary)],
        options,
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 0.5,
    )


@pytest.mark.unit
async def test_transient_errors_are_retried_with_exponential_jittered_backoff() -> None:
    clock = FakeClock()
    primary, secondary = FakeEdgeService("403", "noaudio", "ok"), FakeEdgeService("ok")
    tts = chain(primary, secondary, clock)
    clip = await tts.synthesize("hello")
    assert clip.engine == "edge"
    assert len(primary.calls) == 3
    assert secondary.calls == []
    # delay = min(max, base * 2^(n-1)) * (1 - jitter + jitter * rand) with rand = 0.5
    assert clock.sleeps == [pytest.approx(0.075), pytest.approx(0.15)]
    assert tts.engine_states()[0][1] is BreakerState.CLOSED


@pytest.mark.unit
def test_jitter_stays_within_its_band() -> None:
    tts = FallbackTTS(
        [EdgeTTS()], FallbackOptions(backoff_base=0.2, backoff_max=0.5, jitter=0.5), rand=lambda: 0.0
    )
    assert [tts.backoff(n) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.25, 0.25])
    tts_hi = FallbackTTS(
        [EdgeTTS()], FallbackOptions(backoff_base=0.2, backoff_max=0.5, jitter=0.5), rand=lambda: 0.999
    )
    assert tts_hi.backoff(3) == pytest.approx(0.5, abs=1e-3)


@pytest.mark.unit
async def test_persistent_failure_falls_back_and_says_why() -> None:
    clock = FakeClock()
    primary, secondary = FakeEdgeService("403"), FakeEdgeService("ok")
    tts = chain(primary, secondary, clock)
    clip = await tts.synthesize("hello")
    assert clip.audio
    assert len(primary.calls) == 3
    assert len(secondary.calls) == 1
    [(engine, why)] = tts.last_failures
    assert engine == "edge"
    assert "403 at handshake (3 attempts)" in why


@pytest.mark.unit
async def test_permanent_errors_are_not_retried() -> None:
    clock = FakeClock()
    primary, secondary = FakeEdgeService("401"), FakeEdgeService("ok")
    await chain(primary, secondary, clock).synthesize("hello")
    assert len(primary.calls) == 1
    assert clock.sleeps == []


@pytest.mark.unit
async def test_no_retry_starts_after_the_retry_window() -> None:
    clock = FakeClock()
    primary, secondary = FakeEdgeService("403"), FakeEdgeService("ok")
    tts = chain(primary, secondary, clock, retry_window=0.2)
    await tts.synthesize("hello")
    assert len(primary.calls) == 2  # 0.075 s + 0.15 s of backoff would pass the 0.2 s window


@pytest.mark.unit
async def test_breaker_skips_the_failing_engine_then_probes_it_after_cooldown() -> None:
    clock = FakeClock()
    primary, secondary = (
        FakeEdgeService("403", "403", "403", "403", "403", "403", "ok"),
        FakeEdgeService("ok"),
    )
    tts = chain(primary, secondary, clock)
    await tts.synthesize("one")
    await tts.synthesize("two")
    assert len(primary.calls) == 6
    assert tts.engine_states()[0][1] is BreakerState.OPEN
    await tts.synthesize("three")
    assert len(primary.calls) == 6  # skipped while open
    assert "circuit open" in tts.last_failures[0][1]
    assert len(secondary.calls) == 3
    clock.advance(31)
    clip = await tts.synthesize("four")
    assert len(primary.calls) == 7  # the probe, which succeeds
    assert len(secondary.calls) == 3
    assert clip.engine == "edge"
    assert tts.engine_states()[0][1] is BreakerState.CLOSED


@pytest.mark.unit
async def test_every_engine_failing_is_one_clear_error() -> None:
    clock = FakeClock()
    tts = chain(FakeEdgeService("403"), FakeEdgeService("noaudio"), clock)
    with pytest.raises(AllEnginesFailed) as info:
        await tts.synthesize("今天只要199元")
    message = str(info.value)
    assert "今天只要199元" in message
    assert "403 at handshake" in message
    assert "no audio received" in message
    assert [engine for engine, _ in info.value.failures] == ["edge", "edge"]


@pytest.mark.unit
async def test_caller_cancellation_is_not_a_failure() -> None:
    clock = FakeClock()
    primary = FakeEdgeService("hang")
    fast = EdgeOptions(first_audio_timeout=10)
    tts = FallbackTTS(
        [EdgeTTS(fast, communicate=primary), EdgeTTS(communicate=FakeEdgeService())],
        FallbackOptions(failover_after=10),
        clock=clock,
        sleep=clock.sleep,
    )
    task = asyncio.ensure_future(tts.synthesize("hello"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tts.breakers[0].failures == 0
    assert primary.active == 0


@pytest.mark.integration
@pytest.mark.parametrize("behaviour", ["403", "noaudio", "hang", "conn"])
async def test_espeak_speaks_within_a_second_and_a_half_of_an_online_failure(behaviour: str) -> None:
    tts = FallbackTTS([EdgeTTS(communicate=FakeEdgeService(behaviour)), EspeakTTS()])
    start = time.monotonic()
    clip = await tts.synthesize("欢迎来到直播间！今天这款面霜只要¥199。")
    elapsed = time.monotonic() - start
    assert clip.engine == "espeak"
    assert clip.duration > 1.0
    assert elapsed < 1.5, f"fallback audio took {elapsed:.2f} s after a {behaviour}"
