"""The real jobs: a build that tells the hubs of changed feeds, and the digest hand-over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from publisher.clock import fixed_clock
from publisher.config import load_settings
from publisher.jobs import SiteJobs
from publisher.models import Schedule
from publisher.schedule import run_due
from publisher.store import Store
from publisher.websub import HubNotifier
from tests.conftest import BASE_CONFIG, SiteFactory, article
from tests.test_websub import Hub, Sleeps, running

NOW = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
BUILD = Schedule("feed", "build", "UTC", every=timedelta(minutes=15))
BASE = "https://news.example.org/"


def site_with_hubs(make_site: SiteFactory, *hubs: Hub) -> Path:
    listed = ", ".join(f'"{hub.url}"' for hub in hubs)
    return make_site({"content/a.md": article("A", "2026-11-20", id="a", tags="[ferries]")},
                     config=BASE_CONFIG + f"\n[feeds]\nhubs = [{listed}]\n")


def jobs(root: Path, now: datetime = NOW) -> SiteJobs:
    return SiteJobs(load_settings(root), fixed_clock(now),
                    notifier=HubNotifier(sleep=Sleeps()))


def test_a_build_that_changed_feeds_tells_every_hub_of_each_one(make_site: SiteFactory) -> None:
    one, two = Hub(), Hub()
    root = site_with_hubs(make_site, one, two)
    with running(one, two):
        summary = jobs(root).run(BUILD, NOW)
    feeds = {BASE + name for name in ("rss.xml", "atom.xml", "feed.json", "tags/ferries/rss.xml",
                                      "tags/ferries/atom.xml", "tags/ferries/feed.json")}
    assert set(one.topics) == set(two.topics) == feeds
    assert len(one.topics) == len(feeds)
    assert summary.endswith("; notified 2 hubs of 6 changed feeds")


def test_a_build_that_changed_no_feed_tells_no_hub(make_site: SiteFactory) -> None:
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
        make_site: SiteFactory, tmp_path: Path) -> None:
    down, up = Hub(default=503), Hub()
    root = site_with_hubs(make_site, down, up)
    with running(down, up), Store.open(f"sqlite:///{tmp_path / 'p.db'}") as store:
        [outcome] = run_due([BUILD], store, fixed_clock(NOW), jobs(root), lock_dir=tmp_path)
    assert outcome.outcome == "ok"
    assert len(down.pings) == 6 * 3 and len(up.pings) == 6
    assert outcome.message.endswith(f"; notified 1 of 2 hubs of 6 changed feeds; {down.url} "
                                    "gave up after 3 attempts: HTTP 503 Service Unavailable")


def test_a_late_build_publishes_what_fell_due_by_the_time_it_runs(
        make_site: SiteFactory) -> None:
    root = make_site({"content/a.md": article("Soon", "2026-11-25 12:10", id="a")})
    due = datetime(2026, 11, 25, 12, tzinfo=UTC)
    summary = jobs(root, NOW + timedelta(minutes=10)).run(BUILD, due)
    assert summary.startswith("published 1 article: ")


def test_a_digest_schedule_builds_then_hands_over_to_delivery(make_site: SiteFactory,
                                                              tmp_path: Path) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-20", id="a")})
    digest = Schedule("weekly", "digest", "UTC", cron="0 12 * * *", min_items=1, max_items=30)
    with Store.open(f"sqlite:///{tmp_path / 'p.db'}") as store:
        [outcome] = run_due([digest], store, fixed_clock(NOW), jobs(root), lock_dir=tmp_path)
    assert (outcome.outcome, outcome.message) == ("failed", "digest delivery is not available yet")
    assert (root / "public/feed.json").is_file()
