"""Tell WebSub hubs that a feed changed, so real-time readers fetch it at once.

The publish ping is the one PubSubHubbub 0.4 defines and hubs still accept: a
form-encoded POST of `hub.mode=publish` and `hub.url=<feed URL>`, answered with
a 2xx. A hub that is down (no connection, a timeout, a 5xx or 429) is tried
again after a growing pause, then given up on; a hub that refuses (another 4xx)
is not asked twice. Pings run side by side with short timeouts, so one slow hub
holds up a build by a bounded few seconds and never the other hubs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from publisher.text import plural

log = logging.getLogger("publisher.websub")

USER_AGENT = "publisher (WebSub publish ping)"


@dataclass(frozen=True, slots=True)
class Ping:
    """The fate of one feed URL at one hub."""

    hub: str
    url: str
    ok: bool
    attempts: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class PingReport:
    pings: tuple[Ping, ...]

    @property
    def failed(self) -> list[Ping]:
        return [p for p in self.pings if not p.ok]

    def summary(self) -> str:
        """'notified 2 hubs of 3 changed feeds', plus each hub that could not be told."""
        hubs = sorted({p.hub for p in self.pings})
        feeds = len({p.url for p in self.pings})
        bad = sorted({p.hub for p in self.failed})
        told = f"{len(hubs) - len(bad)} of {len(hubs)}" if bad else str(len(hubs))
        hub_word = "hub" if len(hubs) == 1 else "hubs"
        text = f"notified {told} {hub_word} of {plural(feeds, 'changed feed')}"
        for hub in bad:
            first = next(p for p in self.failed if p.hub == hub)
            text += f"; {hub} gave up after {plural(first.attempts, 'attempt')}: {first.error}"
        return text


class HubNotifier:
    """Sends publish pings; `sleep` is passed in so tests see the back-off without waiting."""

    def __init__(self, *, attempts: int = 3, backoff: float = 1.0, timeout: float = 5.0,
                 workers: int = 4, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.workers = workers
        self.sleep = sleep
        self.transport = transport

    def notify(self, hubs: Sequence[str], urls: Sequence[str]) -> PingReport:
        """Ping every hub about every URL; returns when each ping succeeded or gave up."""
        pairs = [(hub, url) for hub in hubs for url in urls]
        if not pairs:
            return PingReport(())
        with httpx.Client(timeout=self.timeout, transport=self.transport,
                          headers={"User-Agent": USER_AGENT}) as client, \
                ThreadPoolExecutor(max_workers=min(self.workers, len(pairs))) as pool:
            pings = list(pool.map(lambda pair: self._ping(client, *pair), pairs))
        for ping in pings:
            if not ping.ok:
                log.warning("WebSub hub %s was not told of %s: %s", ping.hub, ping.url,
                            ping.error)
        return PingReport(tuple(pings))

    def _ping(self, client: httpx.Client, hub: str, url: str) -> Ping:
        error = ""
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                self.sleep(self.backoff * 2 ** (attempt - 2))
            try:
                response = client.post(hub, data={"hub.mode": "publish", "hub.url": url})
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.is_success:
                return Ping(hub, url, True, attempt)
            error = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
            if response.status_code < 500 and response.status_code != 429:
                return Ping(hub, url, False, attempt, error)  # refused: asking again won't help
        return Ping(hub, url, False, self.attempts, error)
