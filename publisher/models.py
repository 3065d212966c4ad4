"""The data model that flows from the loaders through the renderers to the transports.

Frozen dataclasses only, no I/O: every stage takes values and returns values, so
that a stage can be tested with a literal and cannot change what another sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from publisher.errors import Problem

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware. Passed in wherever time matters."""


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    email: str | None = None
    url: str | None = None

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:  # see Article.__reduce__
        return Author, (self.name, self.email, self.url)


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag as the author wrote it, and the form used in URLs and folder names."""

    name: str
    slug: str

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:  # see Article.__reduce__
        return Tag, (self.name, self.slug)


@dataclass(frozen=True, slots=True)
class Site:
    """What every renderer needs to know about the publication itself."""

    title: str
    description: str
    base_url: str  # always ends with "/"
    language: str
    author: Author
    timezone: str
    postal_address: str = ""
    hubs: tuple[str, ...] = ()

    def url_for(self, path: str) -> str:
        """The absolute URL of a path inside the published site."""
        return self.base_url + path.lstrip("/")


@dataclass(frozen=True, slots=True)
class Article:
    """One published (or publishable) article, fully resolved.

    `content_html` and `summary_html` are sanitized and every link in them is
    absolute, so any renderer can put them in a feed, a page or an email as is.
    """

    source: str  # path relative to the site root, with "/" separators
    id: str
    title: str
    slug: str
    path: str  # the article's folder inside the site, e.g. "2026/11/ferry-fares/"
    url: str  # absolute permalink
    date: datetime
    updated: datetime
    summary_html: str
    summary_text: str
    content_html: str
    tags: tuple[Tag, ...] = ()
    author: Author | None = None
    image: str | None = None
    draft: bool = False
    fingerprint: str = ""  # changes whenever anything that renders from this article does
    id_pending: bool = False  # the id was derived and is not yet written into the file

    def is_published(self, now: datetime) -> bool:
        return not self.draft and self.date <= now

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        """Pickled as its values in order: a rebuild of a large site unpickles every cached
        article, and the dataclass default (a dict of fields, set one by one) was half of it."""
        return Article, tuple(getattr(self, name) for name in _ARTICLE_FIELDS)


_ARTICLE_FIELDS = tuple(f.name for f in fields(Article))


@dataclass(frozen=True, slots=True)
class PendingId:
    """An article that has no `id` in its front matter yet: the build writes this one in."""

    source: str
    id: str


@dataclass(frozen=True, slots=True)
class LoadedContent:
    """Everything read from `content/`, before the clock decides what is visible."""

    articles: tuple[Article, ...]
    pending_ids: tuple[PendingId, ...] = ()
    warnings: tuple[Problem, ...] = ()

    def published(self, now: datetime) -> tuple[Article, ...]:
        """Articles a reader may see at `now`, newest first."""
        return tuple(a for a in self.articles if a.is_published(now))


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file of the published site: where it goes and its exact bytes."""

    path: str  # relative to the output folder, "/" separators
    data: bytes


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did, for the command line to summarise."""

    articles: int
    drafts: int
    scheduled: int
    written: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    ids_assigned: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()
    changed_feeds: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A person on the list. `email` is normalised; `status` decides who receives mail."""

    id: int
    email: str
    name: str = ""
    tags: tuple[str, ...] = ()
    # "pending" (awaiting confirmation), "active", "unsubscribed", "bounced", "complained"
    status: str = "active"
    created_at: datetime | None = None
    updated_at: datetime | None = None  # when the status last changed
    status_reason: str | None = None  # why: a bounce's reply, "confirmed through the web"...
    cadence: str | None = None  # the digest schedule they chose; None = every digest
    timezone: str | None = None  # an IANA name; None = the site's
    hour: int | None = None  # the local hour a local schedule reaches them; None = its own


DIGEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
"""What a digest id may be: it names the web copy's files, and goes into URLs and Message-IDs."""


def make_digest_id(schedule: str, due_at: datetime, attempt: int = 1) -> str:
    """A short id such as `weekly-20261125-0700` (the due time in UTC); `attempt` > 1 adds
    `-2`, `-3`… for the rare schedule whose slug another schedule shares."""
    slug = re.sub(r"[^a-z0-9]+", "-", schedule.lower()).strip("-")[:40] or "digest"
    due = due_at.astimezone(UTC)
    stamp = due.strftime("%Y%m%d-%H%M%S" if due.second else "%Y%m%d-%H%M")
    return f"{slug}-{stamp}" + (f"-{attempt}" if attempt > 1 else "")


def is_digest_id(text: str) -> bool:
    return DIGEST_ID.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Digest:
    """One issue of a digest: which schedule, for which due time, with which articles.

    Keyed by (schedule, due_at): running the same due time again finds the same digest.
    `id` is short and URL-safe; it names the web copy and goes into Message-IDs.
    """

    id: str
    schedule: str
    due_at: datetime
    created_at: datetime
    article_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """A digest rendered once: subject, HTML (CSS inlined) and text, with recipient placeholders.

    Each recipient's message is made from these by substitution, never by rendering again.
    """

    digest_id: str
    subject: str
    html: str
    text: str
    web_html: str  # the "view in browser" copy, with no personal links


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a send did, for the one-line summary."""

    digest_id: str
    sent: int = 0
    skipped: int = 0  # unsubscribed or bounced when their turn came
    deferred: int = 0  # soft failures, to be retried
    uncertain: int = 0  # no answer after the data: may have arrived, not resent at once
    gave_up: int = 0  # soft failures until `max_attempts`: the reader stays on the list
    bounced: int = 0  # hard bounces: the address is suppressed
    stopped: str | None = None  # why the run stopped early, if it did


@dataclass(frozen=True, slots=True)
class NoReaders:
    """A digest that was not made because nobody would receive it; its articles wait."""

    digest_id: str
    articles: int
    audience: tuple[str, ...] = ()  # the topics it was for; () = everyone


@dataclass(frozen=True, slots=True)
class LocalGroup:
    """The readers a local schedule's run is for: one zone (and, if `default`, readers
    without one) and one chosen hour (None: readers who chose none)."""

    family: str  # the schedule file's name
    zone: str
    hour: int | None = None
    default: bool = False


@dataclass(frozen=True, slots=True)
class Schedule:
    """One timetable from `schedules/`: which job to run, and when.

    Exactly one of `cron` (a crontab line read in `timezone`'s wall-clock time)
    and `every` (an interval in absolute time) is set. `tags`, `min_items` and
    `max_items` belong to digests and are empty / None for a build.
    """

    name: str
    action: str  # "build" (feeds and pages), "digest" (build, then send), "bounces" (read mail)
    timezone: str  # an IANA name
    cron: str | None = None
    every: timedelta | None = None
    catch_up: timedelta = timedelta(hours=6)  # how late a missed due time may still run
    tags: tuple[str, ...] = ()
    min_items: int | None = None
    max_items: int | None = None
    enabled: bool = True
    deploy: bool = False  # upload the output to `[deploy] target` after each build
    source: str = ""  # the file it was read from, for messages
    mailbox: str | None = None  # a bounces schedule's Maildir folder or imaps:// URL
    password_env: str | None = None  # for an IMAP mailbox: the variable with its password
    choosable: bool = False  # a digest readers may pick as their cadence
    label: str = ""  # how the preference page names it (default: the name)
    local: bool = False  # a digest sent at its cron time in each reader's own zone
    group: LocalGroup | None = None  # a local schedule as run for one group of readers
