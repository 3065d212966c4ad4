"""What a pool of senders on several machines shares through the store.

`queue_digest` fixes a digest's readers as "queued" ledger rows and cuts them
into chunks of consecutive subscriber ids, in one transaction with whatever the
caller does on the same connection (the queue's jobs, so that no row is queued
without a job and no job names rows that are not there). `save_rendering` keeps
the digest as rendered once, for workers that have no articles. `take_tokens`
is a token bucket in the database that every sender of a site takes from, so
`[delivery] rate` holds for the whole pool, not for each process.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, literal_column, select, text, update
from sqlalchemy.engine import Connection

from publisher.errors import StoreError
from publisher.models import RenderedDigest
from publisher.store.base import StoreBase, in_audience
from publisher.store.records import tags_of
from publisher.store.schema import UTCDateTime, deliveries, digests, renderings, subscribers

IdRange = tuple[int, int]
Enqueue = Callable[[Any, list[IdRange]], None]
"""Given the database driver's connection inside the transaction, and the chunks."""


class SharedSending(StoreBase):
    """The store's part in sending from a pool of workers."""

    def queue_digest(self, digest_id: str, *, chunk_size: int, now: datetime,
                     enqueue: Enqueue) -> list[IdRange]:
        """Queue a row for every reader the digest reaches and has no row yet, and every
        chunk of rows still owed; `enqueue` runs in the same transaction."""
        with self._tx(write=True) as conn:
            audience = conn.execute(select(digests.c.audience).where(
                digests.c.id == digest_id)).scalar()
            if audience is None:
                raise StoreError(f"there is no digest {digest_id!r}")
            readers = in_audience(select(
                literal(digest_id), subscribers.c.id, literal_column("'queued'"),
                literal_column("0"), literal_column("''"),
                literal(now, deliveries.c.updated_at.type), literal_column("0")),
                tags_of(audience))
            insert = self._insert(deliveries).from_select(
                ["digest_id", "subscriber_id", "status", "attempts", "reply", "updated_at",
                 "uncertain"], readers).on_conflict_do_nothing()
            conn.execute(insert)
            ids = [row[0] for row in conn.execute(select(deliveries.c.subscriber_id).where(
                deliveries.c.digest_id == digest_id, deliveries.c.status == "queued").order_by(
                deliveries.c.subscriber_id))]
            chunks = [(ids[i], ids[min(i + chunk_size, len(ids)) - 1])
                      for i in range(0, len(ids), chunk_size)]
            if chunks:
                enqueue(_driver(conn), chunks)
        return chunks

    def settle_chunk(self, digest_id: str, within: IdRange, *, now: datetime) -> int:
        """Rows of a finished chunk still queued are readers its walk no longer reached
        (they left, or chose other topics meanwhile): skipped, so the digest can end."""
        stmt = update(deliveries).where(
            deliveries.c.digest_id == digest_id, deliveries.c.status == "queued",
            deliveries.c.subscriber_id.between(*within)).values(
            status="skipped", reply="no longer reached by the digest when its turn came",
            updated_at=now)
        return self._write(stmt, {})

    def leased_until(self, digest_id: str, within: IdRange) -> datetime | None:
        """When the last lease on a pending row of the chunk runs out (rows a sender that
        may be dead still holds), or None if there is none."""
        stmt = select(func.max(deliveries.c.lease_until)).where(
            deliveries.c.digest_id == digest_id, deliveries.c.status == "pending",
            deliveries.c.subscriber_id.between(*within))
        found = self._rows(stmt)[0][0]
        return UTCDateTime().process_result_value(found, self._conn.dialect)

    def save_rendering(self, rendered: RenderedDigest) -> None:
        values = {"digest_id": rendered.digest_id, "subject": rendered.subject,
                  "html": rendered.html, "text": rendered.text}
        stmt = self._insert(renderings).values(values)
        self._write(stmt.on_conflict_do_update(index_elements=[renderings.c.digest_id],
                                               set_={k: stmt.excluded[k] for k in values
                                                     if k != "digest_id"}), {})

    def rendering(self, digest_id: str) -> RenderedDigest | None:
        rows = self._rows(select(renderings).where(renderings.c.digest_id == digest_id))
        if not rows:
            return None
        row = rows[0]
        return RenderedDigest(row.digest_id, row.subject, row.html, row.text, "")

    def take_tokens(self, name: str, rate: float, count: int) -> float:
        """Take `count` tokens from the bucket `name`, refilled at `rate` a second by the
        database's clock (the same for every machine); the seconds to wait before using
        them (0 when the bucket had them)."""
        if self._conn.dialect.name != "postgresql":
            raise StoreError("a rate shared by several senders needs a PostgreSQL store")
        capacity = max(1.0, rate * 0.1, float(count))
        with self._tx(write=True) as conn:
            conn.execute(text(
                "INSERT INTO rate_buckets (name, tokens, updated_at) VALUES "
                "(:name, :capacity, clock_timestamp()) ON CONFLICT (name) DO NOTHING"),
                {"name": name, "capacity": capacity})
            left = conn.execute(text(
                "UPDATE rate_buckets SET tokens = LEAST(:capacity, tokens + EXTRACT(EPOCH FROM "
                "clock_timestamp() - updated_at) * :rate) - :count, updated_at = "
                "clock_timestamp() WHERE name = :name RETURNING tokens"),
                {"name": name, "capacity": capacity, "rate": rate, "count": count}).scalar()
        return max(0.0, -float(left) / rate) if left is not None else 0.0


def _driver(conn: Connection) -> Any:
    """The driver's own connection, for a library that takes one (the queue's jobs)."""
    return conn.connection.driver_connection

