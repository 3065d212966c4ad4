"""A consistent copy of a SQLite store while the site keeps running: SQLite's online backup.

In WAL mode much of the data may sit in `publisher.db-wal` for a while, so a copy
of the `.db` file alone can miss recent changes or be torn by a write in the
middle. The online backup API copies the database page by page as one
consistent snapshot, taking turns with writers instead of locking them out. The
copy is checked (`PRAGMA integrity_check`) and renamed into place only when
whole, so an interrupted backup never replaces a good one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from publisher.errors import StoreError

PAGES_PER_STEP = 1024  # between steps, other connections may write


@dataclass(frozen=True, slots=True)
class Backup:
    source: Path
    destination: Path
    size: int  # bytes


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///…` store URL; a `StoreError` saying what to do for others."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError("the store URL cannot be read",
                         hint="set [store] url to sqlite:///publisher.db or a "
                         "postgresql+psycopg:// URL") from None
    if parsed.get_backend_name() != "sqlite":
        raise StoreError(f"the store is a {parsed.get_backend_name()} database, not a SQLite file",
                         hint="back up PostgreSQL with its own tools, e.g. pg_dump "
                         "--format=custom --file=publisher.dump DATABASE")
    if not parsed.database or parsed.database == ":memory:":
        raise StoreError("the store is an in-memory database: there is nothing to back up")
    return Path(parsed.database)


def backup_sqlite(url: str, destination: Path) -> Backup:
    """Copy the SQLite store at `url` to `destination` (replacing it only once complete)."""
    source = sqlite_path(url)
    if not source.is_file():
        raise StoreError("there is no database file to back up", path=source,
                         hint="check [store] url in publisher.toml (or $PUBLISHER_STORE_URL)")
    if destination.resolve() == source.resolve():
        raise StoreError("the backup would overwrite the database itself", path=destination,
                         hint="give another file name, e.g. backups/publisher-$(date +%F).db")
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.",
                                     suffix=".tmp")
    os.close(fd)
    try:
        _copy(source, Path(temporary))
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return Backup(source, destination, destination.stat().st_size)


def _copy(source: Path, target: Path) -> None:
    try:
        with contextlib.closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as src, \
                contextlib.closing(sqlite3.connect(target)) as dst:
            src.backup(dst, pages=PAGES_PER_STEP)
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
            dst.commit()
        with open(target, "rb") as handle:
            os.fsync(handle.fileno())
    except sqlite3.Error as exc:
        raise StoreError(f"the backup failed: {exc}", path=source,
                         hint="check that the file is a publisher database and that there "
                         "is room on the disk") from None
    if verdict != "ok":
        raise StoreError(f"the copy failed its integrity check: {verdict}", path=source,
                         hint="the database itself may be damaged: run "
                         "`sqlite3 publisher.db 'PRAGMA integrity_check'`")
