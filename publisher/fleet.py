"""A digest sent by a pool of workers: queued in chunks, sent by `publisher worker`s, watched.

With `[queue]`, `digest send` does what it always does up to the messages
(prepare, record, publish the web copy), then keeps the rendering in the store
and, in one transaction, queues a ledger row for every reader and a job for
every chunk of them. Workers on any machine with the same configuration take
the jobs; each sends its chunk through the ordinary dispatcher, holding the
digest's lock shared and each row under a lease, so that any number of them,
and a rerun of `digest send`, never send one reader a message twice (but for a
message in flight when a worker is killed). The pool keeps one rate: every
worker takes its tokens from a bucket in the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from publisher.config import Settings
from publisher.delivery import Transport
from publisher.delivery.dispatcher import STOP_REQUESTED, Dispatch, SendReport, dispatch
from publisher.delivery.pace import Governor, SharedRate
from publisher.digest.issue import DigestPlan, Warn
from publisher.errors import DeliveryError
from publisher.models import Clock, DeliveryReport, NoReaders
from publisher.pool.engine import Pool
from publisher.send import (
    SIGNING,
    DigestRun,
    Ready,
    complete_if_done,
    message_maker,
    ready_to_send,
    retry_policy,
    return_path,
)
from publisher.store.database import Store

WATCH_EVERY = 1.0  # seconds between two looks at a queued digest's ledger


@dataclass(frozen=True, slots=True)
class Queued:
    """A digest handed to the pool: how many readers, in how many jobs."""

    digest_id: str
    readers: int
    chunks: int


def open_pool(settings: Settings) -> Pool:
    """The site's queue; `[queue]` must be set (the caller checks), the store PostgreSQL."""
    queue = settings.queue
    assert queue is not None
    pool = Pool(settings.store_url, heartbeat=queue.heartbeat, stalled_after=queue.stalled_after)
    pool.ensure_schema()
    return pool


def queue_digest(run: DigestRun, pool: Pool, *, schedule: DigestPlan,
                 due_at: datetime | None = None, warn: Warn | None = None
                 ) -> Queued | DeliveryReport | NoReaders | None:
    """Record and publish the digest, then queue its readers in chunks for the workers.

    Run again for the same digest, it queues the readers it has no row for yet and
    jobs for every row still queued (a job twice over costs a look, never a message).
    """
    if schedule.cadence is not None:
        raise DeliveryError(f"readers choose {schedule.name!r} as their cadence, so each gets "
                            "their own articles, which the workers cannot render",
                            hint="set choosable = false on it to send it through the pool")
    ready = ready_to_send(run, schedule, due_at, warn)
    if not isinstance(ready, Ready):
        return ready
    settings, store = run.settings, run.store
    assert settings.queue is not None
    store.save_rendering(ready.rendered)
    chunks = store.queue_digest(
        ready.digest.id, chunk_size=settings.queue.chunk_size, now=run.clock(),
        enqueue=lambda connection, found: pool.enqueue(connection, ready.digest.id, found))
    owed = store.count_recipients(ready.digest.id, now=run.clock())
    return Queued(ready.digest.id, owed, len(chunks))


def send_chunk(settings: Settings, store: Store, transport: Transport, clock: Clock,
               pool: Pool, digest_id: str, first: int, last: int, *,
               should_stop: Callable[[], bool]) -> SendReport:
    """One worker's job: send the chunk of readers with ids in [first, last].

    Stopped on request, the rest of the chunk is queued again at once; rows left
    waiting for a retry, or held by a worker that died, get a job when they are due.
    """
    digest, rendered = store.get_digest(digest_id), store.rendering(digest_id)
    if digest is None or rendered is None:
        raise DeliveryError(f"digest {digest_id} is not in the store, or not rendered for the "
                            "workers", hint="send it again with `publisher digest send`")
    secret = settings.signing_key(SIGNING)
    job = Dispatch(store, digest_id, return_path(settings, digest_id, secret),
                   message_maker(settings, digest, rendered, secret), clock,
                   retry_policy(settings), chunk=(first, last))
    d = settings.delivery
    shared = SharedRate(partial(store.take_tokens, f"rate {settings.title}", d.rate),
                        d.rate).take if d.rate > 0 else None
    governor = Governor(0.0, transport.concurrency, pause=d.throttle_pause, shared=shared)
    report = dispatch(job, transport, governor=governor, should_stop=should_stop)
    if report.stopped == STOP_REQUESTED:
        pool.enqueue(None, digest_id, [(first, last)])
    elif report.stopped is None:
        store.settle_chunk(digest_id, (first, last), now=clock())
        # Rows a dead worker held wait for their leases; rows a soft failure deferred wait
        # for their retry. The chunk comes back when the first of them is due.
        later = [at for at in (store.leased_until(digest_id, (first, last)),
                               report.next_attempt_at) if at is not None]
        if later:
            pool.enqueue(None, digest_id, [(first, last)], at=min(later))
    complete_if_done(store, report, clock)
    return report


def watch(store: Store, pool: Pool, digest_id: str, clock: Clock, *,
          progress: Callable[[dict[str, int]], None] | None = None,
          sleep: Callable[[float], None] = time.sleep,
          should_stop: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Wait until every reader's first attempt is made (rows waiting for a retry have jobs
    of their own, due later), or no job of the digest is left, or a stop is asked for;
    its ledger counts by status."""
    while True:
        counts = store.delivery_counts(digest_id)
        if progress is not None:
            progress(counts)
        if counts["queued"] + counts["pending"] == 0 or should_stop() or \
                pool.live_jobs(digest_id) == 0:
            return counts
        sleep(WATCH_EVERY)
