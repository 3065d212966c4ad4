"""The ledger half of the store: who is owed a digest, each message's outcome, reports.

One row per (digest, subscriber). `claim` commits the row as pending right
before a message; one outcome then records what the server said: `mark_sent`,
`mark_deferred` (a soft failure, due again later), `release` (given back by the
breaker: due at once, the attempt not counted), `mark_uncertain` (no answer
after the data), `mark_gave_up`, `mark_bounced` (the subscriber is suppressed
too) and `mark_skipped` (they left before their turn). `record_report`
applies what a bounce or complaint that came back by mail says about a row
already sent. Every change is a conditional update, so repeating one changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, not_, select, update

from publisher.errors import StoreError
from publisher.models import LocalGroup, Subscriber
from publisher.store.base import BATCH, StoreBase, in_audience
from publisher.store.ledger import owed
from publisher.store.locks import Held, hold
from publisher.store.records import Delivery, tags_of, tags_text, to_subscriber
from publisher.store.schema import DELIVERY_STATUSES, UTCDateTime, deliveries, digests, subscribers

IdRange = tuple[int, int]
"""The first and last subscriber id of a chunk of a digest's readers."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One row of a digest's ledger with its subscriber, for `digest status --list`."""

    subscriber: Subscriber
    delivery: Delivery


class DeliveryLedger(StoreBase):
    """The delivery ledger's queries; `Store` adds subscribers, digests and schedules.

    A store is one sender (`holder`, unique to it): its claims carry its name and
    a lease; inside `sending`, they are taken over from no live sender.
    """

    _lease = timedelta(minutes=2)
    _takeover = False

    @contextmanager
    def sending(self, digest_id: str, *, exclusive: bool, lease: timedelta) -> Iterator[None]:
        """Send `digest_id` as its only sender (`exclusive`) or as one of a pool.

        Every sender holds the digest's lock while it sends, a pool's members
        shared, a lone sender alone; so a lone sender knows that every pending row
        it finds was left by a dead one and takes it over at once, while a pool's
        member waits for a row's lease to run out. `LockBusy` if the lock is taken.
        """
        with self.lock(f"send {digest_id}", shared=not exclusive):
            self._lease, self._takeover = lease, exclusive
            try:
                yield
            finally:
                self._takeover = False

    def _row(self, digest_id: str, subscriber_id: int, now: datetime) -> dict[str, Any]:
        return {"b_digest": digest_id, "b_subscriber": subscriber_id, "b_now": now,
                "b_holder": self.holder, "b_until": now + self._lease,
                "b_takeover": self._takeover}

    def lock(self, name: str, *, wait: bool = False, shared: bool = False
             ) -> AbstractContextManager[Held]:
        """A lock every process using this store shares (see `publisher.store.locks`)."""
        return hold(self._engine, name, wait=wait, shared=shared)

    def recipients(self, digest_id: str, *, now: datetime, batch: int = BATCH,
                   within: IdRange | None = None) -> Iterator[Subscriber]:
        """Active subscribers still owed this digest, in id order, one page at a time
        (those with ids `within` a chunk's range, if given)."""
        return self._pages(self._owed(digest_id, now, within), batch)

    def count_recipients(self, digest_id: str, *, now: datetime,
                         within: IdRange | None = None) -> int:
        """How many `recipients()` would yield now (for a progress bar)."""
        stmt = self._owed(digest_id, now, within).with_only_columns(func.count())
        return int(self._rows(stmt)[0][0])

    def _owed(self, digest_id: str, now: datetime, within: IdRange | None = None
              ) -> Select[Any]:
        rows = self._rows(select(digests).where(digests.c.id == digest_id))
        if not rows:
            raise StoreError(f"there is no digest {digest_id!r}")
        row = rows[0]
        group = None if row.zone is None else LocalGroup(
            row.cadence or row.schedule, row.zone, row.hour, bool(row.zone_default))
        moment = bindparam("owed_now", now, type_=UTCDateTime())
        not_owed = select(deliveries.c.subscriber_id).where(
            deliveries.c.digest_id == digest_id,
            deliveries.c.subscriber_id == subscribers.c.id,
            not_(owed(moment, literal(self._takeover))))
        stmt = select(subscribers).where(~not_owed.exists())
        if within is not None:
            stmt = stmt.where(subscribers.c.id.between(*within))
        return in_audience(stmt, tags_of(row.audience), row.cadence, tags_of(row.cadences),
                           group)

    def audience(self, tags: Sequence[str], batch: int = BATCH, *, cadence: str | None = None,
                 cadences: Sequence[str] = (), group: LocalGroup | None = None
                 ) -> Iterator[Subscriber]:
        """The active subscribers a digest for `tags` reaches (all of them for no tags);
        for a chosen `cadence`, those who chose it or none of `cadences`; for a local
        schedule's run, its `group`."""
        return self._pages(in_audience(select(subscribers), tags_of(tags_text(tags)), cadence,
                                       cadences, group), batch)

    def count_audience(self, tags: Sequence[str], *, cadence: str | None = None,
                       cadences: Sequence[str] = (), group: LocalGroup | None = None) -> int:
        stmt = in_audience(select(func.count()).select_from(subscribers),
                           tags_of(tags_text(tags)), cadence, cadences, group)
        return int(self._rows(stmt)[0][0])

    # -- one message ---------------------------------------------------------------

    def claim(self, digest_id: str, subscriber_id: int, *, now: datetime,
              article_set: int | None = None) -> bool:
        """Commit the ledger row as pending before a message is handed to the transport.

        False (and nothing written) if the subscriber is no longer active, or the
        row is not owed now (finished, or waiting for its retry): then do not send.
        """
        params = {**self._row(digest_id, subscriber_id, now), "b_set": article_set}
        return self._write(self._ledger.claim, params) == 1

    def mark_sent(self, digest_id: str, subscriber_id: int, reply: str, *,
                  now: datetime) -> bool:
        """Record that the server accepted the message (False if no row was claimed)."""
        return self._outcome(self._ledger.sent, digest_id, subscriber_id, reply, now)

    def mark_deferred(self, digest_id: str, subscriber_id: int, reply: str,
                      next_attempt_at: datetime, *, now: datetime) -> int:
        """Record a soft failure; return the attempts made so far (0: no row was claimed)."""
        params = {**self._row(digest_id, subscriber_id, now), "b_reply": reply,
                  "b_next": next_attempt_at}
        with self._tx(write=True) as conn:
            row = self._ledger.deferred.run(conn, params).first()
        return int(row[0]) if row else 0

    def release(self, digest_id: str, subscriber_id: int, reply: str, *, now: datetime) -> bool:
        """Give a claimed row back, due at once and with the attempt not counted: the
        server refused us, not the reader."""
        return self._outcome(self._ledger.released, digest_id, subscriber_id, reply, now)

    def mark_uncertain(self, digest_id: str, subscriber_id: int, reply: str,
                       next_attempt_at: datetime | None, *, now: datetime) -> bool:
        """Record an attempt whose outcome nobody knows; retried at `next_attempt_at`, or
        never (None)."""
        params = {**self._row(digest_id, subscriber_id, now), "b_reply": reply,
                  "b_next": next_attempt_at}
        return self._write(self._ledger.uncertain, params) == 1

    def mark_gave_up(self, digest_id: str, subscriber_id: int, reply: str, *,
                     now: datetime) -> bool:
        """Record that the soft failures ran out; the subscriber stays on the list."""
        return self._outcome(self._ledger.gave_up, digest_id, subscriber_id, reply, now)

    def mark_bounced(self, digest_id: str, subscriber_id: int, reply: str, *,
                     now: datetime) -> bool:
        """Record a hard bounce; the subscriber becomes bounced (unless they already left)."""
        params = {**self._row(digest_id, subscriber_id, now), "b_reply": reply,
                  "b_status": "bounced"}
        with self._tx(write=True) as conn:
            changed = self._ledger.bounced.run(conn, params).rowcount
            if changed:
                self._ledger.suppress.run(conn, params)
        return changed == 1

    def mark_skipped(self, digest_id: str, subscriber_id: int, *, now: datetime,
                     reason: str = "no longer subscribed when their turn came") -> None:
        """Record that a subscriber was not sent the digest: they left before their turn, or
        (a chosen cadence) it held nothing they had not received."""
        self._write(self._ledger.skipped, {**self._row(digest_id, subscriber_id, now),
                                           "b_reply": reason})

    def suppress_subscriber(self, subscriber_id: int, status: str, reason: str, *,
                            now: datetime) -> bool:
        """Take an active (or pending) subscriber off the list as `status`, saying why."""
        return self._write(self._ledger.suppress, {"b_subscriber": subscriber_id, "b_now": now,
                                                   "b_reply": reason, "b_status": status}) == 1

    def _outcome(self, statement: Any, digest_id: str, subscriber_id: int, reply: str,
                 now: datetime) -> bool:
        return self._write(statement, {**self._row(digest_id, subscriber_id, now),
                                       "b_reply": reply}) == 1

    # -- reports -------------------------------------------------------------------

    def delivery(self, digest_id: str, subscriber_id: int) -> Delivery | None:
        rows = self._rows(select(deliveries).where(
            deliveries.c.digest_id == digest_id, deliveries.c.subscriber_id == subscriber_id))
        return _delivery(rows[0]) if rows else None

    def delivery_counts(self, digest_id: str) -> dict[str, int]:
        """Ledger rows of a digest by status, every status present (zero if none)."""
        stmt = select(deliveries.c.status, func.count().label("rows")).where(
            deliveries.c.digest_id == digest_id).group_by(deliveries.c.status)
        counts = dict.fromkeys(DELIVERY_STATUSES, 0)
        counts.update({row.status: int(row.rows) for row in self._rows(stmt)})
        return counts

    def next_attempt(self, digest_id: str) -> datetime | None:
        """When the earliest row waiting for a retry is due."""
        stmt = select(func.min(deliveries.c.next_attempt_at)).where(
            deliveries.c.digest_id == digest_id,
            deliveries.c.status.in_(("deferred", "uncertain")))
        found = self._rows(stmt)[0][0]
        return UTCDateTime().process_result_value(found, self._conn.dialect)

    def pending_deliveries(self, digest_id: str) -> int:
        """Rows left pending: messages whose outcome a crash left unknown."""
        return self.delivery_counts(digest_id)["pending"]

    def ledger_entries(self, digest_id: str, status: str) -> Iterator[LedgerEntry]:
        """The rows of a digest with `status`, with their subscribers, in subscriber order."""
        stmt = select(subscribers, deliveries.c.status.label("d_status"),
                      deliveries.c.attempts, deliveries.c.next_attempt_at, deliveries.c.reply,
                      deliveries.c.updated_at.label("d_updated_at"),
                      deliveries.c.uncertain).join(
            deliveries, deliveries.c.subscriber_id == subscribers.c.id).where(
            deliveries.c.digest_id == digest_id, deliveries.c.status == status).order_by(
            subscribers.c.id)
        for row in self._rows(stmt):
            yield LedgerEntry(to_subscriber(row), Delivery(
                row.d_status, row.attempts, row.next_attempt_at, row.reply, row.d_updated_at,
                row.uncertain))

    def recent_outcomes(self, subscriber_id: int, limit: int) -> list[Delivery]:
        """A subscriber's latest finished deliveries, newest first (for soft-bounce rules)."""
        stmt = select(deliveries).where(
            deliveries.c.subscriber_id == subscriber_id,
            deliveries.c.status.in_(("sent", "gave_up", "bounced", "uncertain", "complained")),
        ).order_by(deliveries.c.updated_at.desc()).limit(limit)
        return [_delivery(row) for row in self._rows(stmt)]

    # -- reports that come back by mail ---------------------------------------------

    def record_report(self, digest_id: str, subscriber_id: int, status: str, reply: str, *,
                      now: datetime) -> bool:
        """A bounce ("bounced", "gave_up") or complaint ("complained") for a message sent.

        Changes the row only if it does not already say as much (a complaint
        wins over a bounce); a hard bounce or a complaint also suppresses the
        subscriber. False if nothing changed: the report was already recorded.
        """
        params = {"digest": digest_id, "subscriber": subscriber_id, "text": reply, "at": now}
        with self._tx(write=True) as conn:
            changed = conn.execute(_REPORT_ON_ROW[status], params).rowcount
            if changed and status in _SUPPRESS_FOR_REPORT:
                conn.execute(_SUPPRESS_FOR_REPORT[status], params)
        return changed == 1


_REPLACEABLE = {"bounced": ("active", "pending"),
                "complained": ("active", "pending", "bounced", "unsubscribed")}
# What a report may replace: a complaint wins over a bounce, a bounce over giving up.
_WEAKER = {"gave_up": ("sent", "uncertain", "pending", "deferred"),
           "bounced": ("sent", "uncertain", "pending", "deferred", "gave_up"),
           "complained": ("sent", "uncertain", "pending", "deferred", "gave_up", "bounced")}
# Built once: bounce processing runs them for every message it reads.
_REPORT_ON_ROW = {
    status: update(deliveries).where(
        deliveries.c.digest_id == bindparam("digest"),
        deliveries.c.subscriber_id == bindparam("subscriber"),
        deliveries.c.status.in_(weaker)).values(
        status=status, reply=bindparam("text"), next_attempt_at=None,
        updated_at=bindparam("at", type_=UTCDateTime))
    for status, weaker in _WEAKER.items()}
_SUPPRESS_FOR_REPORT = {
    status: update(subscribers).where(
        subscribers.c.id == bindparam("subscriber"),
        subscribers.c.status.in_(replaceable)).values(
        status=status, status_reason=bindparam("text"),
        updated_at=bindparam("at", type_=UTCDateTime))
    for status, replaceable in _REPLACEABLE.items()}




def _delivery(row: Any) -> Delivery:
    return Delivery(row.status, row.attempts, row.next_attempt_at, row.reply, row.updated_at,
                    row.uncertain, row.article_set)

