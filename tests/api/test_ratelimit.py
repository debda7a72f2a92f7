"""Token-bucket rate limits on a controlled clock: burst, refill, Retry-After, eviction, refunds."""

from __future__ import annotations

import pytest

from api.ratelimit import ChatRateLimits, RateDecision, TokenBucketLimiter

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_burst_then_refusal_with_retry_after(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(per_minute=6, burst=3, clock=clock, scope="ip")
    decisions = [limiter.acquire("1.2.3.4") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    refused = decisions[3]
    assert refused.scope == "ip"
    assert refused.retry_after == pytest.approx(10.0)  # 6 a minute: one token every 10 s
    assert refused.retry_after_header == "10"


def test_tokens_refill_at_the_rate_and_never_beyond_burst(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(per_minute=60, burst=2, clock=clock)
    assert limiter.acquire("k").allowed
    assert limiter.acquire("k").allowed
    assert not limiter.acquire("k").allowed
    clock.advance(0.5)
    refused = limiter.acquire("k")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.5)
    assert refused.retry_after_header == "1"  # whole seconds, at least 1
    clock.advance(0.5)
    assert limiter.acquire("k").allowed
    clock.advance(3600)
    assert [limiter.acquire("k").allowed for _ in range(3)] == [True, True, False]


def test_keys_are_independent(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(per_minute=1, burst=1, clock=clock)
    assert limiter.acquire("a").allowed
    assert not limiter.acquire("a").allowed
    assert limiter.acquire("b").allowed


def test_idle_buckets_are_evicted(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(per_minute=60, burst=5, clock=clock)  # full again after 5 s idle
    for i in range(50):
        limiter.acquire(f"ip-{i}")
    assert len(limiter) == 50
    clock.advance(6)
    limiter.acquire("fresh")
    assert len(limiter) == 1


def test_table_size_is_capped_least_recently_used_first(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(per_minute=1, burst=1, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        assert limiter.acquire(key).allowed
    assert not limiter.acquire("a").allowed  # "a" is now the most recently used
    assert limiter.acquire("d").allowed  # evicts "b"
    assert len(limiter) == 3
    assert limiter.acquire("b").allowed  # a forgotten bucket starts full; evicts "c"
    assert not limiter.acquire("a").allowed  # recently used, so kept (and still empty)
    assert limiter.acquire("c").allowed  # evicted, so full again
    assert len(limiter) == 3


def test_refund_gives_a_token_back(clock: FakeClock) -> None:
    limiter = TokenBucketLimiter(per_minute=1, burst=1, clock=clock)
    assert limiter.acquire("k").allowed
    limiter.refund("k")
    assert limiter.acquire("k").allowed
    assert not limiter.acquire("k").allowed


@pytest.mark.parametrize(("rate", "burst", "keys"), [(0, 1, 1), (-1, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_invalid_configuration_is_refused(rate: float, burst: int, keys: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        TokenBucketLimiter(per_minute=rate, burst=burst, max_keys=keys)


def test_chat_limits_check_ip_and_conversation(clock: FakeClock) -> None:
    limits = ChatRateLimits.in_memory(
        ip_per_minute=60, ip_burst=3, conversation_per_minute=6, conversation_burst=2, clock=clock
    )
    assert limits.check("ip1", "demo", "c1").allowed
    assert limits.check("ip1", "demo", "c1").allowed
    third = limits.check("ip1", "demo", "c1")
    assert (third.allowed, third.scope) == (False, "conversation")
    # The conversation's refusal did not spend the address's token: one left for another conversation.
    assert limits.check("ip1", "demo", "c2").allowed
    fourth = limits.check("ip1", "demo", "c3")
    assert (fourth.allowed, fourth.scope) == (False, "ip")
    # Same conversation id under another merchant is another bucket.
    assert limits.check("ip2", "shop2", "c1").allowed


def test_decision_header_rounds_up() -> None:
    assert RateDecision(False, retry_after=0.01).retry_after_header == "1"
    assert RateDecision(False, retry_after=2.2).retry_after_header == "3"
