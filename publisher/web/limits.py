"""How often the subscribe form may be used: per client, and per recipient.

Kept behind `SubscribeLimits`: the service counts in the store (`StoreLimits`),
so that every worker process and every replica behind a load balancer enforce
one limit; `MemoryLimits` counts in one process, for tests and tools.

- `client(key)`: may this client (an IP address, IPv6 counted per /64) send one
  more request now? None, or the seconds until it may.
- `recipient(address)`: may a message go to this address now? At most one per
  `resend_after`, however many clients ask, so the form cannot be turned on one
  inbox. A refusal changes nothing the requester sees (the page is the same), so
  nobody learns from it whether the address is on the list. `forget(address)`
  gives the turn back when the message could not be sent after all.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from publisher.models import Clock
from publisher.store.limits import SharedLimits

FORGET_EVERY = 1000  # requests between sweeps of idle entries, so memory stays bounded


class SubscribeLimits(Protocol):
    def client(self, key: str) -> int | None: ...

    def recipient(self, address: str) -> bool: ...

    def forget(self, address: str) -> None: ...


class MemoryLimits:
    """`SubscribeLimits` in this process's memory (each worker process has its own)."""

    def __init__(self, per_client: int, window: timedelta, resend_after: timedelta,
                 clock: Clock) -> None:
        self.per_client, self.window = per_client, window.total_seconds()
        self.resend_after = resend_after.total_seconds()
        self.clock = clock
        self._clients: dict[str, deque[float]] = {}
        self._mailed: dict[str, float] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def client(self, key: str) -> int | None:
        """Count one request of `key`; None if allowed, else the seconds to wait."""
        now = self.clock().timestamp()
        with self._lock:
            self._sweep(now)
            times = self._clients.setdefault(client_key(key), deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.per_client:
                return max(1, math.ceil(times[0] + self.window - now))
            times.append(now)
            return None

    def recipient(self, address: str) -> bool:
        """True (and the turn is taken) if no message went to `address` lately."""
        now = self.clock().timestamp()
        with self._lock:
            last = self._mailed.get(address)
            if last is not None and now - last < self.resend_after:
                return False
            self._mailed[address] = now
            return True

    def forget(self, address: str) -> None:
        with self._lock:
            self._mailed.pop(address, None)

    def _sweep(self, now: float) -> None:
        self._calls += 1
        if self._calls % FORGET_EVERY:
            return
        for key in [k for k, t in self._clients.items() if not t or t[-1] <= now - self.window]:
            del self._clients[key]
        for address in [a for a, t in self._mailed.items() if now - t >= self.resend_after]:
            del self._mailed[address]


class StoreLimits:
    """`SubscribeLimits` counted in the store: one limit for every worker and replica.

    The sweep of old hits uses the longer of the two windows, so that neither
    count loses hits it still needs.
    """

    def __init__(self, store: Callable[[], SharedLimits], per_client: int, window: timedelta,
                 resend_after: timedelta, clock: Clock) -> None:
        self.store, self.per_client, self.window = store, per_client, window
        self.resend_after, self.clock = resend_after, clock

    def client(self, key: str) -> int | None:
        now = self.clock()
        free_at = self.store().take_turn("client", client_key(key), limit=self.per_client,
                                         window=self.window, now=now)
        return None if free_at is None else max(1, math.ceil((free_at - now).total_seconds()))

    def recipient(self, address: str) -> bool:
        return self.store().take_turn("recipient", address.lower(), limit=1,
                                      window=self.resend_after, now=self.clock()) is None

    def forget(self, address: str) -> None:
        self.store().give_back("recipient", address.lower())


def client_key(host: str) -> str:
    """What a client is counted by: its address, or its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def client_address(peer: str, forwarded_for: str | None, proxies: Networks) -> str:
    """The client's address: the peer's, unless the peer is one of `proxies` (the
    configured reverse proxies; none by default), when it is the last address in
    `X-Forwarded-For` that is not itself a proxy. Anyone can write that header, so
    it is read only from a proxy, and only from the right, where the proxy wrote."""
    if not proxies or not forwarded_for or not _is_proxy(peer, proxies):
        return peer
    for candidate in reversed([part.strip() for part in forwarded_for.split(",")]):
        if not _is_proxy(candidate, proxies):
            return candidate
    return peer


def _is_proxy(host: str, proxies: Networks) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)
