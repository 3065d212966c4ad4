"""Which digest is due and which articles it holds: the policy, apart from sending it.

A digest is keyed by (schedule, due time), so running a due time again finds the
same digest. Without a due time, the latest open digest of the schedule is
finished if anyone is still owed it, and otherwise a new one opens at this
minute. A new digest holds the published articles no earlier digest of its
schedule held; the very first reaches back one period, and later ones never
reach further back than the first did, or the archive the first left out would
flood the second.

The store is reached through `History`, the few questions this policy asks it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from publisher.digest.select import choose_articles
from publisher.errors import ContentError, Problem
from publisher.models import (
    Article,
    Digest,
    LoadedContent,
    LocalGroup,
    Schedule,
    make_digest_id,
)
from publisher.schedule.times import previous_due

DEFAULT_SCHEDULE = "digest"
Warn = Callable[[Problem], None]


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """What goes into a schedule's digests and who receives them."""

    name: str
    tags: tuple[str, ...] = ()  # articles with any of these tags; () = every article
    min_items: int = 1  # fewer new articles than this: no digest yet
    max_items: int = 30
    period: timedelta = timedelta(days=7)  # how far back a schedule's first digest reaches
    audience: tuple[str, ...] = ()  # subscribers with any of these tags; () = everyone
    # readers may choose this digest as their cadence: every choosable schedule's name
    # (this one's included); () for a digest that goes to everyone in its audience
    cadences: tuple[str, ...] = ()
    lookback: timedelta = timedelta(days=7)  # how far back a reader's own articles may reach
    group: LocalGroup | None = None  # a local schedule's run for one group of readers

    @property
    def cadence(self) -> str | None:
        """The schedule readers choose (or a local one): each reader gets their own articles."""
        family = self.group.family if self.group is not None else self.name
        return family if family in self.cadences or self.group is not None else None


def plan_of(schedule: Schedule, due_at: datetime, defaults: DigestPlan,
            cadences: Sequence[str] = ()) -> DigestPlan:
    """A digest schedule's plan; its first digest reaches back one interval of the schedule.

    `cadences` names the schedules readers may choose; they matter only if this is one.
    """
    previous = previous_due(schedule, due_at)
    period = due_at - previous if previous is not None else defaults.period
    return replace(defaults, name=schedule.name, tags=schedule.tags, audience=schedule.tags,
                   min_items=schedule.min_items or defaults.min_items,
                   max_items=schedule.max_items or defaults.max_items, period=period,
                   cadences=tuple(cadences) if schedule.choosable else (),
                   lookback=max(period, defaults.period), group=schedule.group)


class Record(Protocol):
    @property
    def digest(self) -> Digest: ...

    @property
    def completed_at(self) -> datetime | None: ...


class History(Protocol):
    """What the policy asks the store; `publisher.store.Store` answers."""

    def latest_open_digest(self, schedule: str) -> Digest | None: ...

    def count_recipients(self, digest_id: str, *, now: datetime) -> int: ...

    def find_digest(self, schedule: str, due_at: datetime) -> Digest | None: ...

    def list_digests(self, schedule: str | None = None) -> Sequence[Record]: ...

    def article_ids_sent_by(self, schedule: str) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class Target:
    """The due time to send, the digest already recorded for it (if any), and if it is done."""

    due_at: datetime
    recorded: Digest | None = None
    complete: bool = False


def find_target(history: History, plan: DigestPlan, due_at: datetime | None, now: datetime
                ) -> Target:
    if due_at is None:
        open_digest = history.latest_open_digest(plan.name)
        if open_digest is not None and history.count_recipients(open_digest.id, now=now):
            return Target(open_digest.due_at, open_digest)
        due_at = now.replace(second=0, microsecond=0)
    found = history.find_digest(plan.name, due_at)
    if found is None:
        return Target(due_at)
    records = [r for r in history.list_digests(plan.name) if r.digest.id == found.id]
    return Target(due_at, found, bool(records and records[0].completed_at is not None))


def owed_earlier(history: History, plan: DigestPlan, due_at: datetime, now: datetime
                 ) -> Digest | None:
    """An earlier digest of the schedule still owed to someone (a stopped run, a server down)."""
    earlier = history.latest_open_digest(plan.name)
    if earlier is None or earlier.due_at >= due_at:
        return None
    return earlier if history.count_recipients(earlier.id, now=now) > 0 else None


def new_digest(history: History, plan: DigestPlan, due_at: datetime, now: datetime,
               published: Sequence[Article]) -> tuple[Digest, list[Article]] | None:
    """A provisional digest of the new articles (not recorded); None below `min_items`."""
    chosen = choose_articles(published, history.article_ids_sent_by(plan.name),
                             since=since(history, plan, due_at), tags=plan.tags,
                             max_items=plan.max_items)
    if len(chosen) < plan.min_items:
        return None
    digest = Digest(make_digest_id(plan.name, due_at), plan.name, due_at, now,
                    tuple(a.id for a in chosen))
    return digest, chosen


def pool_of(plan: DigestPlan, due_at: datetime, published: Sequence[Article]) -> list[str]:
    """Every article a chosen-cadence digest could hold for someone: its schedule's
    articles dated within `lookback`, newest first."""
    if plan.cadence is None:
        return []
    chosen = choose_articles(published, set(), since=due_at - plan.lookback, tags=plan.tags,
                             max_items=len(published))
    return [a.id for a in chosen]


def since(history: History, plan: DigestPlan, due_at: datetime) -> datetime:
    """The oldest article date a digest of `plan` may include (see the module's docstring)."""
    past = history.list_digests(plan.name)  # newest first
    first_due = past[-1].digest.due_at if past else due_at
    return first_due - plan.period


def articles_of(digest: Digest, content: LoadedContent, warn: Warn | None) -> list[Article]:
    """A recorded digest's articles, in its order; one since deleted is left out, with a warning."""
    by_id = {a.id: a for a in content.articles}
    missing = [i for i in digest.article_ids if i not in by_id]
    if missing and len(missing) == len(digest.article_ids):
        raise ContentError([Problem(f"none of the articles of digest {digest.id} is in the "
                                    "content folder any more", hint="restore them to finish "
                                    "sending this digest")])
    for article_id in missing:
        if warn is not None:
            warn(Problem(f"article {article_id!r} of digest {digest.id} is no longer in the "
                         "content folder; the rest of the digest goes out without it",
                         warning=True))
    return [by_id[i] for i in digest.article_ids if i in by_id]
