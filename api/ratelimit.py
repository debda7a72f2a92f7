"""Rate limits for the anonymous shopper chat: token buckets kept in memory.

Each key (a client IP, or a merchant + conversation pair) owns a bucket that holds up to `burst`
tokens and refills at `per_minute / 60` tokens a second; a message takes one token. An empty bucket
answers with the seconds until the next token (the HTTP layer turns that into 429 + `Retry-After`).

Memory is bounded: buckets idle long enough to be full again carry no information and are dropped, and
the table never holds more than `max_keys` buckets (the least recently used go first).

The buckets live in one process (`TokenBucketLimiter`) or, with ``ANCHOR_REDIS_URL`` set, in Redis
(`RedisTokenBucketLimiter`: one atomic script per check), so a limit holds across several API processes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Clock = Callable[[], float]
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one check: allowed, or how long to wait.

    Attributes:
        allowed: True when the request may proceed (a token was taken).
        retry_after: seconds until a token is available (0.0 when allowed).
        remaining: whole tokens left in the bucket after this check.
        scope: which limit decided ("ip", "conversation", …); "" when allowed.
    """

    allowed: bool
    retry_after: float = 0.0
    remaining: int = 0
    scope: str = ""

    @property
    def retry_after_header(self) -> str:
        """`Retry-After` value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter(Protocol):
    """What the chat routes need from a limiter (in memory now; Redis-backed later)."""

    def acquire(self, key: str) -> RateDecision:
        """Take one token for `key`, or say how long to wait."""
        ...

    def refund(self, key: str) -> None:
        """Give back a token taken by `acquire` (the request was refused by another limit)."""
        ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Token buckets per key, in memory, thread-safe, with bounded size.

    Args:
        per_minute: sustained rate (tokens added per minute); must be positive.
        burst: bucket capacity (messages allowed at once after a quiet period); at least 1.
        max_keys: most buckets kept; the least recently used are evicted beyond it.
        clock: monotonic seconds; injectable for tests.
        scope: name reported in refusals ("ip", "conversation").
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Clock = time.monotonic,
        scope: str = "",
    ) -> None:
        if per_minute <= 0:
            raise ValueError(f"rate must be positive, got {per_minute} per minute")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self.scope = scope
        #: Seconds after which an untouched bucket is full again, so forgetting it changes nothing.
        self.idle_seconds = self.burst / self.rate
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, key: str) -> RateDecision:
        now = self.clock()
        with self._lock:
            self._sweep(now)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(tokens=self.burst, updated=now)
                self._buckets[key] = bucket
                while len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return RateDecision(True, remaining=int(bucket.tokens))
            wait = (1.0 - bucket.tokens) / self.rate
            return RateDecision(False, retry_after=wait, remaining=0, scope=self.scope)

    def refund(self, key: str) -> None:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.tokens = min(self.burst, bucket.tokens + 1.0)

    def _sweep(self, now: float) -> None:
        """Drop buckets idle long enough to be full (at most once per idle period)."""
        if now - self._last_sweep < self.idle_seconds:
            return
        self._last_sweep = now
        # Buckets are in least-recently-used order: stop at the first one still in use.
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            if now - bucket.updated < self.idle_seconds:
                break
            del self._buckets[key]


class ChatRateLimits:
    """The shopper chat's two limits: per client IP and per (merchant, conversation)."""

    def __init__(self, per_ip: RateLimiter, per_conversation: RateLimiter) -> None:
        self.per_ip = per_ip
        self.per_conversation = per_conversation

    @classmethod
    def in_memory(
        cls,
        *,
        ip_per_minute: float,
        ip_burst: int,
        conversation_per_minute: float,
        conversation_burst: int,
        max_keys: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> ChatRateLimits:
        return cls(
            TokenBucketLimiter(ip_per_minute, ip_burst, max_keys=max_keys, clock=clock, scope="ip"),
            TokenBucketLimiter(
                conversation_per_minute,
                conversation_burst,
                max_keys=max_keys,
                clock=clock,
                scope="conversation",
            ),
        )

    def check(self, client_ip: str, merchant: str, conversation_id: str) -> RateDecision:
        """Take a token from both buckets; a refusal by the second gives the first one back."""
        ip_key = client_ip
        decision = self.per_ip.acquire(ip_key)
        if not decision.allowed:
            return decision
        conversation = self.per_conversation.acquire(f"{merchant}\x00{conversation_id}")
        if not conversation.allowed:
            self.per_ip.refund(ip_key)
            return conversation
        return RateDecision(True, remaining=min(decision.remaining, conversation.remaining))


# One atomic step of a token bucket in Redis, on the server's clock (so every API process agrees):
# refill by the time passed, then take `cost` tokens (a negative cost gives tokens back).
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(data[1])
local updated = tonumber(data[2])
if tokens == nil then
  tokens = burst
  updated = now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local allowed = 0
if cost < 0 or tokens >= cost then
  tokens = math.min(burst, tokens - cost)
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(tokens)}
"""


class RedisTokenBucketLimiter:
    """The same token bucket, kept in Redis, so a limit holds across every API process behind a balancer.

    Each check is one atomic script on the Redis server's clock; keys expire once a bucket would be full
    again. When Redis cannot be reached the request is allowed and the failure logged: a limiter outage
    must not take the shop's chat down.

    Args:
        url: the Redis URL (``ANCHOR_REDIS_URL``).
        per_minute, burst, scope: as for `TokenBucketLimiter`.
        prefix: the key prefix (``ANCHOR_RATE_LIMIT_PREFIX``), so deployments sharing a Redis stay apart.
    """

    def __init__(
        self, url: str, per_minute: float, burst: int, *, scope: str = "", prefix: str = "anchor:rl:"
    ) -> None:
        import redis

        if per_minute <= 0:
            raise ValueError(f"rate must be positive, got {per_minute} per minute")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.scope = scope
        self.prefix = f"{prefix}{scope}:"
        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._client.register_script(_BUCKET_SCRIPT)

    def _run(self, key: str, cost: float) -> tuple[bool, float] | None:
        import redis

        try:
            allowed, tokens = self._script(keys=[self.prefix + key], args=[self.rate, self.burst, cost])
        except redis.RedisError:
            logger.warning(
                "the rate limiter's Redis is unreachable; the request is let through", exc_info=True
            )
            return None
        return bool(allowed), float(tokens)

    def acquire(self, key: str) -> RateDecision:
        outcome = self._run(key, 1.0)
        if outcome is None:
            return RateDecision(True)
        allowed, tokens = outcome
        if allowed:
            return RateDecision(True, remaining=int(tokens))
        return RateDecision(False, retry_after=(1.0 - tokens) / self.rate, remaining=0, scope=self.scope)

    def refund(self, key: str) -> None:
        self._run(key, -1.0)
