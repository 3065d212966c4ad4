"""`publisher run`: the schedules as a long-running process on APScheduler 3.

APScheduler only wakes us up. When each schedule fires is computed by
`schedule_times` (through `DueTrigger`), and what a firing does is `run_due`,
the same code `publisher tick` runs, so the store's record of the last due time
handled, the catch-up rule and the per-schedule lock apply alike. At start-up
one pass of `run_due` over every schedule catches up what was missed while the
process was not running.

SIGTERM or SIGINT sets a stop event: no new job starts, a running job is asked
to stop at a safe point (it sees the same event), and `serve` returns once it
has. Schedules are read once, at start-up: a restart picks up changes.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from publisher.models import Clock, Schedule
from publisher.schedule.runs import JobRunner, RunOutcome, local_time, run_due
from publisher.schedule.times import next_due_times
from publisher.store.database import Store
from publisher.store.locks import Held, LockBusy

log = logging.getLogger("publisher.schedule")

LEADER_LOCK = "scheduler leader"
LOCAL_LOOK = timedelta(minutes=1)  # how often a local schedule's groups are looked at
LEAD_CHECK = 5.0  # seconds between a follower's tries, and between a leader's checks of its lock


class StopRequest:
    """A flag that a signal handler may set.

    A `threading.Event` takes a lock in `set()`, and a handler that interrupts
    the main thread while it holds that lock would wait for itself forever; a
    plain attribute cannot deadlock. Jobs poll `is_set()` at their safe points.
    """

    def __init__(self) -> None:
        self._requested = False

    def set(self) -> None:
        self._requested = True

    def is_set(self) -> bool:
        return self._requested

    def wait(self, poll: float = 0.2) -> None:
        while not self._requested:
            time.sleep(poll)

    def sleep(self, seconds: float, poll: float = 0.2) -> None:
        """Wait `seconds`, or less if a stop is requested meanwhile."""
        deadline = time.monotonic() + seconds
        while not self._requested and time.monotonic() < deadline:
            time.sleep(min(poll, max(deadline - time.monotonic(), 0)))


class DueTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 has no types
    """APScheduler's trigger interface over our own due-time arithmetic.

    Before the first firing it counts from `start` (when the start-up catch-up
    began), so a due time that passes while the process is starting still fires.
    """

    __slots__ = ("schedule", "start")

    def __init__(self, schedule: Schedule, start: datetime) -> None:
        self.schedule = schedule
        self.start = start

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime | None:
        after = previous_fire_time if previous_fire_time is not None else min(now, self.start)
        found = next_due_times(self.schedule, after, 1)
        return found[0] if found else None

    def __str__(self) -> str:
        return f"due[{self.schedule.name}]"


@dataclass
class Daemon:
    """What the long-running process does, apart from waiting: catch up, and fire."""

    schedules: Sequence[Schedule]
    store: Store
    clock: Clock
    runner: JobRunner
    stop: StopRequest = field(default_factory=StopRequest)

    @property
    def enabled(self) -> list[Schedule]:
        return [s for s in self.schedules if s.enabled]

    def catch_up(self) -> list[RunOutcome]:
        """One pass over every schedule: what fell due while nothing was running."""
        return self._run(self.enabled)

    def fire(self, schedule: Schedule) -> list[RunOutcome]:
        """A schedule's due time has come: handle it (and anything it missed)."""
        return self._run([schedule])

    def _run(self, schedules: Sequence[Schedule]) -> list[RunOutcome]:
        return run_due(schedules, self.store, self.clock, self.runner,
                       should_stop=self.stop.is_set, report=log_outcome)


def _waking(schedule: Schedule) -> Schedule:
    """When to look at a schedule: at its due times; a local one every minute, since its
    readers' zones (and so its due times) change while the process runs."""
    return replace(schedule, cron=None, every=LOCAL_LOOK) if schedule.local else schedule


def log_outcome(outcome: RunOutcome) -> None:
    level = logging.ERROR if outcome.outcome == "failed" else (
        logging.WARNING if outcome.outcome in ("skipped", "stopped", "busy") else logging.INFO)
    log.log(level, "%s", outcome.line(full=outcome.outcome == "failed"))


def serve(daemon: Daemon, *, check: float = LEAD_CHECK) -> None:
    """Lead the schedules when no other process does; otherwise wait, ready to take over.

    Leading is holding the store's `LEADER_LOCK`: on PostgreSQL an advisory lock that
    dies with its session, so when a leader's process or machine dies another
    process takes over within `check` seconds of the server noticing (at most half a
    minute), and catches up what came due meanwhile. The store's record of each
    schedule's last due time means the new leader neither skips nor repeats one.
    """
    waiting = False
    while not daemon.stop.is_set():
        try:
            with daemon.store.lock(LEADER_LOCK) as held:
                _lead(daemon, held, check)
                if daemon.stop.is_set():
                    return
                log.warning("lost the lead (the database session ended); waiting to lead again")
                waiting = True
        except LockBusy:
            if not waiting:
                log.info("another process leads the schedules; waiting to take over")
                waiting = True
            daemon.stop.sleep(check)
    log.info("stopped")


def _lead(daemon: Daemon, held: Held, check: float) -> None:
    """Catch up, then fire each schedule at its due times until stopped or the lead is lost."""
    started = daemon.clock()
    log.info("starting with %d schedule(s); catching up on missed due times",
             len(daemon.enabled))
    daemon.catch_up()
    if daemon.stop.is_set():
        log.info("stopped")
        return
    scheduler = BackgroundScheduler(timezone=UTC, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
    for schedule in daemon.enabled:
        scheduler.add_job(daemon.fire, DueTrigger(_waking(schedule), started), args=[schedule],
                          id=schedule.name, name=schedule.name)
    scheduler.start()
    for job in scheduler.get_jobs():
        when = job.next_run_time
        log.info("%s: next due %s", job.name,
                 local_time(when, job.args[0].timezone) if when else "never")
    while not daemon.stop.is_set() and held.alive():
        daemon.stop.sleep(check)
    log.info("stopping: no new job starts; waiting for running jobs to reach a safe point")
    scheduler.shutdown(wait=True)
    if daemon.stop.is_set():
        log.info("stopped")


@contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT set `stop` instead of ending the process."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()  # nothing else here: the interrupted code may hold any lock

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the caller's own stay in place
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def configure_logging() -> None:
    """One line per event on stderr; APScheduler's own chatter only when it matters."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
