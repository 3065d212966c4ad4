"""Running what is due: catch-up, skipped runs, failures, locks, and `publisher tick`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import cli
from publisher.errors import ContentError, Problem
from publisher.models import Schedule
from publisher.schedule.runs import JobStopped, RunOutcome, run_due, schedule_lock
from publisher.store.database import Store
from publisher.text import parse_duration
from tests.conftest import SiteFactory, article

CHICAGO = "America/Chicago"
MON_0700 = datetime(2026, 11, 23, 13, tzinfo=UTC)  # Monday 07:00 in Chicago
DAY = timedelta(days=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    """A job runner that remembers what it was asked to run, and fails when told to."""

    def __init__(self, failures: dict[str, BaseException] | None = None) -> None:
        self.calls: list[tuple[str, datetime]] = []
        self.failures = failures or {}

    def run(self, schedule: Schedule, due_at: datetime) -> str:
        self.calls.append((schedule.name, due_at))
        failure = self.failures.get(schedule.name)
        if failure is not None:
            raise failure
        return f"ran {schedule.name}"


def daily(name: str = "digest", cron: str = "0 7 * * *", catch_up: str = "6h",
          **fields: object) -> Schedule:
    return Schedule(name, "digest", CHICAGO, cron=cron, catch_up=parse_duration(catch_up),
                    **fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'publisher.db'}") as opened:
        yield opened


def tick(schedules: list[Schedule], store: Store, now: datetime, runner: Recorder
         ) -> list[tuple[str, str, datetime | None, str]]:
    outcomes = run_due(schedules, store, Clock(now), runner)
    return [(o.schedule.name, o.outcome, o.due_at, o.message) for o in outcomes]


def state(store: Store, name: str) -> tuple[datetime | None, str, str] | None:
    found = store.get_schedule_state(name)
    return None if found is None else (found.last_due_at, found.outcome, found.message)


# -- a schedule's first pass -----------------------------------------------------------

def test_a_new_schedule_runs_a_due_time_within_catch_up_once(store: Store) -> None:
    runner = Recorder()
    now = MON_0700 + timedelta(hours=2)
    assert tick([daily()], store, now, runner) == [
        ("digest", "ok", MON_0700, "ran digest")]
    assert state(store, "digest") == (MON_0700, "ok", "ran digest")
    assert tick([daily()], store, now + timedelta(minutes=5), runner) == []
    assert runner.calls == [("digest", MON_0700)]


def test_a_new_schedule_does_not_run_the_past_beyond_catch_up(store: Store) -> None:
    runner = Recorder()
    assert tick([daily()], store, MON_0700 + timedelta(hours=7), runner) == []
    assert runner.calls == [] and state(store, "digest") is None
    assert tick([daily()], store, MON_0700 + DAY, runner) == [
        ("digest", "ok", MON_0700 + DAY, "ran digest")]


# -- missed runs ----------------------------------------------------------------------

def test_three_missed_days_run_once_and_the_older_ones_are_recorded_skipped(
        store: Store) -> None:
    runner = Recorder()
    tick([daily()], store, MON_0700, runner)
    thursday = MON_0700 + 3 * DAY
    assert tick([daily()], store, thursday + timedelta(hours=1), runner) == [
        ("digest", "skipped", None, "2 missed due times older than the 6h catch-up: "
         "2026-11-24 07:00 CST, 2026-11-25 07:00 CST"),
        ("digest", "ok", thursday, "ran digest"),
    ]
    assert runner.calls == [("digest", MON_0700), ("digest", thursday)]
    assert state(store, "digest") == (thursday, "ok", "ran digest")


def test_missed_runs_all_too_old_are_recorded_and_nothing_runs(store: Store) -> None:
    runner = Recorder()
    tick([daily()], store, MON_0700, runner)
    later = MON_0700 + 3 * DAY + timedelta(hours=8)
    message = ("3 missed due times older than the 6h catch-up: 2026-11-24 07:00 CST, "
               "2026-11-25 07:00 CST, 2026-11-26 07:00 CST")
    assert tick([daily()], store, later, runner) == [
        ("digest", "skipped", None, message)]
    assert state(store, "digest") == (MON_0700 + 3 * DAY, "skipped", message)
    assert tick([daily()], store, later, runner) == []
    assert runner.calls == [("digest", MON_0700)]


def test_many_missed_runs_are_summed_up_in_one_record(store: Store) -> None:
    quarter = Schedule("feed", "build", CHICAGO, every=timedelta(minutes=15),
                       catch_up=timedelta(hours=1))
    runner = Recorder()
    tick([quarter], store, MON_0700, runner)
    [skipped, ran] = tick([quarter], store, MON_0700 + DAY, runner)
    assert skipped[1:3] == ("skipped", None)
    assert skipped[3] == (  # 07:15 to 05:45 the next day; 06:00 to 07:00 are within the hour
        "91 missed due times older than the 1h catch-up: 2026-11-23 07:15 CST, "
        "2026-11-23 07:30 CST, 2026-11-23 07:45 CST, 2026-11-23 08:00 CST, "
        "2026-11-23 08:15 CST, … 2026-11-24 05:45 CST")
    assert ran[1:3] == ("ok", MON_0700 + DAY)


# -- changes, failures, stops ---------------------------------------------------------

def test_a_schedule_changed_between_runs_does_not_run_the_past_again(
        store: Store) -> None:
    runner = Recorder()
    tick([daily()], store, MON_0700, runner)
    earlier = daily(cron="0 6 * * *")  # moved to 06:00 after the 07:00 run went out
    assert tick([earlier], store, MON_0700 + timedelta(hours=1), runner) == []
    tuesday_0600 = MON_0700 + DAY - timedelta(hours=1)
    assert tick([earlier], store, tuesday_0600, runner) == [
        ("digest", "ok", tuesday_0600, "ran digest")]
    elsewhere = replace(earlier, timezone="Europe/Lisbon")  # 06:00 Lisbon is 00:00 Chicago
    assert tick([elsewhere], store, tuesday_0600 + timedelta(hours=2), runner) == []
    wednesday = datetime(2026, 11, 25, 6, tzinfo=UTC)
    assert tick([elsewhere], store, wednesday, runner)[0][1:3] == ("ok", wednesday)
    assert len(runner.calls) == 3


def test_a_failure_is_recorded_the_others_still_run_and_the_next_due_time_tries_again(
        store: Store) -> None:
    problem = ContentError([Problem("missing date", path="content/a.md", line=1, key="date")])
    runner = Recorder({"a": problem, "b": RuntimeError("disk on fire")})
    schedules = [daily("a"), daily("b"), daily("c")]
    assert tick(schedules, store, MON_0700, runner) == [
        ("a", "failed", MON_0700, "1 problem found\ncontent/a.md:1: date: missing date"),
        ("b", "failed", MON_0700, "unexpected error: RuntimeError: disk on fire"),
        ("c", "ok", MON_0700, "ran c"),
    ]
    assert state(store, "a") == (MON_0700, "failed",
                                 "1 problem found\ncontent/a.md:1: date: missing date")
    assert tick(schedules, store, MON_0700 + timedelta(hours=1), runner) == []
    runner.failures.clear()
    assert [o[:3] for o in tick(schedules, store, MON_0700 + DAY, runner)] == [
        ("a", "ok", MON_0700 + DAY), ("b", "ok", MON_0700 + DAY), ("c", "ok", MON_0700 + DAY)]


def test_a_stopped_job_leaves_its_due_time_to_the_next_pass(store: Store) -> None:
    stopping = {"now": False}

    class Stops(Recorder):
        def run(self, schedule: Schedule, due_at: datetime) -> str:
            super().run(schedule, due_at)
            stopping["now"] = True
            raise JobStopped("stopped after 40 of 90 messages; the rest go next time")

    runner = Stops()
    outcomes = run_due([daily("a"), daily("b")], store, Clock(MON_0700), runner,
                       should_stop=lambda: stopping["now"])
    assert [(o.schedule.name, o.outcome) for o in outcomes] == [("a", "stopped")]
    assert state(store, "a") == (None, "stopped",
                                 "stopped after 40 of 90 messages; the rest go next time")
    runner = Recorder()
    assert tick([daily("a")], store, MON_0700 + timedelta(minutes=5), runner) == [
        ("a", "ok", MON_0700, "ran a")]


def test_a_disabled_schedule_never_runs(store: Store) -> None:
    runner = Recorder()
    assert tick([daily(enabled=False)], store, MON_0700, runner) == []
    assert runner.calls == [] and state(store, "digest") is None


def test_a_schedule_locked_by_another_process_is_left_to_it(store: Store) -> None:
    runner = Recorder()
    with store.lock(schedule_lock("a")):
        assert tick([daily("a"), daily("b")], store, MON_0700, runner) == [
            ("a", "busy", None, "another process is running this schedule; left to it"),
            ("b", "ok", MON_0700, "ran b"),
        ]
    assert runner.calls == [("b", MON_0700)] and state(store, "a") is None


def test_an_outcome_line_names_the_due_time_in_the_schedule_zone() -> None:
    outcome = RunOutcome(daily(), MON_0700, "failed", "3 problems found\nfirst\nsecond")
    assert outcome.line() == ("digest: failed (due 2026-11-23 07:00 CST): 3 problems found "
                              "(and 2 more lines)")
    assert outcome.line(full=True) == ("digest: failed (due 2026-11-23 07:00 CST): "
                                       "3 problems found\nfirst\nsecond")


# -- publisher tick and publisher schedule list ---------------------------------------

FEED = 'action = "build"\nevery = "15m"\ncatch_up = "1h"\n'


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_tick_runs_what_is_due_and_exits_0(make_site: SiteFactory) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-25 11:50", id="a"),
                      "schedules/feed.toml": FEED})
    code, out, err = run_cli("--site", str(root), "tick", "--now", "2026-11-25T12:05:00Z")
    assert (code, err) == (0, "")
    written = len([p for p in (root / "public").rglob("*") if p.is_file()])
    assert out == (f"feed: ok (due 2026-11-25 12:00 WET): published 1 article: {written} "
                   "written, 0 unchanged, 0 removed\n")
    assert (root / "public/feed.json").is_file()
    code, out, err = run_cli("--site", str(root), "tick", "--now", "2026-11-25T12:10:00Z")
    assert (code, out, err) == (0, "", "")


def test_tick_publishes_an_article_whose_date_has_come(make_site: SiteFactory) -> None:
    root = make_site({"content/a.md": article("Now", "2026-11-25 11:00", id="a"),
                      "content/b.md": article("Later", "2026-11-25 12:20", id="b"),
                      "schedules/feed.toml": FEED})
    run_cli("--site", str(root), "tick", "--now", "2026-11-25T12:05:00Z")
    assert "Later" not in (root / "public/feed.json").read_text("utf-8")
    code, out, _ = run_cli("--site", str(root), "tick", "--now", "2026-11-25T12:31:00Z")
    assert code == 0 and out.startswith("feed: ok (due 2026-11-25 12:30 WET): published 2 ")
    assert "Later" in (root / "public/feed.json").read_text("utf-8")


def test_tick_exits_1_when_a_job_fails_and_2_for_a_bad_option(make_site: SiteFactory) -> None:
    root = make_site({"content/a.md": "---\ntitle: A\n---\nno date\n",
                      "schedules/feed.toml": FEED})
    code, out, err = run_cli("--site", str(root), "tick", "--now", "2026-11-25T12:05:00Z")
    assert (code, out) == (1, "")
    assert err.startswith("error: feed: failed (due 2026-11-25 12:00 WET): 1 problem in "
                          "1 file; nothing was written\ncontent/a.md:1: date: missing date")
    code, _, err = run_cli("--site", str(root), "tick", "--now", "yesterday")
    assert code == 2 and "'yesterday' is not an ISO 8601 date-time" in err


def test_tick_without_schedules_says_so_and_touches_nothing(make_site: SiteFactory) -> None:
    root = make_site({"schedules/off.toml": 'action = "build"\nevery = "1h"\nenabled = false\n'})
    assert run_cli("--site", str(root), "tick") == (0, "no enabled schedules in schedules/\n", "")
    assert not (root / "publisher.db").exists() and not (root / "public").exists()


def test_schedule_list_shows_the_next_runs_in_both_zones_and_the_last_run(
        make_site: SiteFactory) -> None:
    root = make_site({
        "content/a.md": article("A", "2026-11-01", id="a"),
        "schedules/feed.toml": FEED,
        "schedules/morning.toml": 'action = "digest"\ncron = "0 7 * * mon-fri"\n'
                                  'timezone = "America/Chicago"\nenabled = false\n',
    })
    run_cli("--site", str(root), "tick", "--now", "2026-11-25T12:05:00Z")
    code, out, err = run_cli("--site", str(root), "schedule", "list", "--now",
                             "2026-11-25T12:20:00Z")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:4] == [
        "feed: build, every 15m in Europe/Lisbon, catch-up 1h (schedules/feed.toml)",
        "  next  2026-11-25 12:30 WET  (2026-11-25 12:30 UTC)",
        "        2026-11-25 12:45 WET  (2026-11-25 12:45 UTC)",
        "        2026-11-25 13:00 WET  (2026-11-25 13:00 UTC)",
    ]
    assert lines[4].startswith("  last  ok, due 2026-11-25 12:00 WET, at 2026-11-25 12:05 "
                               "WET: published 1 article: ")
    assert lines[5:] == [
        "",
        'morning: digest, cron "0 7 * * mon-fri" in America/Chicago, catch-up 6h '
        "(schedules/morning.toml)",
        "  disabled",
        "  last  never ran",
    ]


# -- two processes at once ------------------------------------------------------------

def test_two_ticks_started_at_the_same_moment_run_a_job_once(make_site: SiteFactory) -> None:
    """Real processes: the build is slow enough (200 articles) for the two to overlap."""
    files: dict[str, str | bytes] = {
        f"content/a{n}.md": article(f"Article {n}", f"2026-11-{n % 20 + 1:02} 09:00",
                                    id=f"a{n}", tags=f"[t{n % 25}]")
        for n in range(200)
    }
    root = make_site({**files, "schedules/feed.toml": FEED})
    command = [sys.executable, "-c", "from publisher.cli import main; main()",
               "--site", str(root), "tick", "--now", "2026-11-25T12:05:00Z"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert [code for code, _, _ in results] == [0, 0], results
    outputs = sorted(out for _, out, _ in results)
    ran = [o for o in outputs if o.startswith("feed: ok (due 2026-11-25 12:00 WET)")]
    assert len(ran) == 1, outputs
    other = outputs[0] if outputs[1] in ran else outputs[1]
    assert other in ("", "feed: busy: another process is running this schedule; left to it\n")
    with Store.open(f"sqlite:///{root / 'publisher.db'}") as store:
        found = store.get_schedule_state("feed")
    assert found is not None
    assert (found.last_due_at, found.outcome) == (datetime(2026, 11, 25, 12, tzinfo=UTC), "ok")
