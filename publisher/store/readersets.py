"""What a reader of a chosen-cadence digest was sent: article sets, and each reader's history.

A digest readers choose as their cadence holds, for each reader, the articles
of its pool that reader has not yet received. The sets are stored once per
digest and distinct set (`article_sets`), and each ledger row names its own,
so the ledger stays one row per digest and reader, and "received" is a fact
in the database: the sets of the reader's rows that were sent, or may yet be
(pending, deferred, uncertain), in any chosen-cadence digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, bindparam, func, select

from publisher.store.base import StoreBase
from publisher.store.schema import (
    UTCDateTime,
    article_sets,
    deliveries,
    digest_items,
    digests,
)

RECEIVED = ("queued", "pending", "sent", "deferred", "uncertain", "bounced", "complained")
"""A row in one of these states delivered its articles, or still may: never send them again."""


@dataclass(frozen=True, slots=True)
class Cadence:
    """How a digest's readers are chosen: its cadence, the cadences on offer, its pool."""

    name: str | None  # None: an ordinary digest, the same articles for everyone
    offered: tuple[str, ...] = ()
    pool: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Readership:
    """Who a chosen-cadence (or local) digest was for, and how many article sets it made."""

    cadence: str
    zone: str | None  # a local schedule's group: its zone and hour
    hour: int | None
    article_sets: int


@dataclass(frozen=True, slots=True)
class ReaderHistory:
    """A reader's chosen-cadence digests before this one."""

    received: frozenset[str]  # every article their messages held (or may yet hold)
    last_pool: frozenset[str] | None  # what their last message's digest could hold; None: none
    last_due: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReaderState:
    """One reader of a chosen-cadence digest, as the ledger has them before their message."""

    article_set: int | None  # the set their row of this digest was first claimed with
    history: ReaderHistory


class ReaderSets(StoreBase):
    """Queries for digests whose articles are chosen per reader."""

    def cadence_of(self, digest_id: str) -> Cadence:
        rows = self._rows(select(digests.c.cadence, digests.c.cadences, digests.c.pool).where(
            digests.c.id == digest_id))
        if not rows or rows[0].cadence is None:
            return Cadence(None)
        row = rows[0]
        return Cadence(row.cadence, _lines(row.cadences, ","), _lines(row.pool, "\n"))

    def readership(self, digest_id: str) -> Readership | None:
        """For `digest status`: None for a digest whose readers all get the same articles."""
        rows = self._rows(select(digests.c.cadence, digests.c.zone, digests.c.hour).where(
            digests.c.id == digest_id))
        if not rows or rows[0].cadence is None:
            return None
        sets = self._rows(select(func.count()).select_from(article_sets).where(
            article_sets.c.digest_id == digest_id))[0][0]
        return Readership(rows[0].cadence, rows[0].zone, rows[0].hour, int(sets))

    def article_set_for(self, digest_id: str, article_ids: Sequence[str], shown: int) -> int:
        """The id of this set of a digest's articles, recorded on first use."""
        text = "\n".join(article_ids)
        key = hashlib.sha256(f"{shown}\n{text}".encode()).hexdigest()
        where = (article_sets.c.digest_id == digest_id, article_sets.c.key == key)
        stmt = self._insert(article_sets).values(
            digest_id=digest_id, key=key, article_ids=text, shown=shown
        ).on_conflict_do_nothing(index_elements=[article_sets.c.digest_id, article_sets.c.key])
        with self._tx(write=True) as conn:
            conn.execute(stmt)
            return int(conn.execute(select(article_sets.c.id).where(*where)).scalar_one())

    def article_set(self, set_id: int) -> tuple[tuple[str, ...], int]:
        """A set's article ids (newest first) and how many its message lists."""
        row = self._rows(select(article_sets.c.article_ids, article_sets.c.shown).where(
            article_sets.c.id == set_id))[0]
        return _lines(row.article_ids, "\n"), int(row.shown)

    def readers_page(self, digest_id: str, subscriber_ids: Sequence[int], *,
                     since: datetime | None = None) -> dict[int, ReaderState]:
        """For a page of a digest's readers, in four queries however many they are: the
        article set each one's row of `digest_id` was first claimed with, if any, and what
        they received in the other chosen-cadence digests.

        Only digests made `since` then count toward `received` (an older one holds only
        articles dated before it, which no pool from `since` on contains), so the look
        stays short however long a reader's history; the last one counts whatever its age.
        """
        ids = sorted(set(subscriber_ids))
        if not ids:
            return {}
        values = {"digest": digest_id, "ids": ids}
        chosen = {row.subscriber_id: row.article_set
                  for row in self._rows(_PAGE.chosen, values)}
        received: dict[int, set[str]] = {}
        parsed: dict[int | str, tuple[str, ...]] = {}  # a set's (or a digest's) articles
        recent = _PAGE.everything if since is None else _PAGE.recent
        for row in self._rows(recent, values | {"since": since}):
            key = row.article_set if row.article_set is not None else row.digest_id
            if key not in parsed:
                parsed[key] = (_lines(row.article_ids, "\n") if row.article_set is not None
                               else self._items(row.digest_id))
            received.setdefault(row.subscriber_id, set()).update(parsed[key])
        lasts = {row.subscriber_id: (row.id, row.due_at)
                 for row in self._rows(_PAGE.last, values)}
        pools = {row.id: frozenset(_lines(row.pool, "\n")) for row in self._rows(
            _PAGE.pools, {"digests": sorted({last for last, _ in lasts.values()})})
                 } if lasts else {}
        found = {}
        for subscriber_id in ids:
            got = frozenset(received.get(subscriber_id, ()))
            last = lasts.get(subscriber_id)
            history = (ReaderHistory(got, None) if last is None else ReaderHistory(
                got, pools[last[0]], last[1]))
            found[subscriber_id] = ReaderState(chosen.get(subscriber_id), history)
        return found

    def reader_history(self, subscriber_id: int, before: str, *,
                       since: datetime | None = None) -> ReaderHistory:
        """What one reader received in the chosen-cadence digests other than `before`."""
        return self.readers_page(before, [subscriber_id], since=since)[subscriber_id].history

    def _items(self, digest_id: str) -> tuple[str, ...]:
        return tuple(row[0] for row in self._rows(select(digest_items.c.article_id).where(
            digest_items.c.digest_id == digest_id)))


class _PageStatements:
    """The statements of `readers_page`, built once: it runs them for every page."""

    def __init__(self) -> None:
        ids: BindParameter[int] = bindparam("ids", expanding=True)
        digest: BindParameter[str] = bindparam("digest")
        self.chosen = select(deliveries.c.subscriber_id, deliveries.c.article_set).where(
            deliveries.c.digest_id == digest, deliveries.c.subscriber_id.in_(ids))
        theirs = (deliveries.c.subscriber_id.in_(ids), deliveries.c.digest_id != digest,
                  digests.c.cadence.is_not(None), deliveries.c.status.in_(RECEIVED))
        self.everything = select(deliveries.c.subscriber_id, deliveries.c.digest_id,
                                 deliveries.c.article_set, article_sets.c.article_ids
                                 ).select_from(
            deliveries.join(digests, digests.c.id == deliveries.c.digest_id).outerjoin(
                article_sets, article_sets.c.id == deliveries.c.article_set)).where(*theirs)
        self.recent = self.everything.where(
            digests.c.created_at >= bindparam("since", type_=UTCDateTime()))
        ranked = select(deliveries.c.subscriber_id, digests.c.id, digests.c.due_at,
                        func.row_number().over(
                            partition_by=deliveries.c.subscriber_id,
                            order_by=(digests.c.due_at.desc(), digests.c.id.desc())
                        ).label("n")).select_from(
            deliveries.join(digests, digests.c.id == deliveries.c.digest_id)).where(
            *theirs).subquery()
        self.last = select(ranked.c.subscriber_id, ranked.c.id, ranked.c.due_at).where(
            ranked.c.n == 1)
        self.pools = select(digests.c.id, digests.c.pool).where(
            digests.c.id.in_(bindparam("digests", expanding=True)))


_PAGE = _PageStatements()


def _lines(text: str | None, separator: str) -> tuple[str, ...]:
    return tuple(text.split(separator)) if text else ()
