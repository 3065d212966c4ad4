"""Run the schedules that are due, each due time at most once.

`run_due` is the one implementation behind both `publisher tick` (called once)
and `publisher run` (called by the daemon whenever a schedule's due time comes):

- The store remembers, per schedule, the last due time handled. The due times
  since then that are still within the schedule's `catch_up` collapse into one
  run, for the latest of them; older ones are recorded as skipped, in one record.
- A schedule never seen before behaves as if it had always been running: if one
  of its due times is less than `catch_up` ago, it runs now; otherwise it waits
  for the next one. Nothing before that is run or recorded.
- A per-schedule lock in the store (shared by every host), taken without waiting, and a
  fresh read of the state
  once it is held, mean that two processes never handle the same due time: the
  second finds the lock busy (and leaves the schedule to the first) or finds
  the due time already handled.
- A failure is recorded with its message and the other schedules still run; the
  next due time tries again. A job asked to stop (`JobStopped`) records that and
  leaves its due time unhandled, so the next run takes it up again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice, takewhile
from typing import Protocol
from zoneinfo import ZoneInfo

from publisher.errors import PublisherError, ScheduleError
from publisher.lock import LockBusy
from publisher.models import Clock, Schedule
from publisher.schedule.local import expand_local
from publisher.schedule.times import iter_due
from publisher.store.database import Store
from publisher.text import format_duration

log = logging.getLogger("publisher.schedule")

MAX_LISTED = 5  # skipped due times named in a message; the rest are counted
MAX_COUNTED = 10_000  # beyond this many skipped due times, say "more than"


class JobRunner(Protocol):
    """Does the work of one due time and says what it did in one line."""

    def run(self, schedule: Schedule, due_at: datetime) -> str:
        """Raise a `PublisherError` on failure, `JobStopped` when asked to stop."""
        ...


class JobStopped(ScheduleError):
    """A job stopped at a safe point because the process is stopping; it resumes next time."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What happened to one schedule in one pass: ok, failed, skipped, stopped or busy."""

    schedule: Schedule
    due_at: datetime | None
    outcome: str
    message: str = ""

    def line(self, *, full: bool = False) -> str:
        """For a log or a terminal: one line, unless `full` asks for the whole message."""
        due = f" (due {local_time(self.due_at, self.schedule.timezone)})" if self.due_at else ""
        first, *rest = self.message.splitlines() or [""]
        if full and rest:
            first = "\n".join([first, *rest])
        elif rest:
            first += f" (and {len(rest)} more lines)"
        return f"{self.schedule.name}: {self.outcome}{due}" + (f": {first}" if first else "")


@dataclass(frozen=True, slots=True)
class Missed:
    """Due times too old to run: how many, and the first few of them."""

    count: int
    listed: tuple[datetime, ...]
    last: datetime
    more: bool = False  # counting stopped at MAX_COUNTED

    def describe(self, schedule: Schedule) -> str:
        shown = ", ".join(local_time(d, schedule.timezone) for d in self.listed)
        if self.count > len(self.listed):
            shown += f", … {local_time(self.last, schedule.timezone)}"
        many = f"more than {self.count}" if self.more else str(self.count)
        noun = "due time" if self.count == 1 and not self.more else "due times"
        return (f"{many} missed {noun} older than the {format_duration(schedule.catch_up)} "
                f"catch-up: {shown}")


@dataclass(frozen=True, slots=True)
class Plan:
    """What one pass does for one schedule: record `missed` as skipped, then run `due`."""

    missed: Missed | None
    due: datetime | None


def plan_runs(schedule: Schedule, last_handled: datetime | None, now: datetime) -> Plan:
    """Split the due times in (last_handled, now] into the ones too late and the one to run."""
    oldest = now - schedule.catch_up  # due times before this are too late to run
    just_before = oldest - timedelta(microseconds=1)
    if last_handled is None:  # never seen: as if it had been running, start at the catch-up
        last_handled = just_before
    missed = _missed(schedule, last_handled, just_before) if last_handled < oldest else None
    recent = list(takewhile(lambda due: due <= now,
                            iter_due(schedule, max(last_handled, just_before))))
    return Plan(missed, recent[-1] if recent else None)


def _missed(schedule: Schedule, after: datetime, until: datetime) -> Missed | None:
    found = list(islice(takewhile(lambda due: due <= until, iter_due(schedule, after)),
                        MAX_COUNTED))
    if not found:
        return None
    return Missed(len(found), tuple(found[:MAX_LISTED]), found[-1],
                  more=len(found) == MAX_COUNTED)


def run_due(schedules: Iterable[Schedule], store: Store, clock: Clock, runner: JobRunner, *,
            should_stop: Callable[[], bool] = lambda: False,
            report: Callable[[RunOutcome], None] | None = None) -> list[RunOutcome]:
    """Handle what is due for each enabled schedule, one after another.

    `report` hears of each outcome as it happens (a log line, a printed line).
    Once `should_stop()` is true no further schedule is started.
    """
    outcomes: list[RunOutcome] = []

    def emit(outcome: RunOutcome) -> None:
        outcomes.append(outcome)
        if report is not None:
            report(outcome)

    schedules = list(schedules)
    if any(s.local for s in schedules):  # one run per group of readers, in their zone
        schedules = expand_local(schedules, store.reader_groups())
    for schedule in schedules:
        if not schedule.enabled:
            continue
        if should_stop():
            break
        _run_one(schedule, store, clock, runner, emit)
    return outcomes


def schedule_lock(name: str) -> str:
    """The store lock a process holds while it handles a schedule's due times."""
    return f"schedule {name}"


def _run_one(schedule: Schedule, store: Store, clock: Clock, runner: JobRunner,
             emit: Callable[[RunOutcome], None]) -> None:
    try:
        with store.lock(schedule_lock(schedule.name)):
            # Read the state only now: another process may have just handled a due time.
            state = store.get_schedule_state(schedule.name)
            last = state.last_due_at if state is not None else None
            now = clock()
            plan = plan_runs(schedule, last, now)
            if plan.missed is not None:
                emit(_skip(schedule, plan.missed, store, now))
                last = plan.missed.last
            if plan.due is not None:
                emit(_execute(schedule, plan.due, last, store, clock, runner))
    except LockBusy:
        emit(RunOutcome(schedule, None, "busy",
                        "another process is running this schedule; left to it"))


def _skip(schedule: Schedule, missed: Missed, store: Store, now: datetime) -> RunOutcome:
    message = missed.describe(schedule)
    store.record_schedule_run(schedule.name, missed.last, "skipped", message, now=now)
    return RunOutcome(schedule, None, "skipped", message)


def _execute(schedule: Schedule, due_at: datetime, last: datetime | None, store: Store,
             clock: Clock, runner: JobRunner) -> RunOutcome:
    """Run one due time and record how it went; never lets one schedule stop the rest."""
    started = clock()
    handled: datetime | None = due_at
    try:
        outcome, message = "ok", runner.run(schedule, due_at)
    except JobStopped as exc:
        outcome, message, handled = "stopped", exc.problem.message, last
    except PublisherError as exc:
        outcome, message = "failed", str(exc)
    except Exception as exc:  # a bug in one job must not stop the others
        log.exception("%s: unexpected error", schedule.name)
        outcome, message = "failed", f"unexpected error: {type(exc).__name__}: {exc}"
    store.record_schedule_run(schedule.name, handled, outcome, message, now=started)
    return RunOutcome(schedule, due_at, outcome, message)


def local_time(moment: datetime, timezone: str) -> str:
    """A moment as a reader of that zone says it: '2026-11-25 07:00 CST'."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d %H:%M" + (":%S" if local.second else "") + " %Z")


def failed(outcomes: Sequence[RunOutcome]) -> list[RunOutcome]:
    """The outcomes that mean "not everything that was due got done"."""
    return [o for o in outcomes if o.outcome in ("failed", "stopped")]
