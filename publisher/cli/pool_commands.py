"""`publisher worker`, and `digest send` when a pool of workers sends (`[queue]`)."""

from __future__ import annotations

import logging

import click

from publisher.cli import AppContext, cli, pass_app, plural
from publisher.config import Settings
from publisher.digest.issue import DigestPlan, Warn
from publisher.errors import ConfigError, Problem
from publisher.models import Clock, DeliveryReport, NoReaders

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def send_through_pool(settings: Settings, clock: Clock, plan: DigestPlan, *, wait: bool,
                      warn: Warn | None) -> None:
    """Queue the digest for the workers; with `wait`, follow it until they are done."""
    from publisher.cli.digest_commands import summary
    from publisher.fleet import Queued, open_pool, queue_digest, watch
    from publisher.jobs import no_readers_summary
    from publisher.send import DigestRun
    from publisher.store.database import Store

    pool = open_pool(settings)
    with Store.open(settings.store_url, settings.store_source) as store:
        run = DigestRun.of(settings, store, clock)
        queued = queue_digest(run, pool, schedule=plan, warn=warn)
        if queued is None:
            click.echo("nothing new since the last digest: no digest sent")
            return
        if isinstance(queued, NoReaders):
            click.echo(no_readers_summary(queued))
            return
        if not isinstance(queued, Queued):
            click.echo(summary(queued, settings))
            return
        click.echo(f"digest {queued.digest_id}: {plural(queued.readers, 'reader')} queued in "
                   f"{plural(queued.chunks, 'job')} for the workers")
        if not wait:
            return
        counts = watch(store, pool, queued.digest_id, clock)
    report = DeliveryReport(queued.digest_id, counts["sent"], counts["skipped"],
                            counts["deferred"], counts["uncertain"], counts["gave_up"],
                            counts["bounced"])
    click.echo(summary(report, settings))
    left = counts["queued"] + counts["pending"]
    if left:
        raise ConfigError([Problem(
            f"{plural(left, 'reader')} still owed the digest, and no worker job is left for "
            "them", hint="look at the workers' log for why they stopped, then run `publisher "
            "digest send` again")])


@cli.command()
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Chunks sent at once by this process (each over [delivery] concurrency "
              "connections).")
@pass_app
def worker(app: AppContext, concurrency: int) -> None:
    """Send the chunks of digests that `digest send` queued, until SIGTERM or Ctrl-C.

    Start it on as many machines as you like, with the same configuration and
    PostgreSQL store; SIGTERM finishes the messages in hand and queues the rest.
    """
    from publisher.fleet import open_pool, send_chunk
    from publisher.jobs import delivery_summary
    from publisher.mail.outgoing import open_transport
    from publisher.schedule.daemon import StopRequest, stop_on_signals
    from publisher.store.database import Store

    settings = app.settings
    if settings.queue is None:
        raise ConfigError([Problem("there is no [queue] in publisher.toml: `digest send` sends "
                                   "from one process, and there is nothing for a worker to do",
                                   key="queue", hint="add a [queue] section to send with a "
                                   "pool of workers")])
    open_transport(settings)  # a missing SMTP password stops the worker here
    pool = open_pool(settings)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    log = logging.getLogger("publisher.pool")
    stop = StopRequest()

    def run(digest_id: str, first: int, last: int) -> None:
        with Store.open(settings.store_url, settings.store_source) as store:
            report = send_chunk(settings, store, open_transport(settings), app.clock, pool,
                                digest_id, first, last, should_stop=stop.is_set)
        line = f"{delivery_summary(report)} (readers {first}–{last})"
        if report.stopped:
            log.warning("%s: stopped: %s", line, report.stopped)
        else:
            log.info("%s", line)

    log.info("worker started: %s at a time", plural(concurrency, "chunk"))
    with stop_on_signals(stop):
        pool.work(run, concurrency=concurrency, should_stop=stop.is_set)
    log.info("worker stopped")
