"""How fast a run sends: `[delivery] rate` as a token bucket, and backing off when asked.

`Governor` is what the dispatcher goes through before each message: it keeps
at most `connections` messages in flight, waits out a pause, and takes a token
from the bucket. A throttling reply (`throttled()`) slows the whole run down:
a pause for everyone (`throttle_pause`, doubling while the server keeps asking,
up to ten minutes), half the messages in flight, and half the rate (half the
rate measured so far when none is set). Every `RECOVER_AFTER` accepted
messages without another throttle it steps back up, to the configured pace.

The bucket holds at most a tenth of a second's worth of messages (at least
one), so a run never bursts far above the rate. A message taken with the
bucket empty leaves it in debt and sleeps until the debt is paid; a sleep that
runs long is made up for by the tokens that gather meanwhile. The clock and the sleep are passed
in, so tests can run the bucket on a fake clock without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

BURST_SECONDS = 0.1
MAX_PAUSE = 600.0  # seconds
MIN_RATE = 0.5  # messages a second: the slowest a throttled run goes
RECOVER_AFTER = 50  # accepted messages between two steps back up


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


class SharedRate:
    """`[delivery] rate` for a pool of senders: tokens from one bucket they all share.

    `take_tokens(count)` takes `count` tokens from the shared bucket and says how
    long to wait before using them; they are fetched a tenth of a second's worth at
    a time, so the bucket is asked a few times a second, not once a message.
    """

    def __init__(self, take_tokens: Callable[[int], float], rate: float, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("a rate must be positive")
        self._take_tokens, self._sleep = take_tokens, sleep
        self.batch = max(1, int(rate * BURST_SECONDS))
        self._left = 0
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:  # threads queue here: one asks the bucket, the others wait their turn
            if self._left == 0:
                wait = self._take_tokens(self.batch)
                if wait > 0:
                    self._sleep(wait)
                self._left = self.batch
            self._left -= 1


class Governor:
    """The pace of one run, shared by its sending threads; see the module's docstring.

    With `shared` (a pool's `SharedRate.take`), the configured rate is the pool's and
    is kept by the shared bucket; this run's own bucket then only slows it further
    when the server asks it to.
    """

    def __init__(self, rate: float, connections: int, *, pause: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 shared: Callable[[], None] | None = None) -> None:
        self._shared = shared
        self.configured = (rate, connections)
        self.rate, self.connections = rate, connections
        self._pause_base = self._pause = pause
        self.pause_until = 0.0
        self.throttles = 0
        self._monotonic, self._sleep = monotonic, sleep
        self._bucket = self._new_bucket()
        self._cond = threading.Condition()
        self._busy = 0
        self._accepted = 0
        self._since_throttle = 0
        self._started = monotonic()

    def _new_bucket(self) -> TokenBucket | None:
        if self.rate <= 0:
            return None
        return TokenBucket(self.rate, monotonic=self._monotonic, sleep=self._sleep)

    @contextmanager
    def turn(self, stopping: Callable[[], bool] = lambda: False) -> Iterator[None]:
        """Hold one of the `connections` places while a message is sent, once it may go."""
        with self._cond:
            while self._busy >= self.connections:
                self._cond.wait()
            self._busy += 1
            bucket = self._bucket
        try:
            self._wait_out_pause(stopping)
            if self._shared is not None:
                self._shared()
            if bucket is not None:
                bucket.take()
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify()

    def _wait_out_pause(self, stopping: Callable[[], bool]) -> None:
        """Sleep until the pause ends, in short steps, so that a stop request is heard."""
        while not stopping():
            left = self.pause_until - self._monotonic()
            if left <= 0:
                return
            self._sleep(min(left, 0.5))

    def throttled(self) -> None:
        """The server asked us to slow down: pause, fewer in flight, half the rate."""
        with self._cond:
            now = self._monotonic()
            self.throttles += 1
            self._since_throttle = 0
            if now < self.pause_until:
                return  # the same request, answered to another message of this pause
            self.pause_until = now + self._pause
            self._pause = min(self._pause * 2, MAX_PAUSE)
            self.connections = max(1, self.connections // 2)
            measured = self._accepted / max(now - self._started, 1e-3)
            self.rate = max(MIN_RATE, (self.rate or measured) / 2)
            self._bucket = self._new_bucket()

    def accepted(self) -> None:
        """One more message went through; every so often, step back up."""
        with self._cond:
            self._accepted += 1
            self._since_throttle += 1
            if not self.throttles or self._since_throttle < RECOVER_AFTER:
                return
            self._since_throttle = 0
            rate, connections = self.configured
            self._pause = max(self._pause_base, self._pause / 2)
            self.connections = min(connections, self.connections + 1)
            if (self.rate, self.connections) != (rate, connections):
                stepped = self.rate * 1.5
                self.rate = rate if (rate and stepped >= rate) else stepped
                if not rate and self.connections == connections and stepped > 1000:
                    self.rate = 0.0  # as fast as the server takes them, again
                self._bucket = self._new_bucket()
            self._cond.notify_all()
