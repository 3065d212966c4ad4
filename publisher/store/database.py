"""The database: subscribers, digests, the delivery ledger and schedule state.

One `Store` holds one connection for its whole life (opened by `Store.open(url)`,
closed by `close()` or a `with` block); its methods are safe to call from
several threads, one at a time. Every write is its own short transaction, so a
crash loses at most the operation in progress. Times go in and come out aware,
stored in UTC.

Subscribers
    `add_subscriber` / `add_subscribers` (idempotent: a known address changes
    nothing), `remove_subscriber` (deletes the row and its deliveries),
    `get_subscriber`, `get_subscriber_by_id`, `set_subscriber_status`,
    `iter_subscribers` (keyset pages, never the whole list), `count_subscribers`.
    Addresses are compared case-insensitively (`address_key`); give them
    normalised (`publisher.subscribers.normalise_address`).
Digests
    `create_digest` (unique per (schedule, due_at): a second caller gets the first
    one), `find_digest`, `get_digest`, `latest_open_digest`, `last_digest`,
    `mark_digest_complete`, `article_ids_sent_by`, `list_digests`.
Ledger (one row per (digest, subscriber))
    `recipients` streams the active subscribers whose row is not sent/failed and
    not deferred into the future; `claim` commits the row as pending right before
    a message, refusing a subscriber who is no longer active or already sent;
    `mark_sent` / `mark_deferred` / `mark_failed` record the server's answer
    (a failure also marks the subscriber bounced); `delivery`,
    `delivery_counts`, `pending_deliveries`, `count_recipients` report.
Schedule state
    `get_schedule_state`, `record_schedule_run`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from publisher.errors import StoreError
from publisher.models import Digest, Subscriber, make_digest_id
from publisher.store.engine import CONFIGURED, begin, connect, reraise
from publisher.store.ledger import LedgerStatements, Prepared
from publisher.store.records import (
    Delivery,
    DigestRecord,
    NewSubscriber,
    ScheduleState,
    address_key,
    check_value,
    chunks,
    subscriber_row,
    tags_of,
    tags_text,
    to_digest_record,
    to_subscriber,
)
from publisher.store.schema import (
    DELIVERY_STATUSES,
    DONE,
    SUBSCRIBER_STATUSES,
    deliveries,
    digest_items,
    digests,
    schedule_state,
    subscribers,
)

__all__ = ["Delivery", "DigestRecord", "NewSubscriber", "ScheduleState", "Store", "address_key"]

BATCH = 500


class Store:
    """The database behind subscribers, digests and the delivery ledger."""

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self._engine = engine
        self._conn = conn
        self._lock = threading.RLock()
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        self._ledger = LedgerStatements(conn.dialect, dialect_insert)
        self._add = dialect_insert(subscribers).on_conflict_do_nothing(
            index_elements=[subscribers.c.email_key]).execution_options(preserve_rowcount=True)
        self._upsert_state = dialect_insert(schedule_state)

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

    # -- transactions ------------------------------------------------------------

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Connection]:
        """A short transaction on the held connection; database trouble becomes StoreError."""
        with self._lock:
            try:
                begin(self._conn, write=write)
                yield self._conn
                self._conn.commit()
            except BaseException as exc:
                self._conn.rollback()
                reraise(exc)

    def _write(self, statement: Any, params: dict[str, Any]) -> int:
        """Run one statement as its own transaction; return the rows it changed."""
        with self._lock:
            try:
                if isinstance(statement, Prepared):
                    changed = statement.run(self._conn, params).rowcount
                else:
                    changed = self._conn.execute(statement, params).rowcount
                self._conn.commit()
            except BaseException as exc:
                self._conn.rollback()
                reraise(exc)
        return changed

    def _rows(self, statement: Any, params: dict[str, Any] | None = None) -> list[Row[Any]]:
        with self._tx(write=False) as conn:
            return list(conn.execute(statement, params or {}))

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

    def remove_subscriber(self, email: str) -> bool:
        """Delete an address and its ledger rows; False if it was not on the list."""
        stmt = delete(subscribers).where(subscribers.c.email_key == address_key(email))
        return self._write(stmt, {}) > 0

    def get_subscriber(self, email: str) -> Subscriber | None:
        rows = self._rows(select(subscribers).where(
            subscribers.c.email_key == address_key(email)))
        return to_subscriber(rows[0]) if rows else None

    def get_subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        rows = self._rows(select(subscribers).where(subscribers.c.id == subscriber_id))
        return to_subscriber(rows[0]) if rows else None

    def set_subscriber_status(self, subscriber_id: int, status: str, *, now: datetime,
                              reason: str | None = None) -> bool:
        """Change a subscriber's status; False if there is no such subscriber."""
        check_value(status, SUBSCRIBER_STATUSES, "subscriber status")
        stmt = update(subscribers).where(subscribers.c.id == subscriber_id).values(
            status=status, status_reason=reason, updated_at=now)
        return self._write(stmt, {}) > 0

    def iter_subscribers(self, status: str | None = None, batch: int = BATCH
                         ) -> Iterator[Subscriber]:
        """Every subscriber (with `status`, if given) in id order, one page at a time."""
        stmt = select(subscribers)
        if status is not None:
            stmt = stmt.where(subscribers.c.status == status)
        return self._pages(stmt, batch)

    def count_subscribers(self, status: str | None = None) -> int:
        stmt = select(func.count()).select_from(subscribers)
        if status is not None:
            stmt = stmt.where(subscribers.c.status == status)
        return int(self._rows(stmt)[0][0])

    def _pages(self, stmt: Select[Any], batch: int) -> Iterator[Subscriber]:
        """Keyset pagination by id: each page is one short query, fetched whole.

        No cursor stays open between pages, so the caller may write in between
        (claim, mark_sent) and memory holds one page at most.
        """
        page = stmt.where(subscribers.c.id > bindparam("after")).order_by(
            subscribers.c.id).limit(batch)
        after = 0
        while True:
            rows = self._rows(page, {"after": after})
            for row in rows:
                yield to_subscriber(row)
            if len(rows) < batch:
                return
            after = rows[-1].id

    # -- digests -----------------------------------------------------------------

    def create_digest(self, schedule: str, due_at: datetime, *, now: datetime,
                      article_ids: Sequence[str], subject: str,
                      audience: Sequence[str] = ()) -> Digest:
        """Record the digest of `schedule` due at `due_at`, or return the one already there.

        Two processes racing for the same (schedule, due_at) both get the first one.
        `audience` limits the recipients to subscribers with one of these tags (or none:
        a subscriber who chose no topics receives every digest).
        """
        if len(set(article_ids)) != len(article_ids):
            raise ValueError("a digest cannot contain an article twice")
        for attempt in range(1, 10):
            new_id = make_digest_id(schedule, due_at, attempt)
            try:
                with self._tx(write=True) as conn:
                    conn.execute(insert(digests).values(
                        id=new_id, schedule=schedule, due_at=due_at, subject=subject,
                        audience=tags_text(audience), created_at=now))
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

    # -- the delivery ledger -----------------------------------------------------

    def recipients(self, digest_id: str, *, now: datetime, batch: int = BATCH
                   ) -> Iterator[Subscriber]:
        """Active subscribers still owed this digest, in id order, one page at a time."""
        return self._pages(self._owed(digest_id, now), batch)

    def count_recipients(self, digest_id: str, *, now: datetime) -> int:
        """How many `recipients()` would yield now (for a progress bar)."""
        stmt = self._owed(digest_id, now).with_only_columns(func.count())
        return int(self._rows(stmt)[0][0])

    def _owed(self, digest_id: str, now: datetime) -> Select[Any]:
        rows = self._rows(select(digests.c.audience).where(digests.c.id == digest_id))
        if not rows:
            raise StoreError(f"there is no digest {digest_id!r}")
        done = select(deliveries.c.subscriber_id).where(
            deliveries.c.digest_id == digest_id,
            deliveries.c.subscriber_id == subscribers.c.id,
            or_(deliveries.c.status.in_(DONE),
                and_(deliveries.c.status == "deferred", deliveries.c.next_attempt_at > now)))
        return _in_audience(select(subscribers).where(~done.exists()), tags_of(rows[0][0]))

    def audience(self, tags: Sequence[str], batch: int = BATCH) -> Iterator[Subscriber]:
        """The active subscribers a digest for `tags` reaches (all of them for no tags)."""
        return self._pages(_in_audience(select(subscribers), tags_of(tags_text(tags))), batch)

    def claim(self, digest_id: str, subscriber_id: int, *, now: datetime) -> bool:
        """Commit the ledger row as pending before a message is handed to the transport.

        False (and nothing written) if the subscriber is no longer active, or the
        row is sent, failed or deferred past `now`: then do not send.
        """
        return self._write(self._ledger.claim, {
            "b_digest": digest_id, "b_subscriber": subscriber_id, "b_now": now}) == 1

    def mark_sent(self, digest_id: str, subscriber_id: int, reply: str, *,
                  now: datetime) -> bool:
        """Record that the server accepted the message (False if no row was claimed)."""
        return self._write(self._ledger.sent, {
            "b_digest": digest_id, "b_subscriber": subscriber_id, "b_reply": reply,
            "b_now": now}) == 1

    def mark_deferred(self, digest_id: str, subscriber_id: int, reply: str,
                      next_attempt_at: datetime, *, now: datetime) -> int:
        """Record a temporary failure; return the attempts made so far (0: no row)."""
        with self._tx(write=True) as conn:
            row = self._ledger.deferred.run(conn, {
                "b_digest": digest_id, "b_subscriber": subscriber_id, "b_reply": reply,
                "b_next": next_attempt_at, "b_now": now}).first()
        return int(row[0]) if row else 0

    def mark_failed(self, digest_id: str, subscriber_id: int, reply: str, *,
                    now: datetime) -> bool:
        """Record a permanent failure; the subscriber becomes bounced (unless unsubscribed)."""
        params = {"b_digest": digest_id, "b_subscriber": subscriber_id, "b_reply": reply,
                  "b_now": now}
        with self._tx(write=True) as conn:
            changed = self._ledger.failed.run(conn, params).rowcount
            self._ledger.bounced.run(conn, params)
        return changed == 1

    def delivery(self, digest_id: str, subscriber_id: int) -> Delivery | None:
        rows = self._rows(select(deliveries).where(
            deliveries.c.digest_id == digest_id, deliveries.c.subscriber_id == subscriber_id))
        if not rows:
            return None
        r = rows[0]
        return Delivery(r.status, r.attempts, r.next_attempt_at, r.reply, r.updated_at)

    def delivery_counts(self, digest_id: str) -> dict[str, int]:
        """Ledger rows of a digest by status, every status present (zero if none)."""
        stmt = select(deliveries.c.status, func.count().label("rows")).where(
            deliveries.c.digest_id == digest_id).group_by(deliveries.c.status)
        counts = dict.fromkeys(DELIVERY_STATUSES, 0)
        counts.update({row.status: int(row.rows) for row in self._rows(stmt)})
        return counts

    def pending_deliveries(self, digest_id: str) -> int:
        """Rows left pending: messages whose outcome a crash left unknown."""
        return self.delivery_counts(digest_id)["pending"]

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


def _in_audience(stmt: Select[Any], audience: Sequence[str]) -> Select[Any]:
    """Who a digest reaches: active subscribers who chose one of its topics, or chose none.

    The one statement of that rule: sending and the dry run's count both go through it.
    """
    stmt = stmt.where(subscribers.c.status == "active")
    if not audience:
        return stmt
    padded = literal(",") + subscribers.c.tags + literal(",")
    return stmt.where(or_(subscribers.c.tags == "",
                          *(padded.contains(f",{tag},", autoescape=True) for tag in audience)))
