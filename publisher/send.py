"""The digest pipeline: the one place that knows its order.

A run is given its store, its transport and the articles read once
(`DigestRun`); it never opens its own. `send_digest` reads the signing secret
(so a missing one stops it before anything is recorded), finds the digest for
the due time or chooses its articles (`digest.issue`), renders it once —
templates are checked before the digest is recorded — records it (keyed by
schedule and due time, so a second run finds the same one), saves its web copy
and brings the site up to date so that "view in browser" works before the
first message leaves, and then hands the subscribers to the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from publisher import publish
from publisher.atomic import atomic_write
from publisher.build.pages import DigestCopy
from publisher.build.web_copies import save_web_copy
from publisher.config import CONFIG_NAME, Settings
from publisher.delivery import SendFailure, Transport
from publisher.delivery.dispatcher import (
    Dispatch,
    Progress,
    RetryPolicy,
    SendReport,
    dispatch,
)
from publisher.delivery.ledger import MessageMaker, ReturnPath
from publisher.delivery.pace import Governor
from publisher.digest.issue import (
    DEFAULT_SCHEDULE,
    DigestPlan,
    Warn,
    articles_of,
    find_target,
    new_digest,
    owed_earlier,
    plan_of,
    pool_of,
)
from publisher.digest.message import Envelope, MessageTemplate
from publisher.digest.placeholders import fill, recipient_values
from publisher.digest.render import RenderOptions, digest_title, render_digest
from publisher.digest.tailor import Tailor, Tailoring
from publisher.errors import ConfigError, DeliveryError, PublisherError
from publisher.mail.headers import site_host
from publisher.models import (
    Article,
    Clock,
    DeliveryReport,
    Digest,
    NoReaders,
    RenderedDigest,
    Subscriber,
)
from publisher.store.database import Store
from publisher.subscribers.addresses import normalise_address
from publisher.subscribers.tokens import bounce_token, preferences_token, unsubscribe_token

__all__ = ["DigestPlan", "DigestRun", "default_plan", "dry_run", "plan_for", "preview_digest",
           "send_digest", "send_scheduled", "send_test_copy"]

SAMPLE_READER = Subscriber(0, "reader@example.org", "Sample Reader")
PREVIEW_TOKEN = "0.preview"  # noqa: S105 (not a secret) stands in for a token when no signing secret is set
SIGNING = "signing unsubscribe links"


@dataclass(frozen=True, slots=True)
class DigestRun:
    """What one digest run works with, opened by its caller (a command, a schedule's job).

    `publish_site(changed)` brings the published site up to date before messages leave;
    `changed` says a web copy was just saved. The default builds with `source`.
    """

    settings: Settings
    store: Store
    clock: Clock
    source: publish.Source  # every article, read once for the whole run
    publish_site: Callable[[bool], object]

    @classmethod
    def of(cls, settings: Settings, store: Store, clock: Clock, *, readonly: bool = False
           ) -> DigestRun:
        source = publish.read_source(settings, readonly=readonly)
        return cls(settings, store, clock, source,
                   lambda changed: publish.build(settings, clock, source=source))


@dataclass(frozen=True, slots=True)
class Preview:
    digest_id: str
    articles: int
    recipient: str
    files: tuple[Path, ...]  # .html, .txt, .eml
    html_bytes: int = 0  # what Gmail counts against its clipping size
    message_bytes: int = 0


@dataclass(frozen=True, slots=True)
class _Issue:
    """A digest ready to go: recorded already, or provisional (not in the store yet)."""

    digest: Digest
    articles: tuple[Article, ...]
    rendered: RenderedDigest
    recorded: bool
    complete: bool = False


# -- from the settings to plain values ----------------------------------------------------


def default_plan(settings: Settings) -> DigestPlan:
    """The digest `[email]` in publisher.toml describes, named "digest"."""
    email = settings.email
    return DigestPlan(DEFAULT_SCHEDULE, (), email.min_items, email.max_items, email.period)


def plan_for(settings: Settings, name: str | None, now: datetime) -> DigestPlan:
    """The plan of the digest schedule called `name` in schedules/; the default for None."""
    if name is None or name == DEFAULT_SCHEDULE:
        return default_plan(settings)
    from publisher.schedule.files import load_schedules  # only when a schedule is named

    schedules = {s.name: s for s in load_schedules(settings)}
    schedule = schedules.get(name)
    cadences = tuple(n for n, s in schedules.items() if s.action == "digest" and s.choosable)
    if schedule is None or schedule.action != "digest":
        names = sorted(n for n, s in schedules.items() if s.action == "digest")
        known = ", ".join(names) if names else "none in schedules/"
        raise PublisherError(f"unknown digest schedule {name!r}",
                             hint=f"digest schedules: {known}; without --schedule, the digest "
                             f"set up in [email] ({DEFAULT_SCHEDULE!r}) is used")
    return plan_of(schedule, now, default_plan(settings), cadences)


def render_options(settings: Settings) -> RenderOptions:
    """What rendering a digest needs of the settings."""
    return RenderOptions(settings.site(), settings.zone, settings.email.subject, CONFIG_NAME,
                         settings.service_url, settings.path(settings.templates_dir))


def envelope(settings: Settings) -> Envelope:
    """What every digest message says about its sender."""
    email = settings.email
    return Envelope(email.from_address, email.from_name, email.reply_to,
                    email.unsubscribe_mailto, settings.title, site_host(settings.base_url),
                    settings.service_url, settings.zone)


def retry_policy(settings: Settings) -> RetryPolicy:
    d = settings.delivery
    # A claim outlives the slowest transaction: each step of the conversation may take
    # the whole timeout, and a dropped connection is opened and tried once more.
    lease = timedelta(seconds=max(5.0, 8 * d.timeout))
    return RetryPolicy(timedelta(seconds=d.retry_base), d.max_attempts,
                       d.max_consecutive_failures, d.retry_uncertain, d.soft_bounce_digests,
                       d.soft_bounce_days, lease)


def return_path(settings: Settings, digest_id: str, secret: str) -> ReturnPath:
    """Each message's envelope sender: `bounces+TOKEN@…` with `[email] bounce_address`
    (so a bounce says whose message it was), else the From address."""
    bounces = settings.email.bounce_address
    if bounces is None:
        sender = settings.email.from_address
        return lambda subscriber: sender
    local, _, domain = bounces.rpartition("@")

    def verp(subscriber: Subscriber) -> str:
        return f"{local}+{bounce_token(secret, digest_id, subscriber)}@{domain}"

    return verp


# -- the runs -----------------------------------------------------------------------------


def send_scheduled(run: DigestRun, transport: Transport, *, schedule: DigestPlan,
                   due_at: datetime, should_stop: Callable[[], bool] | None = None
                   ) -> list[DeliveryReport | NoReaders]:
    """A schedule's run: first finish an earlier digest still owed to anyone, then its own.

    An earlier digest can be left open by a server that was down or a stopped run;
    resuming it first means nobody loses its articles to the next digest.
    """
    reports: list[DeliveryReport | NoReaders] = []
    earlier = owed_earlier(run.store, schedule, due_at, run.clock())
    if earlier is not None:
        report = send_digest(run, transport, schedule=schedule, due_at=earlier.due_at,
                             should_stop=should_stop)
        if report is not None:
            reports.append(report)
            if isinstance(report, DeliveryReport) and report.stopped:
                return reports
    report = send_digest(run, transport, schedule=schedule, due_at=due_at,
                         should_stop=should_stop)
    return [*reports, report] if report is not None else reports


def send_digest(run: DigestRun, transport: Transport, *, schedule: DigestPlan,
                due_at: datetime | None = None, should_stop: Callable[[], bool] | None = None,
                progress: Progress | None = None, warn: Warn | None = None,
                governor: Governor | None = None) -> DeliveryReport | NoReaders | None:
    """Send the digest of `schedule` due at `due_at` to everyone still owed it.

    None when there is nothing new to send (fewer than `min_items` articles);
    `NoReaders` when nobody would receive a new digest: then nothing is recorded
    or published, and its articles wait for the first digest that has readers.
    """
    ready = ready_to_send(run, schedule, due_at, warn)
    if not isinstance(ready, Ready):
        return ready
    settings = run.settings
    d = settings.delivery
    maker = maker_for(run, ready, schedule)
    job = Dispatch(run.store, ready.digest.id,
                   return_path(settings, ready.digest.id, ready.secret), maker, run.clock,
                   retry_policy(settings),
                   prepare=maker.prepare if isinstance(maker, Tailor) else None)
    governor = governor or Governor(d.rate, transport.concurrency, pause=d.throttle_pause)
    report = dispatch(job, transport, governor=governor, should_stop=should_stop,
                      progress=progress)
    complete_if_done(run.store, report, run.clock)
    return report


@dataclass(frozen=True, slots=True)
class Ready:
    """A digest recorded, its web copy published: ready for its messages."""

    digest: Digest
    rendered: RenderedDigest
    secret: str  # the key that signs each reader's links


def ready_to_send(run: DigestRun, schedule: DigestPlan, due_at: datetime | None,
                  warn: Warn | None) -> Ready | SendReport | NoReaders | None:
    """Prepare, record and publish the digest; or say why there is nothing to send."""
    secret = run.settings.signing_key(SIGNING)
    issue = _prepare(run, schedule, due_at, warn)
    if issue is None:
        return None
    if issue.complete:
        return SendReport(issue.digest.id)
    if not issue.recorded and run.store.count_audience(
            schedule.audience, cadence=schedule.cadence, cadences=schedule.cadences,
            group=schedule.group) == 0:
        return NoReaders(issue.digest.id, len(issue.articles), schedule.audience)
    issue = _record(run, schedule, issue, warn)
    _publish_web_copy(run, issue)
    return Ready(issue.digest, issue.rendered, secret)


def dry_run(run: DigestRun, *, schedule: DigestPlan, warn: Warn | None = None
            ) -> DeliveryReport | None:
    """Render the digest and build every message that would go out; send and record nothing.

    `sent` counts who would receive it, by the store's own rule of who a digest reaches.
    """
    secret = run.settings.signing_key(SIGNING)
    issue = _prepare(run, schedule, None, warn)
    if issue is None:
        return None
    if issue.complete:
        return SendReport(issue.digest.id)
    make = message_maker(run.settings, issue.digest, issue.rendered, secret)
    people = (run.store.recipients(issue.digest.id, now=run.clock()) if issue.recorded
              else run.store.audience(schedule.audience, cadence=schedule.cadence,
                                      cadences=schedule.cadences, group=schedule.group))
    count = 0
    for subscriber in people:
        make(subscriber)
        count += 1
    return DeliveryReport(issue.digest.id, sent=count)


def complete_if_done(store: Store, report: SendReport, clock: Clock) -> None:
    """A digest nobody is owed any more is complete: `send` then starts the next one.

    A row waiting for a retry (deferred, or uncertain with its one retry to come)
    keeps it open.
    """
    if report.stopped is not None or store.next_attempt(report.digest_id) is not None:
        return
    counts = store.delivery_counts(report.digest_id)
    if counts["pending"] == counts["deferred"] == counts["queued"] == 0:
        store.mark_digest_complete(report.digest_id, now=clock())


def preview_digest(run: DigestRun, *, schedule: DigestPlan, out: Path | None = None,
                   warn: Warn | None = None) -> Preview | None:
    """Write the next digest as .html, .txt and .eml (for a sample recipient); record nothing."""
    settings = run.settings
    issue = _prepare(run, schedule, None, warn)
    if issue is None:
        return None
    reader = next(run.store.iter_subscribers("active", batch=1), SAMPLE_READER)
    try:
        secret = settings.signing_key(SIGNING)
        token = unsubscribe_token(secret, reader)
        choices = preferences_token(secret, reader, issued=issue.digest.created_at)
    except ConfigError:
        token = choices = PREVIEW_TOKEN
    template = MessageTemplate(envelope(settings), issue.digest, issue.rendered)
    values = recipient_values(reader.name, reader.email,
                              settings.service_url + "unsubscribe?token=" + token,
                              settings.service_url + "preferences?token=" + choices)
    folder = out or settings.path("preview")
    files = (folder / f"{issue.digest.id}.html", folder / f"{issue.digest.id}.txt",
             folder / f"{issue.digest.id}.eml")
    html = fill(issue.rendered.html, values, escape=True).encode("utf-8")
    message = template.build(reader.id, reader.email, reader.name, token, choices)
    atomic_write(files[0], html)
    atomic_write(files[1], fill(issue.rendered.text, values, escape=False).encode("utf-8"))
    atomic_write(files[2], message)
    return Preview(issue.digest.id, len(issue.articles), reader.email, files, len(html),
                   len(message))


def send_test_copy(run: DigestRun, transport: Transport, *, schedule: DigestPlan, address: str,
                   warn: Warn | None = None) -> tuple[str, str] | None:
    """Send the next digest to `address` only, recording nothing; (digest id, server reply)."""
    settings = run.settings
    address = normalise_address(address)
    secret = settings.signing_key(SIGNING)
    issue = _prepare(run, schedule, None, warn)
    if issue is None:
        return None
    reader = Subscriber(0, address)
    message = MessageTemplate(envelope(settings), issue.digest, issue.rendered).build(
        reader.id, reader.email, reader.name, unsubscribe_token(secret, reader),
        preferences_token(secret, reader, issued=issue.digest.created_at))
    with transport:
        try:
            reply = transport.send(settings.email.from_address, address, message)
        except SendFailure as exc:
            raise DeliveryError(f"the test copy to {address} was not accepted: {exc.reply}",
                                hint="try another address, or look at the server's log"
                                ) from None
    return issue.digest.id, reply


# -- the steps ----------------------------------------------------------------------------


def _prepare(run: DigestRun, plan: DigestPlan, due_at: datetime | None, warn: Warn | None
             ) -> _Issue | None:
    """The digest to send now, rendered: an existing one, or a provisional new one."""
    now = run.clock()
    content = run.source.content
    target = find_target(run.store, plan, due_at, now)
    if target.recorded is not None:
        return _render(run.settings, target.recorded,
                       articles_of(target.recorded, content, warn), warn, recorded=True,
                       complete=target.complete)
    made = new_digest(run.store, plan, target.due_at, now, content.published(now))
    if made is None:
        return None
    return _render(run.settings, *made, warn, recorded=False)


def _render(settings: Settings, digest: Digest, articles: list[Article], warn: Warn | None,
            *, recorded: bool, complete: bool = False) -> _Issue:
    result = render_digest(render_options(settings), digest, articles)
    for problem in result.warnings:
        if warn is not None:
            warn(problem)
    return _Issue(digest, tuple(articles), result.rendered, recorded, complete)


def _record(run: DigestRun, plan: DigestPlan, issue: _Issue, warn: Warn | None) -> _Issue:
    """Record a provisional digest; another process may have recorded its due time first."""
    if issue.recorded:
        return issue
    d = issue.digest
    made = run.store.create_digest(
        d.schedule, d.due_at, now=run.clock(), article_ids=d.article_ids,
        subject=issue.rendered.subject, audience=plan.audience, cadence=plan.cadence,
        cadences=plan.cadences, pool=pool_of(plan, d.due_at,
                                             run.source.content.published(run.clock())),
        group=plan.group)
    if (made.id, made.article_ids) == (d.id, d.article_ids):
        return _Issue(made, issue.articles, issue.rendered, recorded=True)
    return _render(run.settings, made, articles_of(made, run.source.content, warn), warn,
                   recorded=True)


def _publish_web_copy(run: DigestRun, issue: _Issue) -> None:
    """Save the "view in browser" copy and publish the site, before any message goes out."""
    settings, d = run.settings, issue.digest
    changed = save_web_copy(settings.path(settings.digests_dir),
                            DigestCopy(d.id, digest_title(d.due_at, settings.zone), d.due_at,
                                       issue.rendered.web_html, d.article_ids))
    run.publish_site(changed)


def message_maker(settings: Settings, digest: Digest, rendered: RenderedDigest, secret: str
                  ) -> MessageMaker:
    """Each reader's message, spliced from the digest rendered once.

    The preference link is stamped with the digest's creation time, so a message is
    the same bytes however often it is built."""
    template = MessageTemplate(envelope(settings), digest, rendered)

    def make(subscriber: Subscriber) -> bytes:
        return template.build(subscriber.id, subscriber.email, subscriber.name,
                              unsubscribe_token(secret, subscriber),
                              preferences_token(secret, subscriber, issued=digest.created_at))

    return make


def maker_for(run: DigestRun, ready: Ready, plan: DigestPlan) -> MessageMaker:
    """The digest's one rendering for everyone; for a chosen cadence, each reader's own."""
    cadence = run.store.cadence_of(ready.digest.id)
    if cadence.name is None:
        return message_maker(run.settings, ready.digest, ready.rendered, ready.secret)
    by_id = {a.id: a for a in run.source.content.articles}
    digest, secret = ready.digest, ready.secret

    def links(subscriber: Subscriber) -> tuple[str, str]:
        return (unsubscribe_token(secret, subscriber),
                preferences_token(secret, subscriber, issued=digest.created_at))

    return Tailor(run.store, Tailoring(
        digest, tuple(by_id[i] for i in cadence.pool if i in by_id),
        digest.due_at - plan.period, plan.max_items, digest.due_at - plan.lookback,
        render_options(run.settings), envelope(run.settings), links))
