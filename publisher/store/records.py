"""The values the store hands out, and the small conversions between rows and values.

Kept beside `store.py` so that the class there holds only queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row

from publisher.models import Digest, Subscriber
from publisher.store.schema import SUBSCRIBER_STATUSES
from publisher.text import slugify


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    """An address to add, normalised, with what we know about its owner."""

    email: str
    name: str = ""
    tags: tuple[str, ...] = ()
    status: str = "active"
    created_at: datetime | None = None  # None: now (a file being imported may say otherwise)
    updated_at: datetime | None = None  # when the status last changed
    reason: str | None = None  # why the status is what it is
    cadence: str | None = None  # the reader's choices, as on the preference page
    timezone: str | None = None
    hour: int | None = None


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """A digest with what the archive shows beside it."""

    digest: Digest
    subject: str
    completed_at: datetime | None
    audience: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the ledger."""

    status: str
    attempts: int
    next_attempt_at: datetime | None
    reply: str
    updated_at: datetime
    uncertain: int = 0  # attempts whose outcome nobody knows
    article_set: int | None = None  # a chosen-cadence digest: the articles this row holds


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What the scheduler last did for one schedule."""

    name: str
    last_due_at: datetime | None
    outcome: str
    message: str
    ran_at: datetime


def address_key(email: str) -> str:
    """The form two addresses are compared in: `Ann@Example.org` is `ann@example.org`."""
    return email.strip().lower()


def chunks(items: Iterable[NewSubscriber], size: int) -> Iterator[list[NewSubscriber]]:
    chunk: list[NewSubscriber] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def subscriber_row(entry: NewSubscriber, now: datetime) -> dict[str, Any]:
    check_value(entry.status, SUBSCRIBER_STATUSES, "subscriber status")
    created = entry.created_at or now
    return {"email": entry.email.strip(), "email_key": address_key(entry.email),
            "name": entry.name, "tags": tags_text(entry.tags), "status": entry.status,
            "status_reason": entry.reason, "created_at": created,
            "updated_at": entry.updated_at or created, "cadence": entry.cadence,
            "timezone": entry.timezone, "hour": entry.hour}


def address_hash(email: str) -> str:
    """The one-way form a removed address is remembered in: SHA-256 of its `address_key`.

    Unsalted on purpose: the same address gives the same hash in every store, so a
    suppression list can move between stores (and to other mailing tools) in a CSV.
    """
    return hashlib.sha256(address_key(email).encode("utf-8")).hexdigest()


def tags_text(tags: Sequence[str]) -> str:
    """Tags as stored: as slugs, like the site's topic pages and the subscribe form's
    topics ("City Hall" is `city-hall`), so matching is alike on every database."""
    if any("," in tag for tag in tags):
        raise ValueError(f"a tag cannot contain a comma: {list(tags)!r}")
    slugs = dict.fromkeys(slugify(tag) for tag in tags)
    return ",".join(slug for slug in slugs if slug)


def tags_of(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


def check_value(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)}")


def to_subscriber(row: Row[Any]) -> Subscriber:
    return Subscriber(row.id, row.email, row.name, tags_of(row.tags), row.status,
                      row.created_at, row.updated_at, row.status_reason, row.cadence,
                      row.timezone, row.hour)


def to_digest_record(row: Row[Any], article_ids: list[str]) -> DigestRecord:
    digest = Digest(row.id, row.schedule, row.due_at, row.created_at, tuple(article_ids))
    return DigestRecord(digest, row.subject, row.completed_at, tags_of(row.audience))
