"""What subscribe, confirm and unsubscribe do to the list, apart from HTTP.

Double opt-in, with these rules:

- A subscribe request for a valid address always sends exactly one message and
  gets the same answer, so the answer tells nothing about the list. A new,
  pending, unsubscribed, bounced or complained address becomes (or stays) pending and is
  sent a confirmation link; an active one is told it is already subscribed.
  Topics, cadence, zone and hour are kept when an address is first added (the
  preference page changes them later).
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

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
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
from publisher.subscribers.preferences import (
    Cadence,
    Choices,
    Preferences,
    check_cadence,
    check_hour,
    check_zone,
)
from publisher.subscribers.tokens import (
    confirm_token,
    preferences_token,
    read_confirm_token,
    read_unsubscribe_token,
    unsubscribe_token,
)
from publisher.text import slugify
from publisher.web.limits import SubscribeLimits
from publisher.web.mailer import SharedMailer
from publisher.web.preview import LOCAL_ROOT

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
                 mail: ConfirmationMail, mailer: SharedMailer, limits: SubscribeLimits, *,
                 confirm_ttl: timedelta, service_url: str, topics_folder: Path,
                 cadences: Sequence[Cadence] = ()) -> None:
        self.store, self.secret, self.clock = store, secret, clock
        self.mail, self.mailer, self.limits = mail, mailer, limits
        self.confirm_ttl = confirm_ttl
        self.service_url = service_url
        self.topics_folder = topics_folder
        self.choices = Choices((), tuple(cadences))  # topics: `known_topics` keeps the known
        self._lock = threading.Lock()  # a read and the write it decides go together

    def subscribe(self, address: str, topics: Iterable[str], cadence: str = "",
                  timezone: str = "", hour: str = "") -> None:
        """Record the request and send its one message, unless one went to the address
        lately; `SubscriberError` if the address (or a cadence, zone or hour) is not one,
        `MailUnavailable` if the message cannot be sent."""
        if len(address) > MAX_ADDRESS_LENGTH:
            raise SubscriberError("this address is too long to be an email address",
                                  hint="write it as name@example.org")
        email = normalise_address(address)
        chosen = Preferences(self.known_topics(topics), check_cadence(self.choices, cadence),
                             check_zone(timezone), check_hour(hour))
        now = self.clock()
        with self._lock:
            subscriber, created = self.store().add_subscriber(email, "", chosen.topics,
                                                              status="pending", now=now)
            if created and (chosen.cadence or chosen.timezone or chosen.hour is not None):
                self.store().set_preferences(subscriber.id, tags=chosen.topics,
                                             cadence=chosen.cadence, timezone=chosen.timezone,
                                             hour=chosen.hour)
            if subscriber.status in SUPPRESSED:
                self.store().set_subscriber_status(subscriber.id, "pending", now=now,
                                                   reason="asked again through the web form")
        if not self.limits.recipient(subscriber.email):
            log.info("a subscribe request for an address mailed lately: no message sent")
            return
        choices = self.link("preferences", preferences_token(self.secret, subscriber, issued=now))
        if subscriber.status == "active":
            token = unsubscribe_token(self.secret, subscriber)
            message = self.mail.build(subscriber.email, confirm_url=None, now=now,
                                      unsubscribe_url=self.link("unsubscribe", token),
                                      preferences_url=choices)
        else:
            token = confirm_token(self.secret, subscriber, now=now)
            message = self.mail.build(subscriber.email, confirm_url=self.link("confirm", token),
                                      unsubscribe_url=None, now=now, preferences_url=choices)
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
        """The link a message carries; in a local preview, to the preview's address."""
        return f"{LOCAL_ROOT.get() or self.service_url}{action}?token={token}"

    def send(self, email: str, message: bytes) -> None:
        try:
            self.mailer.send(self.mail.sender, email, message)
        except (DeliveryError, SendFailure) as exc:
            self.limits.forget(email)  # nothing went out: the next request may try again
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
