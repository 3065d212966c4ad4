"""The work behind a schedule: build the site (and tell the hubs), then send a digest.

`SiteJobs` is the `JobRunner` that `publisher tick` and `publisher run` use.
A build uses the time of the run, not the due time, so a late run still
publishes every article whose date has come.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from publisher import publish
from publisher.build.websub import HubNotifier
from publisher.clock import fixed_clock
from publisher.config import Settings
from publisher.errors import ScheduleError
from publisher.models import BuildReport, Clock, DeliveryReport, Schedule
from publisher.schedule.runs import JobStopped


class SiteJobs:
    """Runs `build` and `digest` schedules for one site."""

    def __init__(self, settings: Settings, clock: Clock, *,
                 should_stop: Callable[[], bool] = lambda: False,
                 notifier: HubNotifier | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.should_stop = should_stop
        self.notifier = notifier or HubNotifier()

    def run(self, schedule: Schedule, due_at: datetime) -> str:
        built = self.build()
        if schedule.action == "build":
            return built
        sent = run_digest(self.settings, schedule, due_at, self.clock,
                          should_stop=self.should_stop)
        return f"{built}; {sent}"

    def build(self) -> str:
        """Publish as of now; ping the hubs about the feeds whose bytes changed."""
        report = publish.build(self.settings, fixed_clock(self.clock()))
        summary = build_summary(report)
        hubs = self.settings.feeds.hubs
        if hubs and report.changed_feeds:
            site = self.settings.site()
            urls = [site.url_for(path) for path in report.changed_feeds]
            summary += "; " + self.notifier.notify(hubs, urls).summary()
        return summary


def build_summary(report: BuildReport) -> str:
    noun = "article" if report.articles == 1 else "articles"
    return (f"published {report.articles} {noun}: {len(report.written)} written, "
            f"{report.unchanged} unchanged, {len(report.removed)} removed")


def run_digest(settings: Settings, schedule: Schedule, due_at: datetime, clock: Clock, *,
               should_stop: Callable[[], bool] = lambda: False) -> str:
    """Send the digest of `schedule` for `due_at` (after any earlier one still owed)."""
    from publisher.send import plan_of, send_scheduled  # digest runs only

    reports = send_scheduled(settings, clock, schedule=plan_of(settings, schedule, due_at),
                             due_at=due_at, should_stop=should_stop)
    if not reports:
        return "no digest: nothing new"
    summary = "; ".join(delivery_summary(r) for r in reports)
    stopped = next((r.stopped for r in reports if r.stopped), None)
    if stopped and should_stop():
        raise JobStopped(f"{summary}: {stopped}")  # resumes at the next pass
    if stopped:
        raise ScheduleError(f"{summary}: {stopped}")
    return summary


def delivery_summary(report: DeliveryReport) -> str:
    return (f"digest {report.digest_id}: {report.sent} sent, {report.skipped} skipped, "
            f"{report.deferred} deferred, {report.failed} failed")
