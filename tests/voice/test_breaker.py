from __future__ import annotations

import pytest

from tests.voice.fakes import FakeClock
from voice.breaker import BreakerState, CircuitBreaker

pytestmark = pytest.mark.unit


def test_opens_after_threshold_then_probes_after_cooldown() -> None:
    clock = FakeClock()
    b = CircuitBreaker(threshold=3, cooldown=30, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()
    assert b.state.value == "open"
    assert not b.allow()
    assert b.retry_in() == pytest.approx(30)
    clock.advance(29.9)
    assert not b.allow()
    clock.advance(0.2)
    assert b.state.value == "half_open"
    assert b.allow()  # the probe
    assert not b.allow()  # only one probe at a time
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert b.allow()


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = FakeClock()
    b = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    b.record_failure()
    clock.advance(10)
    assert b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert b.retry_in() == pytest.approx(10)


def test_success_resets_the_count_and_abandoned_probe_frees_the_slot() -> None:
    clock = FakeClock()
    b = CircuitBreaker(threshold=2, cooldown=5, clock=clock)
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()
    clock.advance(5)
    assert b.allow()
    b.record_abandoned()
    assert b.allow()
