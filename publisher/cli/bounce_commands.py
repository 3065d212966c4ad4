"""`publisher bounces process PATH...`: bounces, complaints and unsubscribe requests by mail."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click

from publisher.cli import AppContext, cli, pass_app
from publisher.jobs import bounce_matcher, bounce_summary
from publisher.mail.mailboxes import Incoming, read_source
from publisher.store.database import Store
from publisher.subscribers.bounces import process


@cli.group()
def bounces() -> None:
    """Read the mail that came back: bounces, complaints, unsubscribe requests."""


@bounces.command(name="process")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@pass_app
def process_(app: AppContext, paths: tuple[str, ...]) -> None:
    """Apply the bounces, complaints and unsubscribe requests in PATH...

    Each PATH is a Maildir folder, an mbox file, a single .eml file, or - for
    standard input. Handled Maildir messages are marked seen; nothing is
    deleted, and mail that cannot be matched to a message sent is left where
    it is. Processing the same mail again changes nothing.
    """
    settings = app.settings
    matcher = bounce_matcher(settings)

    with Store.open(settings.store_url) as store:
        report = process(store, _all(paths), matcher, app.clock)
    click.echo(bounce_summary(report))
    for label, why in report.left:
        click.echo(f"  left alone: {label}: {why}")


def _all(paths: tuple[str, ...]) -> Iterator[Incoming]:
    for path in paths:
        yield from read_source(path, sys.stdin.buffer.read)
