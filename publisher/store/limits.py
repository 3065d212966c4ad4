"""The web service's limits, counted in the store so that every replica counts alike.

A hit is a row (scope, key, time). `take` counts the hits of a key inside its
window and adds one only if the limit allows, all in one transaction that holds
the key's lock (an advisory lock on PostgreSQL, the write lock on SQLite), so
two replicas answering at the same moment cannot both take the last turn.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select

from publisher.store.base import StoreBase
from publisher.store.schema import UTCDateTime, limit_hits

SWEEP_EVERY = 500  # takes between two removals of hits older than any window


class SharedLimits(StoreBase):
    """Sliding-window counts for `publisher.web.limits.StoreLimits`."""

    _takes = 0

    def take_turn(self, scope: str, key: str, *, limit: int, window: timedelta,
                  now: datetime) -> datetime | None:
        """Count one hit of `key` if fewer than `limit` fell in the last `window`; else the
        moment the oldest of them leaves it (when the next hit may come)."""
        since = now - window
        with self._tx(write=True) as conn:
            if conn.dialect.name == "postgresql":
                lock = int.from_bytes(hashlib.blake2b(f"{scope}\0{key}".encode(),
                                                      digest_size=8).digest(), "big", signed=True)
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({lock})")
            where = (limit_hits.c.scope == scope, limit_hits.c.key == key,
                     limit_hits.c.at > since)
            count, oldest = conn.execute(select(func.count(), func.min(limit_hits.c.at)).where(
                *where)).one()
            if count >= limit:
                first = UTCDateTime().process_result_value(oldest, conn.dialect)
                return (first or now) + window
            conn.execute(insert(limit_hits).values(scope=scope, key=key, at=now))
        self._sweep(window, now)
        return None

    def give_back(self, scope: str, key: str) -> None:
        """Forget the latest hit of `key` (its message could not be sent after all)."""
        latest = select(func.max(limit_hits.c.id)).where(
            limit_hits.c.scope == scope, limit_hits.c.key == key).scalar_subquery()
        self._write(delete(limit_hits).where(limit_hits.c.id == latest), {})

    def _sweep(self, window: timedelta, now: datetime) -> None:
        type(self)._takes += 1
        if self._takes % SWEEP_EVERY == 0:
            self._write(delete(limit_hits).where(limit_hits.c.at <= now - window), {})
