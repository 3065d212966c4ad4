"""The work behind a schedule: build the site (and tell the hubs), then send a digest.

`SiteJobs` is the `JobRunner` that `publisher tick` and `publisher run` use. A
digest run reads the articles once, uses the scheduler's own store connection,
and builds the site once: when the new digest's web copy is saved (so "view in
browser" works from the first message), or at the end if there was nothing new.
A build uses the time of the run, not the due time, so a late run still
publishes every article whose date has come.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from publisher import publish
from publisher.build.websub import HubNotifier
from publisher.clock import fixed_clock
from publisher.config import Settings
from publisher.delivery import Transport
from publisher.errors import ScheduleError
from publisher.mail.outgoing import open_transport
from publisher.models import BuildReport, Clock, DeliveryReport, NoReaders, Schedule
from publisher.schedule.runs import JobStopped
from publisher.store.database import Store
from publisher.subscribers.bounces import BounceReport, Matcher
from publisher.text import plural

if TYPE_CHECKING:  # digest runs only: a build schedule never imports them
    from publisher.digest.issue import DigestPlan
    from publisher.send import DigestRun

Action = Callable[["SiteJobs", Schedule, datetime], str]


class SiteJobs:
    """Runs the schedules of one site: each action is a method named in `ACTIONS`.

    `store` is the scheduler's own connection, shared by every job it runs;
    `transport_factory` opens the mail transport when a digest needs one.
    """

    def __init__(self, settings: Settings, clock: Clock, store: Store, *,
                 should_stop: Callable[[], bool] = lambda: False,
                 notifier: HubNotifier | None = None,
                 transport_factory: Callable[[Settings], Transport] = open_transport) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store
        self.should_stop = should_stop
        self.notifier = notifier or HubNotifier()
        self.transport_factory = transport_factory

    def run(self, schedule: Schedule, due_at: datetime) -> str:
        return ACTIONS[schedule.action](self, schedule, due_at)

    def build(self, schedule: Schedule, source: publish.Source | None = None) -> str:
        """Publish as of now; deploy if the schedule says so; then ping the hubs about the
        feeds whose bytes changed (after the deploy: hubs fetch from where readers do)."""
        report = publish.build(self.settings, fixed_clock(self.clock()), source=source)
        summary = build_summary(report)
        if schedule.deploy:
            summary += "; " + self.deploy()
        hubs = self.settings.feeds.hubs
        if hubs and report.changed_feeds:
            site = self.settings.site()
            urls = [site.url_for(path) for path in report.changed_feeds]
            summary += "; " + self.notifier.notify(hubs, urls).summary()
        return summary

    def deploy(self) -> str:
        from publisher.deploy.upload import deploy

        target = self.settings.deploy.target
        assert target is not None  # the schedule file was refused without one
        report = deploy(self.settings.output_path, target,
                        endpoint_url=self.settings.deploy.endpoint_url,
                        region=self.settings.deploy.region)
        return (f"deployed {report.uploaded} of {report.uploaded + report.unchanged} files to "
                f"{report.target}" + (f", removed {report.removed}" if report.removed else ""))

    def build_job(self, schedule: Schedule, due_at: datetime) -> str:
        return self.build(schedule)

    def digest_job(self, schedule: Schedule, due_at: datetime) -> str:
        """Build the site and send the digest of `schedule` for `due_at`."""
        from publisher.digest.issue import plan_of
        from publisher.send import DigestRun, default_plan, send_scheduled

        source = publish.read_source(self.settings)
        built: list[str] = []

        def publish_site(changed: bool) -> None:
            if changed or not built:
                built.append(self.build(schedule, source))

        run = DigestRun(self.settings, self.store, self.clock, source, publish_site)
        from publisher.schedule.files import load_schedules

        cadences = [s.name for s in load_schedules(self.settings)
                    if s.action == "digest" and s.choosable]
        plan = plan_of(schedule, due_at, default_plan(self.settings), cadences)
        try:
            if self.settings.queue is not None:
                said = self._queue(run, plan, due_at)
            else:
                reports = send_scheduled(run, self.transport_factory(self.settings),
                                         schedule=plan, due_at=due_at,
                                         should_stop=self.should_stop)
                said = digest_summary(reports, self.should_stop)
        finally:
            if not built:  # nothing new to send, or it failed first: the site is still built
                publish_site(False)
        return f"{built[-1]}; {said}"

    def _queue(self, run: DigestRun, plan: DigestPlan, due_at: datetime) -> str:
        """With `[queue]`, the digest goes to the workers: the tick does not wait for them."""
        from publisher.fleet import Queued, open_pool, queue_digest

        queued = queue_digest(run, open_pool(self.settings), schedule=plan, due_at=due_at)
        if isinstance(queued, Queued):
            return (f"digest {queued.digest_id}: {plural(queued.readers, 'reader')} queued in "
                    f"{plural(queued.chunks, 'job')} for the workers")
        return digest_summary([queued] if queued is not None else [], self.should_stop)


def bounce_matcher(settings: Settings) -> Matcher:
    """What tying returned mail to the messages sent needs, from the settings."""
    from publisher.mail.headers import site_host
    from publisher.mail.reports import Addresses

    email = settings.email
    local = email.bounce_address.rpartition("@")[0] if email.bounce_address else None
    unsubscribe = None
    if email.unsubscribe_mailto:
        unsubscribe = email.unsubscribe_mailto.removeprefix("mailto:").partition("?")[0]
    secret = settings.signing_key("checking return-path tokens")
    return Matcher(secret, site_host(settings.base_url), Addresses(local, unsubscribe))


def bounce_summary(report: BounceReport) -> str:
    """`processed 12 messages: 9 recorded, 1 already recorded, 2 left alone`."""
    counts = ", ".join(f"{n:,} {what}" for what, n in sorted(report.outcomes.items()))
    noun = "message" if report.messages == 1 else "messages"
    return f"processed {report.messages:,} {noun}" + (f": {counts}" if counts else "")


def bounces_job(jobs: SiteJobs, schedule: Schedule, due_at: datetime) -> str:
    """Read the schedule's mailbox (a Maildir or IMAP): bounces, complaints and unsubscribe
    requests."""
    from publisher.mail.imap import DEFAULT_PASSWORD_ENV, open_sources
    from publisher.subscribers.bounces import process

    if schedule.mailbox is None:
        raise ScheduleError(f"schedule {schedule.name} has no mailbox to read")
    with open_sources([schedule.mailbox], lambda: b"",
                      schedule.password_env or DEFAULT_PASSWORD_ENV) as mail:
        report = process(jobs.store, mail, bounce_matcher(jobs.settings), jobs.clock)
    return bounce_summary(report)


ACTIONS: dict[str, Action] = {
    "build": SiteJobs.build_job,
    "digest": SiteJobs.digest_job,
    "bounces": bounces_job,
}


def build_summary(report: BuildReport) -> str:
    noun = "article" if report.articles == 1 else "articles"
    return (f"published {report.articles} {noun}: {len(report.written)} written, "
            f"{report.unchanged} unchanged, {len(report.removed)} removed")


def digest_summary(reports: list[DeliveryReport | NoReaders],
                   should_stop: Callable[[], bool]) -> str:
    """One line for the digests a run sent; a stopped run raises, to be retried or reported."""
    if not reports:
        return "no digest: nothing new"
    summary = "; ".join(delivery_summary(r) if isinstance(r, DeliveryReport) else
                        no_readers_summary(r) for r in reports)
    stopped = next((r.stopped for r in reports if isinstance(r, DeliveryReport) and r.stopped),
                   None)
    if stopped and should_stop():
        raise JobStopped(f"{summary}: {stopped}")  # resumes at the next pass
    if stopped:
        raise ScheduleError(f"{summary}: {stopped}")
    return summary


def delivery_summary(report: DeliveryReport) -> str:
    """`digest weekly-20261125-0700: 9,998 sent, 2 skipped, 0 deferred, 0 uncertain, …`."""
    return (f"digest {report.digest_id}: {report.sent:,} sent, {report.skipped:,} skipped, "
            f"{report.deferred:,} deferred, {report.uncertain:,} uncertain, "
            f"{report.gave_up:,} gave up, {report.bounced:,} bounced")


def no_readers_summary(report: NoReaders) -> str:
    """Why no digest was made although there are new articles."""
    who = ("no active subscriber" if not report.audience else
           "no active subscriber for " + ", ".join(report.audience) + " (or for every topic)")
    articles = "its article waits" if report.articles == 1 else \
        f"its {report.articles} articles wait"
    return f"no digest: {who} to send it to; {articles} for the first digest that has readers"
