"""`publisher backup` (a consistent copy of the SQLite store, safe while the site runs),
`publisher store migrate` and `publisher store copy --to URL`."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.cli import AppContext, cli, pass_app


@cli.command()
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def backup(app: AppContext, destination: Path) -> None:
    """Copy the SQLite store to DESTINATION with SQLite's online backup (not `cp`).

    Safe while `serve`, `run` or a send is using the database; DESTINATION is
    replaced only once the copy is complete and checked.
    """
    from publisher.store.backup import backup_sqlite

    made = backup_sqlite(app.settings.store_url, destination)
    click.echo(f"backed up {made.source} to {made.destination} ({made.size:,} bytes)")


@cli.group()
def store() -> None:
    """The database behind the list: its schema, and moving it to another database."""


@store.command()
@pass_app
def migrate(app: AppContext) -> None:
    """Bring the store to this version's schema (every command also does it when it opens)."""
    from publisher.store.database import Store
    from publisher.store.schema import REVISION

    settings = app.settings
    with Store.open(settings.store_url, settings.store_source):
        pass
    click.echo(f"the store is at schema revision {REVISION}")


@store.command()
@click.option("--to", "target", required=True, metavar="URL",
              help="The database to copy into, e.g. postgresql+psycopg://user@host/dbname; "
              "new or empty.")
@pass_app
def copy(app: AppContext, target: str) -> None:
    """Copy the store (subscribers, ledger, digests, schedule state) to another database.

    Then point [store] url (or PUBLISHER_STORE_URL) at it. Stop sending first.
    """
    from publisher.store.copy import copy_store

    report = copy_store(app.settings.store_url, target)
    total = sum(report.rows.values())
    parts = ", ".join(f"{n:,} {name}" for name, n in report.rows.items() if n)
    click.echo(f"copied {total:,} rows and checked them: {parts}")
