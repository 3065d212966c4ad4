"""`publisher backup`: a consistent copy of the SQLite store, safe while the site runs."""

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
