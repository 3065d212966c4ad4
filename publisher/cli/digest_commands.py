"""`publisher digest preview` and `publisher digest send`.

Exit status of `send`: 0 when the run went through the list, even if some
addresses bounced (failed) or some messages wait for a retry (deferred): those
are normal outcomes, kept in the ledger. 1 when the run stopped early on an
error (server unreachable, login refused, too many failures in a row, the
digest already being sent) or the input was wrong. 130 when it was stopped on
request (Ctrl-C or SIGTERM), after recording the messages in flight.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import FrameType

import click

from publisher.cli import AppContext, cli, pass_app, plural, warn
from publisher.config import Settings
from publisher.delivery import Transport
from publisher.delivery.dispatcher import STOP_REQUESTED, SendReport
from publisher.digest.render import SIZE_WARNING_BYTES
from publisher.errors import Problem, PublisherError
from publisher.jobs import delivery_summary, no_readers_summary
from publisher.mail.outgoing import open_transport
from publisher.models import DeliveryReport, NoReaders
from publisher.send import DigestRun, plan_for, preview_digest, send_digest, send_test_copy
from publisher.send import dry_run as dry_run_digest
from publisher.store.database import Store

_SCHEDULE = click.option("--schedule", "schedule_name", metavar="NAME",
                         help="The schedule whose digest to use (default: the one set up "
                         "in [email]).")
_NOW = click.option("--now", metavar="ISO-DATETIME",
                    help="Act as if it were this moment (articles dated later are not new).")


def _warn_one(problem: Problem) -> None:
    warn([problem])


@cli.group()
def digest() -> None:
    """Preview and send the email digest of new articles."""


@digest.command()
@_SCHEDULE
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the files (default: preview/ in the site).")
@_NOW
@pass_app
def preview(app: AppContext, schedule_name: str | None, out: Path | None,
            now: str | None) -> None:
    """Write the next digest as .html, .txt and .eml files; nothing is sent or recorded."""
    app.now = now
    settings = app.settings
    plan = plan_for(settings, schedule_name, app.clock())
    with Store.open(settings.store_url, settings.store_source) as store:
        run = DigestRun.of(settings, store, app.clock, readonly=True)
        result = preview_digest(run, schedule=plan, out=out, warn=_warn_one)
    if result is None:
        click.echo("nothing new: no digest would be sent now")
        return
    articles = plural(result.articles, "article")
    click.echo(f"preview of digest {result.digest_id} ({articles}), as {result.recipient} "
               "would receive it:")
    for path in result.files:
        click.echo(f"  {path}")
    click.echo(f"size: {result.html_bytes / 1024:.1f} KB of HTML (Gmail clips above "
               f"{SIZE_WARNING_BYTES // 1024} KB), {result.message_bytes / 1024:.1f} KB "
               "in all")


@digest.command()
@_SCHEDULE
@click.option("--dry-run", is_flag=True,
              help="Render the digest and count who would receive it; send and record nothing.")
@click.option("--to", "address", metavar="ADDRESS",
              help="Send one test copy to ADDRESS only; nothing is recorded.")
@click.option("--no-wait", is_flag=True,
              help="With [queue]: queue the digest for the workers and return at once.")
@_NOW
@pass_app
@click.pass_context
def send(ctx: click.Context, app: AppContext, schedule_name: str | None, dry_run: bool,
         address: str | None, no_wait: bool, now: str | None) -> None:
    """Send the digest to every active subscriber still owed it.

    A run that stopped (or was killed) is finished by running this again: only
    those not yet sent to receive it.
    """
    if dry_run and address:
        raise click.UsageError("use either --dry-run or --to, not both")
    app.now = now
    settings = app.settings
    plan = plan_for(settings, schedule_name, app.clock())
    if address is not None:
        with Store.open(settings.store_url, settings.store_source) as store:
            run = DigestRun.of(settings, store, app.clock, readonly=True)
            sent = send_test_copy(run, open_transport(settings), schedule=plan, address=address,
                                  warn=_warn_one)
        if sent is None:
            click.echo("nothing new: no digest to send a copy of")
        else:
            click.echo(f"sent a test copy of digest {sent[0]} to {address}: {sent[1]}")
        return
    # A missing SMTP password stops the run here, before anything is recorded.
    transport: Transport | None = None if dry_run else open_transport(settings)
    if settings.queue is not None and not dry_run:
        from publisher.cli.pool_commands import send_through_pool

        send_through_pool(settings, app.clock, plan, wait=not no_wait, warn=_warn_one)
        return
    with Store.open(settings.store_url, settings.store_source) as store, \
            _progress_bar() as progress, _stop_on_signal() as should_stop:
        run = DigestRun.of(settings, store, app.clock, readonly=dry_run)
        report: DeliveryReport | NoReaders | None
        if transport is None:
            report = dry_run_digest(run, schedule=plan, warn=_warn_one)
        else:
            report = send_digest(run, transport, schedule=plan, should_stop=should_stop,
                                 progress=progress, warn=_warn_one)
    if report is None:
        click.echo("nothing new since the last digest: no digest sent")
    elif isinstance(report, NoReaders):
        click.echo(no_readers_summary(report))
    elif dry_run:
        click.echo(f"digest {report.digest_id} (dry run): would be sent to "
                   f"{plural(report.sent, 'subscriber')}; nothing was sent or recorded")
    else:
        click.echo(summary(report, settings))
        if report.stopped is not None:
            click.echo(click.style("error: ", fg="red", bold=True) + report.stopped, err=True)
            ctx.exit(130 if report.stopped == STOP_REQUESTED else 1)


def summary(report: DeliveryReport, settings: Settings) -> str:
    """`digest weekly-20261125-0700: 9,998 sent, 2 skipped, 0 deferred, …, 0 bounced`."""
    line = delivery_summary(report)
    due = report.next_attempt_at if isinstance(report, SendReport) else None
    if due is not None:
        local = due.astimezone(settings.zone)
        line += f"; next try due {local:%Y-%m-%d %H:%M} ({settings.timezone})"
    elif report.deferred:
        line += "; the deferred ones are retried by a later run"
    return line



@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[DeliveryReport, int], None] | None]:
    """A tqdm bar on stderr when it is a terminal; otherwise no progress output at all."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar: list[tqdm] = []

    def update(report: DeliveryReport, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, unit="msg", file=sys.stderr, dynamic_ncols=True))
        bar[0].set_postfix_str(f"sent {report.sent:,} deferred {report.deferred:,} uncertain "
                               f"{report.uncertain:,} gave up {report.gave_up:,} bounced "
                               f"{report.bounced:,}", refresh=False)
        bar[0].update(1)

    try:
        yield update
    finally:
        if bar:
            bar[0].close()


@contextlib.contextmanager
def _stop_on_signal() -> Iterator[Callable[[], bool]]:
    """Ctrl-C or SIGTERM: finish the messages in flight, record them, then stop.

    A second Ctrl-C stops at once; the ledger then holds those messages as pending,
    and the next run sends them again.
    """
    asked: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # only the main thread may handle signals
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        asked.append(signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        click.echo("\nstopping after the messages in flight (Ctrl-C again to stop at once)",
                   err=True)

    saved = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(asked)
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)


OUTCOMES = ("sent", "deferred", "uncertain", "gave_up", "bounced", "complained", "skipped",
            "pending")


@digest.command()
@click.argument("digest_id", required=False, metavar="[DIGEST]")
@click.option("--list", "outcome", type=click.Choice(OUTCOMES),
              help="Name the subscribers with this outcome (needs DIGEST).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
@pass_app
def status(app: AppContext, digest_id: str | None, outcome: str | None, as_json: bool) -> None:
    """How each digest went: sent, deferred (and when the next try is due), uncertain,
    gave up, bounced, complained and skipped."""
    if outcome and not digest_id:
        raise click.UsageError("--list needs a DIGEST: `publisher digest status DIGEST --list "
                               f"{outcome}`")
    settings = app.settings
    with Store.open(settings.store_url) as store:
        records = [r for r in store.list_digests() if digest_id in (None, r.digest.id)]
        if digest_id and not records:
            raise PublisherError(f"there is no digest {digest_id}",
                                 hint="`publisher digest status` lists them")
        rows = [_status_row(store, r.digest.id, r.completed_at is not None) for r in records]
        entries = list(store.ledger_entries(digest_id, outcome)) if digest_id and outcome \
            else None
    if as_json:
        click.echo(json.dumps({"digests": rows, "list": None if entries is None else [
            {"email": e.subscriber.email, "reply": e.delivery.reply,
             "attempts": e.delivery.attempts, "next_attempt_at": _iso(e.delivery.next_attempt_at)}
            for e in entries]}, indent=2))
        return
    if not rows:
        click.echo("no digest has been sent yet")
    for row in rows:
        click.echo(_status_line(row, settings))
    for entry in entries or []:
        due = entry.delivery.next_attempt_at
        when = f" (next try {due.astimezone(settings.zone):%Y-%m-%d %H:%M})" if due else ""
        click.echo(f"  {entry.subscriber.email}: {entry.delivery.reply}{when}")


def _status_row(store: Store, digest_id: str, complete: bool) -> dict[str, object]:
    counts = store.delivery_counts(digest_id)
    row: dict[str, object] = {"digest": digest_id, "complete": complete, **counts,
                              "next_attempt_at": _iso(store.next_attempt(digest_id))}
    readers = store.readership(digest_id)
    if readers is not None:  # each reader got their own articles
        row["readers"] = {"cadence": readers.cadence, "timezone": readers.zone,
                          "hour": readers.hour, "article_sets": readers.article_sets}
    return row


def _status_line(row: dict[str, object], settings: Settings) -> str:
    parts = [f"{row[name]:,} {name.replace('_', ' ')}" for name in OUTCOMES[:-1]]
    due = row["next_attempt_at"]
    if isinstance(due, str):
        local = datetime.fromisoformat(due).astimezone(settings.zone)
        parts[1] += f" (next try due {local:%Y-%m-%d %H:%M})"
    if row["pending"]:
        parts.append(f"{row['pending']:,} in flight or left by a crash")
    if row["queued"]:
        parts.append(f"{row['queued']:,} queued for the workers")
    state = "complete" if row["complete"] else "open"
    line = f"{row['digest']} ({state}): " + ", ".join(parts)
    readers = row.get("readers")
    if isinstance(readers, dict):
        zone = f" in {readers['timezone']}" if readers["timezone"] else ""
        hour = f" at {readers['hour']:02d}:00" if readers["hour"] is not None else ""
        line += (f"; readers of {readers['cadence']}{zone}{hour}, "
                 f"{plural(readers['article_sets'], 'article set')}")
    return line


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
