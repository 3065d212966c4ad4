"""`publisher tick`, `publisher run` and `publisher schedule list`: the timetable at work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

import click

from publisher.cli import AppContext, cli, pass_app
from publisher.clock import system_clock
from publisher.config import Settings
from publisher.errors import ScheduleError
from publisher.jobs import SiteJobs
from publisher.models import Schedule
from publisher.schedule.daemon import (
    Daemon,
    StopRequest,
    configure_logging,
    serve,
    stop_on_signals,
)
from publisher.schedule.files import load_schedules
from publisher.schedule.runs import RunOutcome, failed, local_time, run_due
from publisher.schedule.times import next_due_times
from publisher.store.database import ScheduleState, Store
from publisher.text import format_duration

NEXT_COUNT = 3


@contextlib.contextmanager
def _store(settings: Settings) -> Iterator[Store]:
    with Store.open(settings.store_url, settings.store_source) as store:
        yield store


@cli.command()
@click.option("--now", metavar="ISO-DATETIME",
              help="Act as if it were this moment (without an offset, in the site's timezone).")
@pass_app
def tick(app: AppContext, now: str | None) -> None:
    """Run each schedule whose due time has come since it last ran, once, then exit.

    Made for system cron, a CI job or a systemd timer. Exit status 0 when every
    job that was due succeeded (or nothing was due), 1 when one failed or was
    stopped. Another process already running a schedule is left to it.
    """
    app.now = now
    clock = app.clock
    settings = app.settings
    schedules = load_schedules(settings)
    if not any(s.enabled for s in schedules):
        click.echo(f"no enabled schedules in {settings.schedules_dir}/")
        return
    stop = StopRequest()
    with _store(settings) as store, stop_on_signals(stop):
        runner = SiteJobs(settings, clock, store, should_stop=stop.is_set)
        outcomes = run_due(schedules, store, clock, runner,
                           should_stop=stop.is_set, report=_echo)
    if failed(outcomes):
        raise click.exceptions.Exit(1)


def _echo(outcome: RunOutcome) -> None:
    if outcome.outcome in ("failed", "stopped"):
        click.echo(click.style("error: ", fg="red", bold=True) + outcome.line(full=True),
                   err=True)
    else:
        click.echo(outcome.line())


@cli.command(name="run")
@pass_app
def run_(app: AppContext) -> None:
    """Run the schedules until stopped (SIGTERM or Ctrl-C), logging each run to stderr.

    Due times missed while it was not running are caught up at start-up. Schedules
    are read once: restart it after changing schedules/.
    """
    settings = app.settings
    schedules = load_schedules(settings)
    if not any(s.enabled for s in schedules):
        raise ScheduleError("there is no enabled schedule to run", path=settings.schedules_dir,
                            hint='add a file such as schedules/feed.toml with action = "build" '
                            'and every = "15m"')
    configure_logging()
    stop = StopRequest()
    with _store(settings) as store, stop_on_signals(stop):
        runner = SiteJobs(settings, system_clock, store, should_stop=stop.is_set)
        serve(Daemon(schedules, store, system_clock, runner, stop))


@cli.group()
def schedule() -> None:
    """The timetable in schedules/: when each schedule runs, and how it last went."""


@schedule.command(name="list")
@click.option("--now", metavar="ISO-DATETIME", help="List as if it were this moment.")
@pass_app
def list_(app: AppContext, now: str | None) -> None:
    """Each schedule with its next run times (in its timezone and in UTC) and its last run."""
    app.now = now
    moment = app.clock()
    schedules = load_schedules(app.settings)
    if not schedules:
        click.echo(f"no schedules in {app.settings.schedules_dir}/")
        return
    with _store(app.settings) as store:
        for number, item in enumerate(schedules):
            if number:
                click.echo()
            for line in describe(item, store.get_schedule_state(item.name), moment):
                click.echo(line)


def describe(item: Schedule, state: ScheduleState | None, now: datetime) -> list[str]:
    """The lines `schedule list` shows for one schedule."""
    when = f"every {format_duration(item.every)}" if item.every else f'cron "{item.cron}"'
    where = "in each reader's zone (default " + item.timezone + ")" if item.local \
        else f"in {item.timezone}"
    lines = [f"{item.name}: {item.action}, {when} {where}, catch-up "
             f"{format_duration(item.catch_up)} ({item.source})"]
    if not item.enabled:
        lines.append("  disabled")
    else:
        for index, due in enumerate(next_due_times(item, now, NEXT_COUNT)):
            label = "next" if index == 0 else "    "
            lines.append(f"  {label}  {local_time(due, item.timezone)}  "
                         f"({local_time(due, 'UTC')})")
    lines.append("  last  " + _last(item, state))
    return lines


def _last(item: Schedule, state: ScheduleState | None) -> str:
    if state is None:
        return "never ran"
    due = f", due {local_time(state.last_due_at, item.timezone)}" if state.last_due_at else ""
    first = state.message.splitlines()[0] if state.message else ""
    ran = local_time(state.ran_at, item.timezone)
    return f"{state.outcome}{due}, at {ran}" + (f": {first}" if first else "")
