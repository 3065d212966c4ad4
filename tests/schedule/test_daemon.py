"""`publisher run`: its trigger, its firing loop over daylight-saving changes, its stop."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.models import Schedule
from publisher.schedule.daemon import Daemon, DueTrigger, StopRequest
from publisher.store.database import Store
from tests.conftest import SiteFactory, article
from tests.postgres import NEEDS_POSTGRES, postgres_url
from tests.schedule.test_runs import Clock, Recorder

CHICAGO = ZoneInfo("America/Chicago")
MORNING = Schedule("morning", "digest", "America/Chicago", cron="0 7 * * *",
                   catch_up=timedelta(hours=6))
QUARTER = Schedule("feed", "build", "America/Chicago", every=timedelta(minutes=15),
                   catch_up=timedelta(hours=1))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'publisher.db'}") as opened:
        yield opened


def test_the_trigger_gives_apscheduler_our_due_times() -> None:
    start = datetime(2026, 11, 1, 6, 50, tzinfo=CHICAGO)
    trigger = DueTrigger(MORNING, start)
    first = trigger.get_next_fire_time(None, start + timedelta(minutes=30))
    assert first == datetime(2026, 11, 1, 7, tzinfo=CHICAGO)  # passed during start-up: still fires
    assert trigger.get_next_fire_time(first, first + timedelta(seconds=3)) == datetime(
        2026, 11, 2, 7, tzinfo=CHICAGO)
    assert str(trigger) == "due[morning]"


def run_daemon(daemon: Daemon, clock: Clock, until: datetime, lag: timedelta) -> None:
    """The daemon's loop without APScheduler: jump to the next fire time, fire, repeat."""
    triggers = {s.name: DueTrigger(s, clock()) for s in daemon.enabled}
    pending = {name: t.get_next_fire_time(None, clock()) for name, t in triggers.items()}
    while True:
        name, when = min(((n, w) for n, w in pending.items() if w is not None),
                         key=lambda item: item[1])
        if when > until:
            return
        clock.now = when + lag
        daemon.fire(next(s for s in daemon.enabled if s.name == name))
        pending[name] = triggers[name].get_next_fire_time(when, clock())


@pytest.mark.parametrize("days", [(2026, 3, 6), (2026, 10, 30)], ids=["spring", "autumn"])
def test_the_daemon_runs_a_daily_job_once_a_day_through_a_change(
        store: Store, tmp_path: Path, days: tuple[int, int, int]) -> None:
    start = datetime(*days, 8, tzinfo=CHICAGO)
    clock, runner = Clock(start), Recorder()
    daemon = Daemon([MORNING, QUARTER], store, clock, runner)
    daemon.catch_up()
    run_daemon(daemon, clock, start + timedelta(days=4), lag=timedelta(seconds=2))
    mornings = [due.astimezone(CHICAGO) for name, due in runner.calls if name == "morning"]
    assert [m.strftime("%m-%d %H:%M") for m in mornings] == [
        (start + timedelta(days=n)).strftime("%m-%d 07:00") for n in range(5)]
    assert len({m.utcoffset() for m in mornings}) == 2
    feeds = [due for name, due in runner.calls if name == "feed"]
    hours = (start + timedelta(days=4)).astimezone(UTC) - start.astimezone(UTC)
    assert hours != timedelta(days=4)  # 95 or 97 hours: the clocks changed in between
    assert len(feeds) == hours // timedelta(minutes=15) + 1  # the catch-up, then each quarter
    assert {b - a for a, b in pairwise(feeds)} == {timedelta(minutes=15)}


def test_a_late_firing_catches_up_within_the_daemon_too(store: Store, tmp_path: Path) -> None:
    clock, runner = Clock(datetime(2026, 11, 23, 6, 55, tzinfo=CHICAGO)), Recorder()
    daemon = Daemon([QUARTER], store, clock, runner)
    daemon.catch_up()
    clock.now += timedelta(hours=3)  # the machine slept through nine due times
    daemon.fire(QUARTER)
    assert [due.astimezone(CHICAGO).strftime("%H:%M") for _, due in runner.calls] == [
        "06:45", "09:45"]


def test_once_stop_is_requested_no_job_starts(store: Store, tmp_path: Path) -> None:
    clock, runner = Clock(datetime(2026, 11, 23, 7, 5, tzinfo=CHICAGO)), Recorder()
    stop = StopRequest()
    daemon = Daemon([MORNING, QUARTER], store, clock, runner, stop)
    stop.set()
    assert daemon.catch_up() == [] and daemon.fire(QUARTER) == []
    assert runner.calls == []


def read_lines(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))


def wait_for(lines: queue.Queue[str], text: str, seen: list[str], timeout: float = 60) -> None:
    """Wait for a log line (never for a schedule): the process says when it is ready."""
    deadline = time.monotonic() + timeout
    while not any(text in line for line in seen):
        seen.append(lines.get(timeout=max(deadline - time.monotonic(), 0.01)))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_publisher_run_catches_up_then_exits_0_promptly_on_a_signal(
        make_site: SiteFactory, sig: signal.Signals) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01", id="a"),
                      "schedules/feed.toml": 'action = "build"\nevery = "15m"\n'
                                             'catch_up = "1h"\n'})
    process = subprocess.Popen(
        [sys.executable, "-c", "from publisher.cli import main; main()", "--site", str(root),
         "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=read_lines, args=(process.stderr, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        wait_for(lines, "feed: next due", seen)
        sent = time.monotonic()
        process.send_signal(sig)
        code = process.wait(timeout=20)
        took = time.monotonic() - sent
        wait_for(lines, "INFO stopped", seen, timeout=5)
    finally:
        process.kill()
        process.wait()
        reader.join(timeout=5)
        for stream in (process.stdout, process.stderr):
            stream.close()  # type: ignore[union-attr]
    assert code == 0, seen
    assert took < 5
    messages = [line.split(" ", 3)[3] for line in seen]
    assert messages[0] == "starting with 1 schedule(s); catching up on missed due times"
    assert messages[1].startswith("feed: ok (due ") and "published 1 article" in messages[1]
    assert messages[2].startswith("feed: next due ")
    assert messages[-2:] == ["stopping: no new job starts; waiting for running jobs to reach "
                             "a safe point", "stopped"]
    assert (root / "public/feed.json").is_file()
    assert datetime.now(UTC) > datetime(2026, 1, 1, tzinfo=UTC)  # the real clock drove it


class Runner:
    """A real `publisher run` process whose log lines are read as they come."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from publisher.cli import main; main()", "--site",
             str(root), "run"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=read_lines, args=(self.process.stderr, self.lines),
                                       daemon=True)
        self.reader.start()

    def wait_for(self, text: str, timeout: float = 60) -> float:
        started = time.monotonic()
        wait_for(self.lines, text, self.seen, timeout)
        return time.monotonic() - started

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.reader.join(timeout=5)
        self.process.stderr.close()  # type: ignore[union-attr]


@NEEDS_POSTGRES
def test_one_of_two_schedulers_leads_and_the_other_takes_over_when_it_dies(
        make_site: SiteFactory) -> None:
    """Two `publisher run` on one PostgreSQL store, as on two machines: one leads; SIGKILL it."""
    root = make_site({"content/a.md": article("A", "2026-11-01", id="a"),
                      "schedules/feed.toml": 'action = "build"\nevery = "1d"\n'
                                             'catch_up = "2d"\n'})
    for url in postgres_url():
        env = {**os.environ, "PUBLISHER_STORE_URL": url}
        first = Runner(root, env)
        try:
            first.wait_for("feed: next due")
            second = Runner(root, env)
            try:
                second.wait_for("another process leads the schedules; waiting to take over")
                first.process.kill()
                took = second.wait_for("starting with 1 schedule(s)")
                second.wait_for("feed: next due")
            finally:
                second.close()
        finally:
            first.close()
    assert took < 30
    ran = [line for line in first.seen + second.seen if "feed: ok" in line]
    assert len(ran) == 1, ran  # the due time the first leader ran is not run again
