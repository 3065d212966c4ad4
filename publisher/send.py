"""The digest pipeline: the one place that knows its order.

`send_digest` reads the secret and sets up the transport (so a missing secret or
password stops it before anything is recorded), finds the digest for the due
time or chooses its articles, renders it once — templates are checked before
the digest is recorded — records it (keyed by schedule and due time, so a
second run finds the same one), saves its web copy and rebuilds the site so
that "view in browser" works before the first message leaves, and then hands
the subscribers to the dispatcher.

Without a due time, `send` finishes the latest open digest of the schedule if
anyone is still owed it now, and otherwise opens a new one due at this minute.
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
    MessageMaker,
    Progress,
    RetryPolicy,
    SendReport,
    dispatch,
)
from publisher.delivery.pace import pacer
from publisher.digest.message import Envelope, MessageTemplate
from publisher.digest.placeholders import fill, recipient_values
from publisher.digest.render import RenderOptions, digest_title, render_digest
from publisher.digest.select import choose_articles
from publisher.errors import ConfigError, ContentError, DeliveryError, Problem, PublisherError
from publisher.mail.headers import site_host
from publisher.mail.outgoing import open_transport
from publisher.models import (
    Article,
    Clock,
    DeliveryReport,
    Digest,
    LoadedContent,
    RenderedDigest,
    Schedule,
    Subscriber,
    make_digest_id,
)
from publisher.store.database import Store
from publisher.store.records import tags_of, tags_text
from publisher.subscribers.addresses import normalise_address
from publisher.subscribers.tokens import unsubscribe_token

DEFAULT_SCHEDULE = "digest"
PERIOD_LOOKBACK = timedelta(days=400)  # far enough to find the previous due time of a yearly digest
SAMPLE_READER = Subscriber(0, "reader@example.org", "Sample Reader")
PREVIEW_TOKEN = "0.preview"  # noqa: S105 (not a secret) stands in for a token when no signing secret is set
Warn = Callable[[Problem], None]


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """What goes into a schedule's digests and who receives them."""

    name: str
    tags: tuple[str, ...] = ()  # articles with any of these tags; () = every article
    min_items: int = 1  # fewer new articles than this: no digest yet
    max_items: int = 30
    period: timedelta = timedelta(days=7)  # how far back a schedule's first digest reaches
    audience: tuple[str, ...] = ()  # subscribers with any of these tags; () = everyone


@dataclass(frozen=True, slots=True)
class Preview:
    digest_id: str
    articles: int
    recipient: str
    files: tuple[Path, ...]  # .html, .txt, .eml


@dataclass(frozen=True, slots=True)
class _Issue:
    """A digest ready to go: recorded already, or provisional (not in the store yet)."""

    digest: Digest
    articles: tuple[Article, ...]
    rendered: RenderedDigest
    recorded: bool
    complete: bool = False


def default_plan(settings: Settings) -> DigestPlan:
    """The digest `[email]` in publisher.toml describes, named "digest"."""
    email = settings.email
    return DigestPlan(DEFAULT_SCHEDULE, (), email.min_items, email.max_items,
                      email.period)


def plan_for(settings: Settings, name: str | None, now: datetime) -> DigestPlan:
    """The plan of the digest schedule called `name` in schedules/; the default for None."""
    if name is None or name == DEFAULT_SCHEDULE:
        return default_plan(settings)
    from publisher.schedule.files import load_schedules  # only when a schedule is named

    schedules = {s.name: s for s in load_schedules(settings)}
    schedule = schedules.get(name)
    if schedule is None or schedule.action != "digest":
        names = sorted(n for n, s in schedules.items() if s.action == "digest")
        known = ", ".join(names) if names else "none in schedules/"
        raise PublisherError(f"unknown digest schedule {name!r}",
                             hint=f"digest schedules: {known}; without --schedule, the digest "
                             f"set up in [email] ({DEFAULT_SCHEDULE!r}) is used")
    return plan_of(settings, schedule, now)


def plan_of(settings: Settings, schedule: Schedule, due_at: datetime) -> DigestPlan:
    """A digest schedule's plan; its first digest reaches back one interval of the schedule."""
    from publisher.schedule.times import due_times_between

    email = settings.email
    earlier = due_times_between(schedule, due_at - PERIOD_LOOKBACK, due_at - timedelta.resolution)
    period = due_at - earlier[-1] if earlier else email.period
    return DigestPlan(schedule.name, schedule.tags, schedule.min_items or email.min_items,
                      schedule.max_items or email.max_items, period, audience=schedule.tags)


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
    return RetryPolicy(timedelta(seconds=d.retry_base), d.max_attempts, d.max_consecutive_failures)


def send_scheduled(settings: Settings, clock: Clock, *, schedule: DigestPlan, due_at: datetime,
                   should_stop: Callable[[], bool] | None = None) -> list[DeliveryReport]:
    """A schedule's run: first finish an earlier digest still owed to anyone, then its own.

    An earlier digest can be left open by a server that was down or a stopped run;
    resuming it first means nobody loses its articles to the next digest.
    """
    reports: list[DeliveryReport] = []
    with Store.open(settings.store_url) as store:
        earlier = store.latest_open_digest(schedule.name)
        owed = earlier is not None and earlier.due_at < due_at and \
            store.count_recipients(earlier.id, now=clock()) > 0
    if owed and earlier is not None:
        report = send_digest(settings, clock, schedule=schedule, due_at=earlier.due_at,
                             should_stop=should_stop)
        if report is not None:
            reports.append(report)
            if report.stopped:
                return reports
    report = send_digest(settings, clock, schedule=schedule, due_at=due_at,
                         should_stop=should_stop)
    return [*reports, report] if report is not None else reports


def send_digest(settings: Settings, clock: Clock, *, schedule: DigestPlan,
                due_at: datetime | None = None, transport: Transport | None = None,
                dry_run: bool = False, should_stop: Callable[[], bool] | None = None,
                progress: Progress | None = None, warn: Warn | None = None
                ) -> DeliveryReport | None:
    """Send (or with `dry_run`, count) the digest of `schedule` due at `due_at`.

    None when there is nothing new to send (fewer than `min_items` articles).
    With `dry_run`, nothing is sent or recorded and `sent` counts who would receive it.
    """
    secret = settings.secret(settings.web.secret_env, "signing unsubscribe links")
    if dry_run:
        transport = None  # a dry run never sends
    elif transport is None:
        transport = open_transport(settings)
    now = clock()
    with Store.open(settings.store_url) as store:
        issue = _prepare(settings, store, schedule, due_at, now, warn)
        if issue is None:
            return None
        if issue.complete:
            return SendReport(issue.digest.id)
        if transport is None:
            return _count(settings, store, schedule, issue, secret, now)
        issue = _record(settings, store, schedule, issue, clock, warn)
        _publish_web_copy(settings, clock, issue)
        job = Dispatch(store, issue.digest.id, settings.email.from_address,
                       _maker(settings, issue, secret), clock, retry_policy(settings),
                       settings.state_path / f"send-{issue.digest.id}.lock")
        report = dispatch(job, transport, pace=pacer(settings.delivery.rate),
                          should_stop=should_stop, progress=progress)
        _complete_if_done(store, report, clock)
    return report


def _complete_if_done(store: Store, report: SendReport, clock: Clock) -> None:
    """A digest nobody is owed any more is complete: `send` then starts the next one."""
    if report.stopped is None and report.deferred == 0 and \
            store.pending_deliveries(report.digest_id) == 0:
        store.mark_digest_complete(report.digest_id, now=clock())


def preview_digest(settings: Settings, clock: Clock, *, schedule: DigestPlan,
                   out: Path | None = None, warn: Warn | None = None) -> Preview | None:
    """Write the next digest as .html, .txt and .eml (for a sample recipient); record nothing."""
    now = clock()
    with Store.open(settings.store_url) as store:
        issue = _prepare(settings, store, schedule, None, now, warn)
        if issue is None:
            return None
        reader = next(store.iter_subscribers("active", batch=1), SAMPLE_READER)
    try:
        token = unsubscribe_token(settings.secret(settings.web.secret_env, "signing"), reader)
    except ConfigError:
        token = PREVIEW_TOKEN
    template = MessageTemplate(envelope(settings), issue.digest, issue.rendered)
    values = recipient_values(reader.name, reader.email,
                              settings.service_url + "unsubscribe?token=" + token)
    folder = out or settings.path("preview")
    files = (folder / f"{issue.digest.id}.html", folder / f"{issue.digest.id}.txt",
             folder / f"{issue.digest.id}.eml")
    atomic_write(files[0], fill(issue.rendered.html, values, escape=True).encode("utf-8"))
    atomic_write(files[1], fill(issue.rendered.text, values, escape=False).encode("utf-8"))
    atomic_write(files[2], template.build(reader.id, reader.email, reader.name, token))
    return Preview(issue.digest.id, len(issue.articles), reader.email, files)


def send_test_copy(settings: Settings, clock: Clock, *, schedule: DigestPlan, address: str,
                   transport: Transport | None = None, warn: Warn | None = None
                   ) -> tuple[str, str] | None:
    """Send the next digest to `address` only, recording nothing; (digest id, server reply)."""
    address = normalise_address(address)
    secret = settings.secret(settings.web.secret_env, "signing unsubscribe links")
    transport = transport or open_transport(settings)
    with Store.open(settings.store_url) as store:
        issue = _prepare(settings, store, schedule, None, clock(), warn)
    if issue is None:
        return None
    reader = Subscriber(0, address)
    message = MessageTemplate(envelope(settings), issue.digest, issue.rendered).build(
        reader.id, reader.email, reader.name, unsubscribe_token(secret, reader))
    with transport:
        try:
            reply = transport.send(settings.email.from_address, address, message)
        except SendFailure as exc:
            raise DeliveryError(f"the test copy to {address} was not accepted: {exc.reply}",
                                hint="try another address, or look at the server's log"
                                ) from None
    return issue.digest.id, reply


# -- which digest, with which articles ---------------------------------------------------


def _prepare(settings: Settings, store: Store, plan: DigestPlan, due_at: datetime | None,
             now: datetime, warn: Warn | None) -> _Issue | None:
    """The digest to send now, rendered: an existing one, or a provisional new one."""
    due, found, complete = _target(store, plan, due_at, now)
    loaded = publish.load(settings, readonly=True)
    if found is not None:
        return _render(settings, found, _articles_of(found, loaded, warn), warn,
                       recorded=True, complete=complete)
    chosen = choose_articles(loaded.published(now), store.article_ids_sent_by(plan.name),
                             since=_since(store, plan, due), tags=plan.tags,
                             max_items=plan.max_items)
    if len(chosen) < plan.min_items:
        return None
    digest = Digest(make_digest_id(plan.name, due), plan.name, due, now,
                    tuple(a.id for a in chosen))
    return _render(settings, digest, chosen, warn, recorded=False)


def _since(store: Store, plan: DigestPlan, due: datetime) -> datetime:
    """The oldest article date a digest of `plan` may include.

    The first digest reaches back one period; later ones never reach further back
    than the first did, or the archive that the first left out would flood the second.
    """
    history = store.list_digests(plan.name)  # newest first
    first_due = history[-1].digest.due_at if history else due
    return first_due - plan.period


def _target(store: Store, plan: DigestPlan, due_at: datetime | None, now: datetime
            ) -> tuple[datetime, Digest | None, bool]:
    """The due time to send, the digest already recorded for it (if any), and if it is done."""
    if due_at is None:
        open_digest = store.latest_open_digest(plan.name)
        if open_digest is not None and store.count_recipients(open_digest.id, now=now):
            return open_digest.due_at, open_digest, False
        due_at = now.replace(second=0, microsecond=0)
    found = store.find_digest(plan.name, due_at)
    if found is None:
        return due_at, None, False
    records = [r for r in store.list_digests(plan.name) if r.digest.id == found.id]
    return due_at, found, bool(records and records[0].completed_at is not None)


def _articles_of(digest: Digest, loaded: LoadedContent, warn: Warn | None) -> list[Article]:
    """A recorded digest's articles, in its order; one since deleted is left out, with a warning."""
    by_id = {a.id: a for a in loaded.articles}
    missing = [i for i in digest.article_ids if i not in by_id]
    if missing and len(missing) == len(digest.article_ids):
        raise ContentError([Problem(f"none of the articles of digest {digest.id} is in the "
                                    "content folder any more", hint="restore them to finish "
                                    "sending this digest")])
    for article_id in missing:
        _warn(warn, Problem(f"article {article_id!r} of digest {digest.id} is no longer in "
                            "the content folder; the rest of the digest goes out without it",
                            warning=True))
    return [by_id[i] for i in digest.article_ids if i in by_id]


def _render(settings: Settings, digest: Digest, articles: list[Article], warn: Warn | None,
            *, recorded: bool, complete: bool = False) -> _Issue:
    result = render_digest(render_options(settings), digest, articles)
    for problem in result.warnings:
        _warn(warn, problem)
    return _Issue(digest, tuple(articles), result.rendered, recorded, complete)


def _record(settings: Settings, store: Store, plan: DigestPlan, issue: _Issue, clock: Clock,
            warn: Warn | None) -> _Issue:
    """Record a provisional digest; another process may have recorded its due time first."""
    if issue.recorded:
        return issue
    d = issue.digest
    made = store.create_digest(d.schedule, d.due_at, now=clock(), article_ids=d.article_ids,
                               subject=issue.rendered.subject, audience=plan.audience)
    if (made.id, made.article_ids) == (d.id, d.article_ids):
        return _Issue(made, issue.articles, issue.rendered, recorded=True)
    loaded = publish.load(settings, readonly=True)
    return _render(settings, made, _articles_of(made, loaded, warn), warn, recorded=True)


def _publish_web_copy(settings: Settings, clock: Clock, issue: _Issue) -> None:
    """Save the "view in browser" copy and rebuild the site, before any message goes out."""
    d = issue.digest
    save_web_copy(settings.path(settings.digests_dir),
                  DigestCopy(d.id, digest_title(d.due_at, settings.zone), d.due_at,
                             issue.rendered.web_html))
    publish.build(settings, clock)


# -- messages ----------------------------------------------------------------------------


def _maker(settings: Settings, issue: _Issue, secret: str) -> MessageMaker:
    template = MessageTemplate(envelope(settings), issue.digest, issue.rendered)

    def make(subscriber: Subscriber) -> bytes:
        return template.build(subscriber.id, subscriber.email, subscriber.name,
                              unsubscribe_token(secret, subscriber))

    return make


def _count(settings: Settings, store: Store, plan: DigestPlan, issue: _Issue, secret: str,
           now: datetime) -> DeliveryReport:
    """A dry run: build every message that would go out, send and record nothing."""
    make = _maker(settings, issue, secret)
    if issue.recorded:
        people, wanted = store.recipients(issue.digest.id, now=now), set()
    else:  # not in the store yet: the same rule as the store's, applied here
        people, wanted = store.iter_subscribers("active"), set(tags_of(tags_text(plan.audience)))
    count = 0
    for subscriber in people:
        if not wanted or wanted & set(subscriber.tags):
            make(subscriber)
            count += 1
    return DeliveryReport(issue.digest.id, sent=count)


def _warn(warn: Warn | None, problem: Problem) -> None:
    if warn is not None:
        warn(problem)

