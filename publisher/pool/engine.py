"""procrastinate, and its quirks, in one place: chunk jobs deferred, taken, swept.

- Jobs are deferred on the caller's own connection, inside the transaction that
  queues their ledger rows (`Task.configure(connection=…)`), so a crash between
  the two leaves neither.
- A worker runs the chunk jobs in threads (`concurrency` at a time). SIGTERM
  sets a stop that the jobs see between messages; the worker then shuts down
  gracefully (running jobs finish what they hold).
- A worker killed with SIGKILL leaves its job "doing" for good: procrastinate
  does not retry it by itself. Every worker runs a sweeper that gives such jobs
  (those of workers whose heartbeat stopped) back to the queue; the rows the
  dead worker held wait for their leases, the rest go out at once.
- The schema is procrastinate's own, applied to the store's database when it
  is missing (`ensure_schema`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from procrastinate.types import JSONValue
from sqlalchemy import make_url

from publisher.errors import ConfigError, Problem

log = logging.getLogger("publisher.pool")

TASK = "publisher.send_chunk"
QUEUE = "publisher"
ChunkRunner = Callable[[str, int, int], None]
"""Sends one chunk: (digest id, first subscriber id, last subscriber id)."""


def conninfo(store_url: str) -> str:
    """The store's SQLAlchemy URL as the libpq address procrastinate's driver takes."""
    url = make_url(store_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError([Problem(
            "a pool of workers needs a PostgreSQL store", key="queue",
            hint="set [store] url (or PUBLISHER_STORE_URL) to postgresql+psycopg://…, or "
            "remove [queue] to send from one process")])
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Pool:
    """The queue of one site's chunk jobs."""

    def __init__(self, store_url: str, *, heartbeat: float = 10.0,
                 stalled_after: float = 30.0) -> None:
        import procrastinate

        self.heartbeat, self.stalled_after = heartbeat, stalled_after
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo(store_url)))
        self._runner: ChunkRunner | None = None
        self._task = self.app.task(name=TASK, queue=QUEUE)(self._run)

    def _run(self, digest_id: str, first: int, last: int) -> None:
        if self._runner is None:
            raise RuntimeError("this process sends no chunks: it is not a worker")
        self._runner(digest_id, first, last)

    def ensure_schema(self) -> None:
        """Create procrastinate's tables in the store's database if they are not there."""
        with self.app.open():
            connector = self.app.connector.get_sync_connector()
            found = connector.execute_query_one(
                query="SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present")
            if not found["present"]:
                self.app.schema_manager.apply_schema()

    def enqueue(self, connection: Any, digest_id: str, chunks: Sequence[tuple[int, int]],
                *, at: datetime | None = None) -> None:
        """Defer one job per chunk; on `connection`, inside the caller's transaction if given."""
        options: dict[str, Any] = {}
        if connection is not None:
            options["connection"] = connection
        if at is not None:
            options["schedule_at"] = at
        jobs: list[dict[str, JSONValue]] = [{"digest_id": digest_id, "first": first, "last": last}
                                            for first, last in chunks]
        if connection is None and self._runner is None:
            with self.app.open():
                self._task.configure(**options).batch_defer(*jobs)
        else:  # on the caller's connection, or from a job: the worker has the app open
            self._task.configure(**options).batch_defer(*jobs)

    def live_jobs(self, digest_id: str) -> int:
        """Jobs of this digest waiting or being worked on."""
        with self.app.open():
            connector = self.app.connector.get_sync_connector()
            row = connector.execute_query_one(
                query="SELECT count(*) AS live FROM procrastinate_jobs WHERE task_name = "
                "%(task)s AND status IN ('todo', 'doing') AND args->>'digest_id' = %(digest)s",
                task=TASK, digest=digest_id)
        return int(row["live"])

    def work(self, runner: ChunkRunner, *, concurrency: int,
             should_stop: Callable[[], bool]) -> None:
        """Take chunk jobs until `should_stop()`; then let the running ones reach a safe point."""
        self._runner = runner
        asyncio.run(self._work(concurrency, should_stop))

    async def _work(self, concurrency: int, should_stop: Callable[[], bool]) -> None:
        async with self.app.open_async():
            worker = asyncio.create_task(self.app.run_worker_async(
                queues=[QUEUE], concurrency=concurrency, install_signal_handlers=False,
                update_heartbeat_interval=self.heartbeat,
                stalled_worker_timeout=self.stalled_after, delete_jobs="successful"))
            sweeper = asyncio.create_task(self._sweep())
            while not should_stop() and not worker.done():
                await asyncio.sleep(0.2)
            sweeper.cancel()
            worker.cancel()
            for task in (worker, sweeper):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _sweep(self) -> None:
        """Give the jobs of workers whose heartbeat stopped back to the queue."""
        while True:
            await asyncio.sleep(self.heartbeat)
            stalled = await self.app.job_manager.get_stalled_jobs(
                queue=QUEUE, seconds_since_heartbeat=self.stalled_after)
            for job in stalled:
                log.warning("a worker stopped answering while it sent job %s (%s); "
                            "it goes back to the queue", job.id, job.task_kwargs)
                await self.app.job_manager.retry_job(job)
