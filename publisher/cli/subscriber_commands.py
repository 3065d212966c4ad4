"""`publisher subscribers ...`: add, remove, list, import and export the subscriber list."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click

from publisher.atomic import atomic_write
from publisher.cli import AppContext, cli, pass_app, plural
from publisher.errors import ProblemsError, SubscriberError
from publisher.models import Subscriber
from publisher.schedule.files import load_schedules
from publisher.store.database import Store
from publisher.store.schema import SUBSCRIBER_STATUSES
from publisher.subscribers import preferences, suppression
from publisher.subscribers.addresses import normalise_address
from publisher.subscribers.csv_files import export_csv, import_csv
from publisher.subscribers.preferences import Choices, cadences_of, offered_topics

_ROW = "{email:<32} {status:<12} {joined:<10}  {name:<24} {cadence:<16} {when:<26} {tags}"


@contextlib.contextmanager
def _store(app: AppContext) -> Iterator[Store]:
    with Store.open(app.settings.store_url, app.settings.store_source) as store:
        yield store



@cli.group()
def subscribers() -> None:
    """Manage the subscriber list (kept in the database named by [store] url)."""


_RESUBSCRIBE = click.option(
    "--resubscribe", is_flag=True,
    help="Bring back an address that bounced, complained or was removed (never one that "
    "unsubscribed: only its owner can, through the subscribe form).")


@subscribers.command()
@click.argument("email")
@click.option("--name", default="", help="The subscriber's name, used in the greeting.")
@click.option("--tags", default="", metavar="A,B", help="Tags, separated by commas.")
@_RESUBSCRIBE
@pass_app
def add(app: AppContext, email: str, name: str, tags: str, resubscribe: bool) -> None:
    """Add EMAIL to the list (an address already there is left as it is)."""
    with _store(app) as store:
        done = suppression.add(store, email, name=name, tags=tags, now=app.clock(),
                               resubscribe=resubscribe)
    subscriber = done.subscriber
    if done.outcome == "added":
        click.echo(f"added {subscriber.email}")
    elif done.outcome == "resubscribed":
        click.echo(f"{subscriber.email} is subscribed again")
    elif subscriber.status == "active":
        click.echo(f"{subscriber.email} is already subscribed")
    else:
        hint = "; add --resubscribe to bring it back" if subscriber.status in (
            "bounced", "complained") else ""
        click.echo(f"{subscriber.email} is already on the list ({subscriber.status}); "
                   f"nothing changed{hint}")


@subscribers.command()
@click.argument("email")
@pass_app
def remove(app: AppContext, email: str) -> None:
    """Delete EMAIL and what was sent to it; a one-way hash keeps it off the list."""
    address = normalise_address(email)
    with _store(app) as store:
        found = store.get_subscriber(address)
        if found is None or not store.remove_subscriber(address, now=app.clock()):
            raise SubscriberError(f"{address} is not on the list",
                                  hint="`publisher subscribers list` shows who is")
    click.echo(f"removed {found.email}; its hash stays on the suppression list, so no import "
               "adds it again")


@subscribers.command()
@click.argument("email")
@pass_app
def unsubscribe(app: AppContext, email: str) -> None:
    """Unsubscribe EMAIL at its owner's request (made by letter, phone or mail)."""
    with _store(app) as store:
        subscriber = suppression.unsubscribe(store, email, now=app.clock())
    click.echo(f"unsubscribed {subscriber.email}")


@subscribers.command(name="list")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES),
              help="Only subscribers with this status.")
@pass_app
def list_(app: AppContext, status: str | None) -> None:
    """Show the subscribers, in the order they joined."""
    count = 0
    with _store(app) as store:
        for subscriber in store.iter_subscribers(status):
            if count == 0:
                click.echo(_ROW.format(email="EMAIL", status="STATUS", joined="JOINED",
                                       name="NAME", cadence="CADENCE", when="ZONE AND HOUR",
                                       tags="TAGS").rstrip())
            click.echo(_row(app, subscriber))
            count += 1
    which = f"{status} " if status else ""
    click.echo(f"{plural(count, which + 'subscriber')}" if count else
               f"no {which}subscribers")


def _row(app: AppContext, subscriber: Subscriber) -> str:
    joined = subscriber.created_at.astimezone(app.settings.zone).date().isoformat() \
        if subscriber.created_at else ""
    hour = f"{subscriber.hour:02d}:00" if subscriber.hour is not None else ""
    return _ROW.format(email=subscriber.email, status=subscriber.status, joined=joined,
                       name=subscriber.name, cadence=subscriber.cadence or "",
                       when=f"{subscriber.timezone or ''} {hour}".strip(),
                       tags=", ".join(subscriber.tags)).rstrip()


@subscribers.command(name="set")
@click.argument("email")
@click.option("--topics", metavar="A,B", help="Topics (tags the site offers), separated by "
              "commas; \"\" for every topic.")
@click.option("--cadence", metavar="SCHEDULE", help="A digest schedule marked choosable; \"\" "
              "for every digest.")
@click.option("--timezone", metavar="ZONE", help="An IANA time zone, e.g. Europe/Lisbon; \"\" "
              "for the site's.")
@click.option("--hour", metavar="0-23", help="The local hour a local digest arrives; \"\" for "
              "the schedule's own time.")
@pass_app
def set_(app: AppContext, email: str, topics: str | None, cadence: str | None,
         timezone: str | None, hour: str | None) -> None:
    """Change EMAIL's choices at their request, as the preference page would.

    Options left out keep their value; each value is checked as on the page.
    """
    settings = app.settings
    choices = Choices(offered_topics(settings.output_path),
                      cadences_of(load_schedules(settings)))
    chosen = None if topics is None else [t for t in topics.split(",") if t.strip()]
    with _store(app) as store:
        reader = preferences.change(store, email, choices, topics=chosen, cadence=cadence,
                                    timezone=timezone, hour=hour)
    click.echo(f"{reader.email}: {_choices(reader, settings.timezone)}")


def _choices(reader: Subscriber, site_zone: str) -> str:
    topics = ", ".join(reader.tags) or "every topic"
    cadence = reader.cadence or "every digest"
    zone = reader.timezone or f"the site's zone ({site_zone})"
    hour = f"at {reader.hour:02d}:00" if reader.hour is not None else "at the schedule's time"
    return f"{topics}; {cadence}; {zone}, {hour}"


@subscribers.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_RESUBSCRIBE
@pass_app
def import_(app: AppContext, file: Path, resubscribe: bool) -> None:
    """Add the addresses in a CSV FILE (columns email,name,tags, or only email).

    Addresses already on the list are left as they are, so importing a file
    again changes nothing; addresses that left are not added again. Bad rows
    are listed with their line numbers; the good ones are imported all the same.
    """
    with _store(app) as store:
        report = import_csv(store, file, now=app.clock(), label=str(file),
                            resubscribe=resubscribe)
    rejected = len(report.rejected)
    tail = ": nothing changed" if report.imported == 0 else ""
    hashes = f", removed addresses kept off the list {report.suppressed}" \
        if report.suppressed else ""
    click.echo(f"imported {report.imported}, already present {report.present}, "
               f"rejected {rejected}{hashes}{tail}")
    if rejected:
        raise ProblemsError(report.rejected, summary=f"{plural(rejected, 'row')} rejected")


@subscribers.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@pass_app
def export(app: AppContext, file: Path) -> None:
    """Write the whole list to a CSV FILE (`-` for standard output)."""
    with _store(app) as store:
        if str(file) == "-":
            for line in export_csv(store):
                click.echo(line, nl=False)
            return
        lines = list(export_csv(store))
    atomic_write(file, "".join(lines).encode("utf-8"))
    click.echo(f"exported {plural(len(lines) - 1, 'subscriber')} to {file}")
