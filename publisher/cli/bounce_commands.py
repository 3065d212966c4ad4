"""`publisher bounces process PATH...`: bounces, complaints and unsubscribe requests by mail."""

from __future__ import annotations

import sys

import click

from publisher.cli import AppContext, cli, pass_app
from publisher.jobs import bounce_matcher, bounce_summary
from publisher.mail.imap import DEFAULT_PASSWORD_ENV, open_sources
from publisher.store.database import Store
from publisher.subscribers.bounces import process


@cli.group()
def bounces() -> None:
    """Read the mail that came back: bounces, complaints, unsubscribe requests."""


@bounces.command(name="process")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--password-env", default=DEFAULT_PASSWORD_ENV, show_default=True,
              metavar="VARIABLE", help="The environment variable holding the IMAP password.")
@pass_app
def process_(app: AppContext, paths: tuple[str, ...], password_env: str) -> None:
    """Apply the bounces, complaints and unsubscribe requests in PATH...

    Each PATH is a Maildir folder, an mbox file, a single .eml file, - for
    standard input, or an IMAP mailbox over TLS (imaps://USER@HOST/FOLDER, the
    password in the environment). Handled Maildir and IMAP messages are marked
    seen; nothing is deleted, and mail that cannot be matched to a message sent
    is left where it is. Processing the same mail again changes nothing.
    """
    settings = app.settings
    matcher = bounce_matcher(settings)

    with Store.open(settings.store_url) as store, \
            open_sources(paths, sys.stdin.buffer.read, password_env) as mail:
        report = process(store, mail, matcher, app.clock)
    click.echo(bounce_summary(report))
    for label, why in report.left:
        click.echo(f"  left alone: {label}: {why}")

