"""Who must never be made active again without being asked: the suppression rules.

An address that unsubscribed, hard-bounced or complained keeps that status;
one that was removed keeps a one-way hash on the suppression list. `add` and
`import` leave all of them alone. The operator may bring back a bounced,
complained or removed address with `--resubscribe` (they know it works again);
an unsubscribed person comes back only by asking, through the subscribe form
and its confirmation link (a new double opt-in), never by an operator's word.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from publisher.errors import SubscriberError
from publisher.models import Subscriber
from publisher.store.database import Store
from publisher.store.schema import SUPPRESSED
from publisher.subscribers.addresses import normalise_address, normalise_name, parse_tags

ONLY_THEMSELVES = ("only they can come back, through the subscribe form and its "
                   "confirmation link (a new double opt-in)")


@dataclass(frozen=True, slots=True)
class Added:
    """What `add` did: "added", "present" (nothing changed) or "resubscribed"."""

    subscriber: Subscriber
    outcome: str


def refusal(email: str, reason: str, since: datetime | None, *, resubscribe: bool) -> str | None:
    """Why `email` (suppressed for `reason`) may not be added now, or None if it may."""
    when = f" on {since.date().isoformat()}" if since else ""
    if reason == "unsubscribed":
        return f"{email} unsubscribed{when}; {ONLY_THEMSELVES}"
    if resubscribe:
        return None
    said = {"bounced": "bounced", "complained": "complained of spam",
            "removed": "was removed from the list"}.get(reason, reason)
    return (f"{email} {said}{when} and stays off the list; add --resubscribe if you know "
            "the address works and its owner wants the digest")


def add(store: Store, email: str, *, name: str = "", tags: Iterable[str] = (),
        now: datetime, resubscribe: bool = False) -> Added:
    """Add one address by hand, keeping the suppression rules; `SubscriberError` if refused."""
    email = normalise_address(email)
    found = store.get_subscriber(email)
    if found is not None:
        if found.status not in SUPPRESSED or not resubscribe:
            return Added(found, "present")
        problem = refusal(found.email, found.status, found.updated_at, resubscribe=True)
        if problem:
            raise SubscriberError(problem)
        store.set_subscriber_status(found.id, "active", now=now,
                                    reason="made active again with --resubscribe")
        return Added(store.get_subscriber(email) or found, "resubscribed")
    suppressed = store.suppression_of(email)
    if suppressed is not None:
        problem = refusal(email, suppressed[0], suppressed[1], resubscribe=resubscribe)
        if problem:
            raise SubscriberError(problem)
        store.forget_suppression(email)
    subscriber, created = store.add_subscriber(email, normalise_name(name), parse_tags(tags),
                                               now=now)
    return Added(subscriber, "resubscribed" if suppressed else
                 ("added" if created else "present"))


def unsubscribe(store: Store, email: str, *, now: datetime) -> Subscriber:
    """A request to leave, made by hand (a letter, a phone call): the address stays listed
    as unsubscribed, so no import brings it back."""
    email = normalise_address(email)
    found = store.get_subscriber(email)
    if found is None:
        raise SubscriberError(f"{email} is not on the list",
                              hint="`publisher subscribers list` shows who is")
    if found.status != "unsubscribed":
        store.set_subscriber_status(found.id, "unsubscribed", now=now,
                                    reason="unsubscribed by hand")
    return store.get_subscriber(email) or found
