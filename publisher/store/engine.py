"""From a database URL to one open, checked connection; every failure a `StoreError`.

SQLite is tuned here for a ledger that commits once per message: WAL (readers
never block the writer), synchronous=NORMAL (a commit does not wait for the
disk; a power cut may lose the last commits, never corrupt the file), a busy
timeout (a second process waits for the lock instead of failing), foreign keys
on. The driver runs in autocommit mode: a single statement is its own
transaction, and several statements are grouped by an explicit
`BEGIN IMMEDIATE`, which takes the write lock up front so that two writers
queue on the busy timeout instead of failing on a lock upgrade.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, NoReturn

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    StatementError,
)

from publisher.errors import StoreError
from publisher.store.migrate import prepare

BUSY_TIMEOUT_MS = 10_000
SUPPORTED = ("sqlite", "postgresql")
CONFIGURED = "[store] url in publisher.toml"  # where a URL comes from, unless said otherwise


def url_hint(source: str) -> str:
    return f"set {source} to e.g. sqlite:///publisher.db or postgresql+psycopg://user@host/dbname"


def connect(url: str, source: str = CONFIGURED) -> tuple[Engine, Connection]:
    """Open `url`; create the tables of an empty database, upgrade an older one, check it fits.

    `source` says where the URL was written, for hints: the setting or the variable.
    """
    parsed = _parse(url, source)
    label = _label(parsed)
    engine = _engine(parsed, label)
    try:
        conn = engine.connect()
        problem = prepare(conn)
    except DBAPIError as exc:
        engine.dispose()
        raise StoreError(f"cannot open the database {label}: {_reason(exc)}",
                         hint=_hint(parsed, exc, source)) from None
    if problem is not None:
        conn.close()
        engine.dispose()
        raise StoreError(f"the database {label} cannot be used: {problem}",
                         hint=f"point {source} at a publisher database, or at a new one")
    return engine, conn


def begin(conn: Connection, *, write: bool) -> None:
    """Start a transaction; on SQLite a writing one takes the write lock at once.

    Other databases begin on their own with the first statement.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def reraise(exc: BaseException) -> NoReturn:
    """Database trouble as a StoreError, a bad argument as its ValueError, the rest as is."""
    if isinstance(exc, OperationalError):
        lines = str(exc.orig).strip().splitlines() or ["unknown error"]
        hint = "another process may hold the database; try again" if "locked" in lines[0] \
            else "check that the database is reachable and has room"
        raise StoreError(f"the database failed: {lines[0]}", hint=hint) from exc
    if isinstance(exc, StatementError) and isinstance(exc.orig, ValueError):
        raise exc.orig from None
    raise exc


def _parse(url: str, source: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError("the database URL is not a URL", hint=url_hint(source)) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise StoreError(f"the database URL {_label(parsed)} names {backend!r}, which the store "
                         "does not support (only SQLite and PostgreSQL)", hint=url_hint(source))
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _engine(parsed: URL, label: str) -> Engine:
    args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        args["isolation_level"] = "AUTOCOMMIT"  # transactions are begun by `begin()`
        args["connect_args"] = {"check_same_thread": False}  # the Store serialises access
    try:
        engine = create_engine(parsed, **args)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"cannot open the database {label}: the driver is not installed "
                         f"({exc})", hint="for PostgreSQL: pip install 'publisher-feeds[postgres]' "
                         "and use a postgresql+psycopg:// URL") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _set_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _set_wal(cursor: Any) -> None:
    """Switch to WAL, waiting for another process doing the same on a new file.

    The switch needs the file to itself, and SQLite answers "locked" at once rather
    than through the busy timeout: two commands started together on a site without a
    database yet would otherwise fail at random.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _label(parsed: URL) -> str:
    """The URL as it may be shown: a file path for SQLite, no password otherwise."""
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


def _reason(exc: DBAPIError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0].strip() if lines else type(exc.orig).__name__


def _hint(parsed: URL, exc: DBAPIError, source: str) -> str:
    reason = _reason(exc)
    if parsed.get_backend_name() == "sqlite":
        if "not a database" in reason:
            return f"the file exists but is not an SQLite database; point {source} at " \
                "another file"
        if "locked" in reason:
            return "another publisher process is using it; try again when it has finished"
        return "check that the folder exists and that you may write in it"
    return f"check {source}, that the server is running and that it accepts this user"
