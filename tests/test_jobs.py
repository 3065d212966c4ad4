"""The real jobs: a build that tells the hubs of changed feeds, and the digest hand-over."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.build.websub import HubNotifier
from publisher.clock import fixed_clock
from publisher.config import load_settings
from publisher.jobs import SiteJobs
from publisher.models import Schedule
from publisher.schedule.runs import JobStopped, run_due
from publisher.store.database import Store
from tests.build.test_websub import Hub, Sleeps, running
from tests.conftest import BASE_CONFIG, SiteFactory, article
from tests.postgres import NEEDS_POSTGRES, postgres_url

NOW = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
BUILD = Schedule("feed", "build", "UTC", every=timedelta(minutes=15))
DIGEST = Schedule("weekly", "digest", "UTC", cron="0 12 * * *", min_items=1, max_items=30)
BASE = "https://news.example.org/"


def site_with_hubs(make_site: SiteFactory, *hubs: Hub) -> Path:
    listed = ", ".join(f'"{hub.url}"' for hub in hubs)
    return make_site({"content/a.md": article("A", "2026-11-20", id="a", tags="[ferries]")},
                     config=BASE_CONFIG + f"\n[feeds]\nhubs = [{listed}]\n")


Jobs = Callable[..., SiteJobs]


@pytest.fixture
def jobs() -> Iterator[Jobs]:
    """Makes a site's jobs on a store of their own, as `publisher tick` does."""
    opened: list[Store] = []

    def make(root: Path, now: datetime = NOW,
             should_stop: Callable[[], bool] = lambda: False) -> SiteJobs:
        settings = load_settings(root)
        opened.append(Store.open(settings.store_url))
        return SiteJobs(settings, fixed_clock(now), opened[-1], should_stop=should_stop,
                        notifier=HubNotifier(sleep=Sleeps()))

    yield make
    for store in opened:
        store.close()


def test_a_build_that_changed_feeds_tells_every_hub_of_each_one(
        make_site: SiteFactory, jobs: Jobs) -> None:
    one, two = Hub(), Hub()
    root = site_with_hubs(make_site, one, two)
    with running(one, two):
        summary = jobs(root).run(BUILD, NOW)
    feeds = {BASE + name for name in ("rss.xml", "atom.xml", "feed.json", "tags/ferries/rss.xml",
                                      "tags/ferries/atom.xml", "tags/ferries/feed.json")}
    assert set(one.topics) == set(two.topics) == feeds
    assert len(one.topics) == len(feeds)
    assert summary.endswith("; notified 2 hubs of 6 changed feeds")


def test_a_build_that_changed_no_feed_tells_no_hub(make_site: SiteFactory, jobs: Jobs) -> None:
    hub = Hub()
    root = site_with_hubs(make_site, hub)
    with running(hub):
        jobs(root).run(BUILD, NOW)
        hub.pings.clear()
        summary = jobs(root, NOW + timedelta(minutes=15)).run(BUILD, NOW + timedelta(minutes=15))
        assert hub.pings == [] and "notified" not in summary
        (root / "content/b.md").write_text(article("B", "2026-11-24", id="b", tags="[harbour]"),
                                           encoding="utf-8")
        jobs(root).run(BUILD, NOW)
    assert sorted(hub.topics) == sorted(BASE + name for name in (
        "rss.xml", "atom.xml", "feed.json", "tags/harbour/rss.xml", "tags/harbour/atom.xml",
        "tags/harbour/feed.json"))


def test_a_hub_that_fails_is_given_up_and_the_build_still_succeeds(
        make_site: SiteFactory, tmp_path: Path, jobs: Jobs) -> None:
    down, up = Hub(default=503), Hub()
    root = site_with_hubs(make_site, down, up)
    with running(down, up), Store.open(f"sqlite:///{tmp_path / 'p.db'}") as store:
        [outcome] = run_due([BUILD], store, fixed_clock(NOW), jobs(root))
    assert outcome.outcome == "ok"
    assert len(down.pings) == 6 * 3 and len(up.pings) == 6
    assert outcome.message.endswith(f"; notified 1 of 2 hubs of 6 changed feeds; {down.url} "
                                    "gave up after 3 attempts: HTTP 503 Service Unavailable")


def test_a_late_build_publishes_what_fell_due_by_the_time_it_runs(
        make_site: SiteFactory, jobs: Jobs) -> None:
    root = make_site({"content/a.md": article("Soon", "2026-11-25 12:10", id="a")})
    due = datetime(2026, 11, 25, 12, tzinfo=UTC)
    summary = jobs(root, NOW + timedelta(minutes=10)).run(BUILD, due)
    assert summary.startswith("published 1 article: ")


def digest_site(make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch, day: str) -> Path:
    """Two articles on `day`, two subscribers; a daily digest reaches back one day."""
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "a test secret, long enough to sign with")
    root = make_site({"content/a.md": article("A", f"{day} 08:00", id="a"),
                      "content/b.md": article("B", f"{day} 09:00", id="b")},
                     config=BASE_CONFIG + "\n[delivery]\nconcurrency = 1\n")
    with Store.open(load_settings(root).store_url) as store:
        for name in ("ann", "bob"):
            store.add_subscriber(f"{name}@example.org", now=NOW - timedelta(days=30))
    return root


def outbox(root: Path) -> list[str]:
    return sorted(m["To"] for m in mailbox.Maildir(root / "outbox", create=False))


def test_a_digest_schedule_builds_then_sends_once_per_due_time(
        make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch, jobs: Jobs) -> None:
    root = digest_site(make_site, monkeypatch, "2026-11-25")
    settings = load_settings(root)
    with Store.open(settings.store_url) as store:
        [outcome] = run_due([DIGEST], store, fixed_clock(NOW), jobs(root))
        assert outcome.outcome == "ok", outcome.message
        assert outcome.message.endswith("digest weekly-20261125-1200: 2 sent, 0 skipped, "
                                        "0 deferred, 0 uncertain, 0 gave up, 0 bounced")
        assert outbox(root) == ["ann@example.org", "bob@example.org"]
        assert (root / "public/digests/weekly-20261125-1200.html").is_file()
        again = jobs(root).run(DIGEST, datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert again.endswith("digest weekly-20261125-1200: 0 sent, 0 skipped, 0 deferred, "
                          "0 uncertain, 0 gave up, 0 bounced")
    assert outbox(root) == ["ann@example.org", "bob@example.org"]


def test_an_earlier_digest_left_unfinished_goes_out_before_the_next(
        make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch, jobs: Jobs) -> None:
    root = digest_site(make_site, monkeypatch, "2026-11-24")

    def stop_after_one() -> bool:
        return len(outbox(root)) >= 1

    first = datetime(2026, 11, 24, 12, tzinfo=UTC)
    with pytest.raises(JobStopped):
        jobs(root, first, stop_after_one).run(DIGEST, first)
    assert outbox(root) == ["ann@example.org"]
    (root / "content/c.md").write_text(article("C", "2026-11-25 08:00", id="c"))
    summary = jobs(root).run(DIGEST, datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert summary.split("; ", 1)[1] == (
        "digest weekly-20261124-1200: 1 sent, 0 skipped, 0 deferred, 0 uncertain, 0 gave up, "
        "0 bounced; digest weekly-20261125-1200: 2 sent, 0 skipped, 0 deferred, 0 uncertain, "
        "0 gave up, 0 bounced")
    assert outbox(root) == ["ann@example.org", "ann@example.org", "bob@example.org",
                            "bob@example.org"]



COUNTING_TICK = """
import collections, sys
seen = collections.Counter()
def hook(event, args):
    if event == "open" and isinstance(args[0], str):
        if args[0].endswith("build.lock"):
            seen["build"] += 1
        elif args[0].endswith(".md"):
            seen["read " + args[0].rsplit("/", 1)[-1]] += 1
    elif event == "sqlite3.connect" and str(args[0]).endswith("publisher.db"):
        seen["store connections"] += 1
sys.addaudithook(hook)
from publisher.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="publisher")
finally:
    print(dict(sorted(seen.items())), file=sys.stderr)
"""


def test_a_digest_tick_builds_once_reads_each_article_once_and_opens_one_connection(
        make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Watched from inside a real `publisher tick` by Python's audit hooks."""
    import ast
    import subprocess
    import sys

    root = digest_site(make_site, monkeypatch, "2026-11-25")
    (root / "schedules").mkdir()
    (root / "schedules/daily.toml").write_text('action = "digest"\ncron = "0 12 * * *"\n'
                                               'timezone = "UTC"\n')
    done = subprocess.run([sys.executable, "-c", COUNTING_TICK, "--site", str(root), "tick",
                           "--now", "2026-11-25T12:05:00Z"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "daily: ok" in done.stdout and "2 sent" in done.stdout
    counts = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    assert counts == {"build": 1, "read a.md": 1, "read b.md": 1, "store connections": 1}


def test_schedule_files_offer_exactly_the_registered_actions() -> None:
    from typing import get_args

    from publisher.jobs import ACTIONS
    from publisher.schedule.files import ScheduleFile

    assert set(get_args(ScheduleFile.model_fields["action"].annotation)) == set(ACTIONS)


@NEEDS_POSTGRES
def test_ticks_on_two_hosts_sharing_one_store_send_each_digest_once(
        make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two checkouts of one site (two machines), two ticks each, all at once, on PostgreSQL."""
    import subprocess
    import sys

    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "a test secret, long enough to sign with")
    files: dict[str, str | bytes] = {
        "content/a.md": article("A", "2026-11-25 08:00", id="a"),
        "schedules/daily.toml": 'action = "digest"\ncron = "0 12 * * *"\ntimezone = "UTC"\n'}
    hosts = [make_site(files, name=name) for name in ("host-a", "host-b")]
    readers = [f"reader{n}@example.org" for n in range(40)]
    for url in postgres_url():
        env = {**os.environ, "PUBLISHER_STORE_URL": url}
        with Store.open(url) as store:
            for address in readers:
                store.add_subscriber(address, now=NOW - timedelta(days=30))
        ticks = [subprocess.Popen([sys.executable, "-c", "from publisher.cli import main; main()",
                                   "--site", str(host), "tick", "--now", NOW.isoformat()],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for host in hosts * 2]
        results = [tick.communicate(timeout=120) for tick in ticks]
        with Store.open(url) as store:
            digests = [r.digest.id for r in store.list_digests()]
    assert [tick.returncode for tick in ticks] == [0, 0, 0, 0], results
    assert digests == ["daily-20261125-1200"]
    received = [address for host in hosts if (host / "outbox").is_dir() for address in
                (m["To"] for m in mailbox.Maildir(host / "outbox", create=False))]
    assert sorted(received) == sorted(readers)  # each reader once, from whichever host sent
