"""A circuit breaker per engine: after repeated failures the engine is skipped for a cooldown, then probed."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class BreakerState(enum.Enum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls are skipped until the cooldown ends
    HALF_OPEN = "half_open"  # one probe call goes through; its outcome closes or reopens the breaker


class CircuitBreaker:
    """Counts consecutive failed calls of one engine.

    Args:
        threshold: consecutive failures that open the breaker.
        cooldown: seconds the breaker stays open before one probe is let through.
        clock: monotonic seconds (injectable so tests control time).
    """

    def __init__(
        self, threshold: int = 3, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic
    ):
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() >= self._opened_at + self.cooldown:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when calls may go through)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown - self._clock())

    def allow(self) -> bool:
        """Whether a call may go to the engine now; a half-open breaker lets one probe through at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._probing:
            return False
        self._state = BreakerState.HALF_OPEN
        self._probing = True
        return True

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
        self._probing = False

    def record_abandoned(self) -> None:
        """The call was cancelled by its caller: neither success nor failure, free the probe slot."""
        self._probing = False
