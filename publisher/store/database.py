"""The database: subscribers, digests, the delivery ledger, suppression and schedule state.

One `Store` holds one connection for its whole life (opened by `Store.open(url)`,
closed by `close()` or a `with` block); its methods are safe to call from
several threads, one at a time. Every write is its own short transaction, so a
crash loses at most the operation in progress. Times go in and come out aware,
stored in UTC.

Subscribers
    `add_subscriber` / `add_subscribers` (idempotent: a known address changes
    nothing), `remove_subscriber` (deletes the row and its deliveries, and keeps
    a one-way hash of the address on the suppression list), `suppression_of`,
    `get_subscriber`, `get_subscriber_by_id`, `set_subscriber_status`, `set_preferences`,
    `iter_subscribers` (keyset pages, never the whole list), `count_subscribers`.
    Addresses are compared case-insensitively (`address_key`); give them
    normalised (`publisher.subscribers.normalise_address`).
Digests
    `create_digest` (unique per (schedule, due_at): a second caller gets the first
    one), `find_digest`, `get_digest`, `latest_open_digest`, `last_digest`,
    `mark_digest_complete`, `article_ids_sent_by`, `list_digests`.
Ledger (one row per (digest, subscriber))
    in `deliveries.DeliveryLedger`, which `Store` extends.
Schedule state
    `get_schedule_state`, `record_schedule_run`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from publisher.errors import StoreError
from publisher.models import Digest, LocalGroup, Subscriber, make_digest_id
from publisher.store.base import BATCH
from publisher.store.deliveries import DeliveryLedger, LedgerEntry
from publisher.store.engine import CONFIGURED, connect
from publisher.store.limits import SharedLimits
from publisher.store.pool import SharedSending
from publisher.store.readersets import ReaderSets
from publisher.store.records import (
    Delivery,
    DigestRecord,
    NewSubscriber,
    ScheduleState,
    address_hash,
    address_key,
    check_value,
    chunks,
    subscriber_row,
    tags_text,
    to_digest_record,
    to_subscriber,
)
from publisher.store.schema import (
    SUBSCRIBER_STATUSES,
    SUPPRESSED,
    digest_items,
    digests,
    schedule_state,
    subscribers,
    suppressions,
)

__all__ = ["Delivery", "DigestRecord", "LedgerEntry", "NewSubscriber", "ScheduleState", "Store",
           "address_key"]


class Store(DeliveryLedger, SharedSending, SharedLimits, ReaderSets):
    """The database behind subscribers, digests, the delivery ledger and suppression."""

    @classmethod
    def open(cls, url: str, source: str = CONFIGURED) -> Store:
        """Open (and if empty, create) the database at `url`; `StoreError` if it cannot.

        `source` names where the URL was set, for the hints of errors."""
        engine, conn = connect(url, source)
        return cls(engine, conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- subscribers -------------------------------------------------------------

    def add_subscriber(self, email: str, name: str = "", tags: Sequence[str] = (),
                       status: str = "active", *, now: datetime) -> tuple[Subscriber, bool]:
        """Add one address; a known address is left as it is and `created` is False."""
        created = self.add_subscribers([NewSubscriber(email, name, tuple(tags), status)],
                                       now=now)[0]
        found = self.get_subscriber(email)
        if found is None:  # removed by another process in between
            raise StoreError(f"{email} was removed while it was being added")
        return found, created

    def add_subscribers(self, entries: Iterable[NewSubscriber], *, now: datetime) -> list[bool]:
        """Add many addresses, committing every few hundred; True where one was new."""
        created: list[bool] = []
        for chunk in chunks(entries, BATCH):
            with self._tx(write=True) as conn:
                created += [conn.execute(self._add, subscriber_row(e, now)).rowcount == 1
                            for e in chunk]
        return created

    def remove_subscriber(self, email: str, *, now: datetime) -> bool:
        """Delete an address and its ledger rows, keeping its hash on the suppression list
        (with its status if it had left, else "removed"); False if it was not on the list."""
        key = address_key(email)
        with self._tx(write=True) as conn:
            found = conn.execute(select(subscribers.c.status).where(
                subscribers.c.email_key == key)).first()
            if found is None:
                return False
            conn.execute(delete(subscribers).where(subscribers.c.email_key == key))
            reason = found.status if found.status in SUPPRESSED else "removed"
            self._remember(conn, address_hash(email), reason, now)
        return True

    def suppress_hash(self, hashed: str, reason: str, *, now: datetime) -> bool:
        """Put a hashed address on the suppression list (from an exported file); False if
        it was there already."""
        with self._tx(write=True) as conn:
            return self._remember(conn, hashed, reason, now)

    def _remember(self, conn: Any, hashed: str, reason: str, now: datetime) -> bool:
        stmt = self._insert(suppressions).values(
            address_hash=hashed, reason=reason, created_at=now).on_conflict_do_nothing(
            index_elements=[suppressions.c.address_hash])
        return bool(conn.execute(stmt).rowcount)

    def suppression_of(self, email: str) -> tuple[str, datetime] | None:
        """Why and since when an address that is no longer on the list must stay off it."""
        rows = self._rows(select(suppressions.c.reason, suppressions.c.created_at).where(
            suppressions.c.address_hash == address_hash(email)))
        return (rows[0].reason, rows[0].created_at) if rows else None

    def iter_suppressions(self) -> Iterator[tuple[str, str, datetime]]:
        """Every hash on the suppression list: (hash, reason, since), in hash order."""
        for row in self._rows(select(suppressions).order_by(suppressions.c.address_hash)):
            yield row.address_hash, row.reason, row.created_at

    def forget_suppression(self, email: str) -> None:
        """Take an address off the suppression list: it came back through a double opt-in,
        or the operator said --resubscribe."""
        self._write(delete(suppressions).where(
            suppressions.c.address_hash == address_hash(email)), {})

    def get_subscriber(self, email: str) -> Subscriber | None:
        rows = self._rows(select(subscribers).where(
            subscribers.c.email_key == address_key(email)))
        return to_subscriber(rows[0]) if rows else None

    def get_subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        rows = self._rows(_SUBSCRIBER_BY_ID, {"subscriber": subscriber_id})
        return to_subscriber(rows[0]) if rows else None

    def set_subscriber_status(self, subscriber_id: int, status: str, *, now: datetime,
                              reason: str | None = None) -> bool:
        """Change a subscriber's status; False if there is no such subscriber.

        An address made active is taken off the suppression list as well.
        """
        check_value(status, SUBSCRIBER_STATUSES, "subscriber status")
        stmt = update(subscribers).where(subscribers.c.id == subscriber_id).values(
            status=status, status_reason=reason, updated_at=now)
        with self._tx(write=True) as conn:
            changed = conn.execute(stmt).rowcount
            if changed and status == "active":
                email = conn.execute(select(subscribers.c.email).where(
                    subscribers.c.id == subscriber_id)).scalar_one()
                conn.execute(delete(suppressions).where(
                    suppressions.c.address_hash == address_hash(email)))
        return bool(changed)

    def set_preferences(self, subscriber_id: int, *, tags: Sequence[str], cadence: str | None,
                        timezone: str | None, hour: int | None) -> bool:
        """Record a reader's choices (checked by the caller); False if there is no such reader.

        The status and its date are left alone: choosing is not joining or leaving.
        """
        if hour is not None and not 0 <= hour <= 23:
            raise ValueError(f"an hour is 0-23, not {hour}")
        stmt = update(subscribers).where(subscribers.c.id == subscriber_id).values(
            tags=tags_text(tags), cadence=cadence, timezone=timezone, hour=hour)
        with self._tx(write=True) as conn:
            return bool(conn.execute(stmt).rowcount)

    def iter_subscribers(self, status: str | None = None, batch: int = BATCH
                         ) -> Iterator[Subscriber]:
        """Every subscriber (with `status`, if given) in id order, one page at a time."""
        stmt = select(subscribers)
        if status is not None:
            stmt = stmt.where(subscribers.c.status == status)
        return self._pages(stmt, batch)

    def reader_groups(self) -> set[tuple[str | None, int | None]]:
        """The distinct (time zone, hour) the active subscribers chose; None: no choice."""
        stmt = select(subscribers.c.timezone, subscribers.c.hour).where(
            subscribers.c.status == "active").distinct()
        return {(row.timezone, row.hour) for row in self._rows(stmt)}

    def count_subscribers(self, status: str | None = None) -> int:
        stmt = select(func.count()).select_from(subscribers)
        if status is not None:
            stmt = stmt.where(subscribers.c.status == status)
        return int(self._rows(stmt)[0][0])

    # -- digests -----------------------------------------------------------------

    def create_digest(self, schedule: str, due_at: datetime, *, now: datetime,
                      article_ids: Sequence[str], subject: str,
                      audience: Sequence[str] = (), cadence: str | None = None,
                      cadences: Sequence[str] = (), pool: Sequence[str] = (),
                      group: LocalGroup | None = None) -> Digest:
        """Record the digest of `schedule` due at `due_at`, or return the one already there.

        Two processes racing for the same (schedule, due_at) both get the first one.
        `audience` limits the recipients to subscribers with one of these tags (or none:
        a subscriber who chose no topics receives every digest). A digest readers choose
        as their `cadence` reaches only those who chose it (or none of `cadences`), each with
        their own articles out of `pool`.
        """
        if len(set(article_ids)) != len(article_ids):
            raise ValueError("a digest cannot contain an article twice")
        for attempt in range(1, 10):
            new_id = make_digest_id(schedule, due_at, attempt)
            try:
                with self._tx(write=True) as conn:
                    conn.execute(insert(digests).values(
                        id=new_id, schedule=schedule, due_at=due_at, subject=subject,
                        audience=tags_text(audience), created_at=now, cadence=cadence,
                        cadences=",".join(cadences), pool="\n".join(pool),
                        zone=group.zone if group else None,
                        zone_default=int(bool(group and group.default)),
                        hour=group.hour if group else None))
                    if article_ids:
                        conn.execute(insert(digest_items), [
                            {"digest_id": new_id, "position": i, "article_id": a}
                            for i, a in enumerate(article_ids)])
            except IntegrityError:
                existing = self.find_digest(schedule, due_at)
                if existing is not None:
                    return existing
                continue  # another schedule's digest has this id: try the next one
            return Digest(new_id, schedule, due_at.astimezone(UTC), now.astimezone(UTC),
                          tuple(article_ids))
        raise StoreError(f"cannot find a free id for the digest of {schedule!r}")

    def find_digest(self, schedule: str, due_at: datetime) -> Digest | None:
        where = and_(digests.c.schedule == schedule, digests.c.due_at == due_at)
        found = self._digests(where)
        return found[0].digest if found else None

    def get_digest(self, digest_id: str) -> Digest | None:
        found = self._digests(digests.c.id == digest_id)
        return found[0].digest if found else None

    def latest_open_digest(self, schedule: str) -> Digest | None:
        """The newest digest of `schedule` not yet marked complete (a send to finish)."""
        where = and_(digests.c.schedule == schedule, digests.c.completed_at.is_(None))
        found = self._digests(where, limit=1)
        return found[0].digest if found else None

    def last_digest(self, schedule: str) -> Digest | None:
        found = self._digests(digests.c.schedule == schedule, limit=1)
        return found[0].digest if found else None

    def mark_digest_complete(self, digest_id: str, *, now: datetime) -> None:
        self._write(update(digests).where(digests.c.id == digest_id).values(
            completed_at=now), {})

    def article_ids_sent_by(self, schedule: str) -> set[str]:
        """Articles already in a digest of `schedule` (finished or not): never include again."""
        stmt = select(digest_items.c.article_id).join(digests).where(
            digests.c.schedule == schedule)
        return {row[0] for row in self._rows(stmt)}

    def list_digests(self, schedule: str | None = None) -> list[DigestRecord]:
        """Every digest (of `schedule`, if given), newest due time first."""
        return self._digests(digests.c.schedule == schedule if schedule is not None else None)

    def _digests(self, where: Any, limit: int | None = None) -> list[DigestRecord]:
        stmt = select(digests).order_by(digests.c.due_at.desc(), digests.c.id.desc())
        if where is not None:
            stmt = stmt.where(where)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._tx(write=False) as conn:
            rows = list(conn.execute(stmt))
            items: dict[str, list[str]] = {row.id: [] for row in rows}
            if rows:
                listed = select(digest_items).where(
                    digest_items.c.digest_id.in_(list(items))).order_by(
                    digest_items.c.digest_id, digest_items.c.position)
                for item in conn.execute(listed):
                    items[item.digest_id].append(item.article_id)
        return [to_digest_record(row, items[row.id]) for row in rows]

    # -- schedule state ----------------------------------------------------------

    def get_schedule_state(self, name: str) -> ScheduleState | None:
        rows = self._rows(select(schedule_state).where(schedule_state.c.name == name))
        if not rows:
            return None
        r = rows[0]
        return ScheduleState(r.name, r.last_due_at, r.outcome, r.message, r.ran_at)

    def record_schedule_run(self, name: str, due_at: datetime | None, outcome: str,
                            message: str = "", *, now: datetime) -> None:
        """Remember the last due time handled for `name`, and how it went."""
        values = {"name": name, "last_due_at": due_at, "outcome": outcome,
                  "message": message, "ran_at": now}
        stmt = self._upsert_state.values(values)
        stmt = stmt.on_conflict_do_update(index_elements=[schedule_state.c.name], set_={
            key: stmt.excluded[key] for key in values if key != "name"})
        self._write(stmt, {})


_SUBSCRIBER_BY_ID = select(subscribers).where(subscribers.c.id == bindparam("subscriber"))
