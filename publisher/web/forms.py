"""What subscribe, confirm and unsubscribe do to the list, apart from HTTP.

Double opt-in, with these rules:

- A subscribe request for a valid address always sends exactly one message and
  gets the same answer, so the answer tells nothing about the list. A new,
  pending, unsubscribed, bounced or complained address becomes (or stays) pending and is
  sent a confirmation link; an active one is told it is already subscribed.
  Topics are kept when an address is first added.
- Confirming moves a pending address to active, and nothing else: a link used
  twice says "already confirmed"; a link used after its address unsubscribed
  finds it unsubscribed and leaves it so. Only a new request through the form
  (which the mailbox's owner then confirms) brings an address back.
- Unsubscribing works from any state and is idempotent; the store is the single
  source of truth, and the dispatcher checks it before every message.

Looking at a confirm or unsubscribe link (GET) changes nothing: mail scanners
open links. Only POST does.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from publisher.delivery.transport import SendFailure, Transport
from publisher.errors import DeliveryError, PublisherError, SubscriberError
from publisher.mail.confirmation import ConfirmationMail
from publisher.models import Clock, Subscriber
from publisher.store.database import Store
from publisher.store.schema import SUPPRESSED
from publisher.subscribers.addresses import normalise_address
from publisher.subscribers.tokens import (
    confirm_token,
    read_confirm_token,
    read_unsubscribe_token,
    unsubscribe_token,
)
from publisher.text import slugify

log = logging.getLogger("publisher.web")

MAX_TOPICS = 100
MAX_ADDRESS_LENGTH = 320
TransportFactory = Callable[[], Transport]


class MailUnavailable(PublisherError):
    """The confirmation message could not be handed to the mail system."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a confirm or unsubscribe link found or did, for its page."""

    state: str  # confirm: ask, confirmed, already, left; unsubscribe: ask, done
    email: str
    token: str


class Subscriptions:
    """Subscribe, confirm and unsubscribe against one store; safe to call from threads."""

    def __init__(self, store: Callable[[], Store], secret: str, clock: Clock,
                 mail: ConfirmationMail, transport_factory: TransportFactory, *,
                 confirm_ttl: timedelta, service_url: str, topics_folder: Path) -> None:
        self.store, self.secret, self.clock = store, secret, clock
        self.mail, self.transport_factory = mail, transport_factory
        self.confirm_ttl = confirm_ttl
        self.service_url = service_url
        self.topics_folder = topics_folder
        self._lock = threading.Lock()  # a read and the write it decides go together

    def subscribe(self, address: str, topics: Iterable[str]) -> None:
        """Record the request and send its one message; `SubscriberError` if the address is
        not one, `MailUnavailable` if the message cannot be sent."""
        if len(address) > MAX_ADDRESS_LENGTH:
            raise SubscriberError("this address is too long to be an email address",
                                  hint="write it as name@example.org")
        email = normalise_address(address)
        now = self.clock()
        with self._lock:
            subscriber, _ = self.store().add_subscriber(email, "", self.known_topics(topics),
                                                        status="pending", now=now)
            if subscriber.status in SUPPRESSED:
                self.store().set_subscriber_status(subscriber.id, "pending", now=now,
                                                   reason="asked again through the web form")
        if subscriber.status == "active":
            token = unsubscribe_token(self.secret, subscriber)
            message = self.mail.build(subscriber.email, confirm_url=None, now=now,
                                      unsubscribe_url=self.link("unsubscribe", token))
        else:
            token = confirm_token(self.secret, subscriber, now=now)
            message = self.mail.build(subscriber.email, confirm_url=self.link("confirm", token),
                                      unsubscribe_url=None, now=now)
        self.send(subscriber.email, message)

    def known_topics(self, topics: Iterable[str]) -> tuple[str, ...]:
        """The topics that are tags of the published site (others are ignored)."""
        chosen: list[str] = []
        for topic in topics:
            if (len(chosen) < MAX_TOPICS and topic and slugify(topic) == topic
                    and (self.topics_folder / topic).is_dir()):
                chosen.append(topic)
        return tuple(dict.fromkeys(chosen))

    def link(self, action: str, token: str) -> str:
        return f"{self.service_url}{action}?token={token}"

    def send(self, email: str, message: bytes) -> None:
        try:
            with self.transport_factory() as transport:
                transport.send(self.mail.sender, email, message)
        except (DeliveryError, SendFailure) as exc:
            log.warning("could not send the confirmation message: %s", exc)
            raise MailUnavailable("the confirmation message could not be sent just now",
                                  hint="please try again in a few minutes") from None

    def look_at_confirm(self, token: str) -> Outcome:
        """What a confirm link would do; changes nothing."""
        subscriber = self._confirming(token)
        state = {"pending": "ask", "active": "already"}.get(subscriber.status, "left")
        return Outcome(state, subscriber.email, token)

    def confirm(self, token: str) -> Outcome:
        subscriber = self._confirming(token)
        with self._lock:
            current = self.store().get_subscriber_by_id(subscriber.id) or subscriber
            if current.status == "pending":
                self.store().set_subscriber_status(current.id, "active", now=self.clock(),
                                                   reason="confirmed through the web")
                return Outcome("confirmed", current.email, token)
        state = "already" if current.status == "active" else "left"
        return Outcome(state, current.email, token)

    def look_at_unsubscribe(self, token: str) -> Outcome:
        """What an unsubscribe link would do; changes nothing."""
        subscriber = self._leaving(token)
        state = "done" if subscriber.status == "unsubscribed" else "ask"
        return Outcome(state, subscriber.email, token)

    def unsubscribe(self, token: str) -> Outcome:
        subscriber = self._leaving(token)
        with self._lock:
            current = self.store().get_subscriber_by_id(subscriber.id) or subscriber
            if current.status != "unsubscribed":
                self.store().set_subscriber_status(current.id, "unsubscribed", now=self.clock(),
                                                   reason="unsubscribed through the web")
        return Outcome("done", current.email, token)

    def _confirming(self, token: str) -> Subscriber:
        return read_confirm_token(self.secret, token, self.store().get_subscriber_by_id,
                                  max_age=self.confirm_ttl, now=self.clock())

    def _leaving(self, token: str) -> Subscriber:
        return read_unsubscribe_token(self.secret, token, self.store().get_subscriber_by_id)


class RateLimiter:
    """At most `limit` requests per client in any `window`: a sliding window, in memory.

    IPv6 clients are counted per /64, the block one household or server usually has.
    """

    def __init__(self, limit: int, window: timedelta, clock: Clock) -> None:
        self.limit, self.window, self.clock = limit, window.total_seconds(), clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def hit(self, client: str) -> int | None:
        """Count one request; None if allowed, else the seconds to wait before the next."""
        now = self.clock().timestamp()
        key = client_key(client)
        with self._lock:
            self._calls += 1
            if self._calls % 1000 == 0:
                self._forget_idle(now)
            times = self._seen.setdefault(key, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return max(1, math.ceil(times[0] + self.window - now))
            times.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        """Drop clients whose requests have all left the window, so memory stays bounded."""
        idle = [key for key, times in self._seen.items()
                if not times or times[-1] <= now - self.window]
        for key in idle:
            del self._seen[key]


def client_key(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
