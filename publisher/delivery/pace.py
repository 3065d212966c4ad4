"""`[delivery] rate`: at most so many messages a second, as a token bucket.

The bucket holds at most a tenth of a second's worth of messages (at least
one), so a run never bursts far above the rate. A message taken with the
bucket empty leaves it in debt and sleeps until the debt is paid; a sleep that
runs long is made up for by the tokens that gather meanwhile. The clock and the sleep are passed
in, so tests can run the bucket on a fake clock without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

BURST_SECONDS = 0.1


class TokenBucket:
    """`take()` returns when the next message may go; shared by every sending thread."""

    def __init__(self, rate: float, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("a rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate * BURST_SECONDS)
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = 1.0
        self._last = monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:  # threads queue here, each sleeping its turn
            now = self._monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            if self._tokens < 0:  # in debt: wait until the token is earned
                self._sleep(-self._tokens / self.rate)


def pacer(rate: float) -> Callable[[], None]:
    """What the dispatcher calls before each message: a bucket's take(), or nothing at rate 0."""
    return TokenBucket(rate).take if rate > 0 else _unpaced


def _unpaced() -> None:
    return None
