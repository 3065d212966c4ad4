"""The connection a store holds and the short transactions every query runs in.

Shared by the two halves of `Store`: `deliveries.DeliveryLedger` (the ledger,
reports on it, suppression) and `database.Store` (subscribers, digests,
schedule state).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Select, bindparam, literal, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Row

from publisher.models import LocalGroup, Subscriber
from publisher.store.engine import begin, reraise
from publisher.store.ledger import LedgerStatements, Prepared
from publisher.store.records import to_subscriber
from publisher.store.schema import schedule_state, subscribers

BATCH = 500


class StoreBase:
    """One connection for the store's whole life, safe to use from several threads in turn."""

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self._engine = engine
        self._conn = conn
        # This store's name as a sender, in the ledger rows it claims: unique to it.
        self.holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._lock = threading.RLock()
        self._batched = False  # inside `batch()`: statements join its one transaction
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        self._insert = dialect_insert
        self._ledger = LedgerStatements(conn.dialect, dialect_insert)
        self._add = dialect_insert(subscribers).on_conflict_do_nothing(
            index_elements=[subscribers.c.email_key]).execution_options(preserve_rowcount=True)
        self._upsert_state = dialect_insert(schedule_state)

    # -- transactions ------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run the store's calls inside one write transaction, committed at the end.

        For many small writes in a row (bounce reports): one commit instead of one
        each. Everything is rolled back if the block raises; the lock is held
        throughout, so other threads of this process wait for the end.
        """
        with self._lock:
            if self._batched:
                yield
                return
            try:
                begin(self._conn, write=True)
                self._batched = True
                yield
                self._conn.commit()
            except BaseException as exc:
                self._conn.rollback()
                reraise(exc)
            finally:
                self._batched = False

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Connection]:
        """A short transaction on the held connection; database trouble becomes StoreError."""
        with self._lock:
            if self._batched:
                yield self._conn
                return
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
                if not self._batched:
                    self._conn.commit()
            except BaseException as exc:
                if not self._batched:  # else `batch()` rolls back, once, for everything
                    self._conn.rollback()
                reraise(exc)
        return changed

    def _rows(self, statement: Any, params: dict[str, Any] | None = None) -> list[Row[Any]]:
        with self._tx(write=False) as conn:
            return list(conn.execute(statement, params or {}))

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



def in_audience(stmt: Select[Any], audience: Sequence[str], cadence: str | None = None,
                cadences: Sequence[str] = (), group: LocalGroup | None = None) -> Select[Any]:
    """Who a digest reaches: active subscribers who chose one of its topics, or chose none;
    of a digest readers choose as their cadence, only those who chose it, or no cadence (or
    one no longer offered); of a local schedule's run, only its group of readers.

    The one statement of that rule: sending and the dry run's count both go through it.
    """
    stmt = stmt.where(subscribers.c.status == "active")
    if cadence is not None:
        others = [c for c in cadences if c != cadence]
        stmt = stmt.where(or_(subscribers.c.cadence.is_(None), subscribers.c.cadence == cadence,
                              subscribers.c.cadence.not_in(others) if others else literal(True)))
    if group is not None:
        zone = subscribers.c.timezone == group.zone
        stmt = stmt.where(or_(zone, subscribers.c.timezone.is_(None)) if group.default else zone,
                          subscribers.c.hour.is_(None) if group.hour is None
                          else subscribers.c.hour == group.hour)
    if not audience:
        return stmt
    padded = literal(",") + subscribers.c.tags + literal(",")
    return stmt.where(or_(subscribers.c.tags == "",
                          *(padded.contains(f",{tag},", autoescape=True) for tag in audience)))
