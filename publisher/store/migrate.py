"""Bring a database to this version's schema: make a new one, or run the migrations.

A new database gets the tables of `schema.py` and is stamped with
`schema.REVISION`, without importing Alembic (about 0.3 s a start). A database
of an earlier revision is upgraded in place by Alembic, from the numbered
files in `migrations/versions/`; one made before there were migrations (schema
version 1, no `alembic_version` table) is first stamped with the baseline.
All of it happens under the write lock (SQLite's BEGIN IMMEDIATE, an advisory
lock on PostgreSQL), so two processes starting together migrate once; the
second one finds the work done.

SQLite cannot alter a CHECK constraint, so a migration may rebuild a table;
it runs with foreign keys off (a pragma that works only outside a
transaction), or dropping the old table would delete the rows that refer to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import Connection

from publisher.store.schema import (
    REVISION,
    SCHEMA_VERSION,
    alembic_version,
    column_mismatch,
    metadata,
    store_meta,
)

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"
_SCHEMA_LOCK = 0x7075626C  # any constant: the advisory lock taken while changing tables


def prepare(conn: Connection) -> str | None:
    """Make the database usable; return why it cannot be, or None when it is."""
    with _writing(conn, foreign_keys=True):
        problem, outdated = _create_or_check(conn)
    if not outdated:
        return problem
    with _writing(conn, foreign_keys=False):
        current = _revision(conn)
        if current != REVISION:  # another process may have done it meanwhile
            upgrade(conn, current)
        if conn.dialect.name == "sqlite" and conn.exec_driver_sql(
                "PRAGMA foreign_key_check").first() is not None:
            raise RuntimeError("the migration left rows that refer to nothing")
    return None


def _create_or_check(conn: Connection) -> tuple[str | None, bool]:
    """(why the database cannot be used, whether it needs upgrading)."""
    existing = set(inspect(conn).get_table_names())
    if not existing & set(metadata.tables):
        metadata.create_all(conn)
        alembic_version.create(conn)
        conn.execute(insert(alembic_version).values(version_num=REVISION))
        conn.execute(insert(store_meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
        return None, False
    if "store_meta" not in existing:
        return "it holds tables of another program, not a publisher store", False
    current = _revision(conn)
    if current == REVISION:
        return column_mismatch(conn), False
    if current is None or current not in known_revisions():
        return (f"it has schema revision {current or 'unknown'}, newer than this publisher "
                f"knows (up to {REVISION})"), False
    return None, True


def _revision(conn: Connection) -> str | None:
    """The database's Alembic revision; the baseline for a store of schema version 1."""
    if "alembic_version" in inspect(conn).get_table_names():
        return conn.execute(select(alembic_version.c.version_num)).scalar()
    version = conn.execute(
        select(store_meta.c.value).where(store_meta.c.key == "schema_version")).scalar()
    return BASELINE if version == "1" else None


def known_revisions() -> list[str]:
    """The revision ids of the files in migrations/versions/, oldest first."""
    return sorted(path.name.split("_")[0] for path in (MIGRATIONS / "versions").glob("0*.py"))


def upgrade(conn: Connection, current: str | None, target: str = "head") -> None:
    """Run the migrations after `current` (None: an empty database) up to `target`."""
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    if current is not None and "alembic_version" not in inspect(conn).get_table_names():
        MigrationContext.configure(conn).stamp(script, current)

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs(target, revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev=target) as env:
        env.configure(connection=conn, render_as_batch=True)
        with env.begin_transaction():
            env.run_migrations()


def head_revision() -> str:
    """The newest revision as Alembic sees it (for the test that `schema.REVISION` is it)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    return str(head)


@contextmanager
def _writing(conn: Connection, *, foreign_keys: bool) -> Iterator[None]:
    """One write transaction holding the schema lock; committed if the block succeeds."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite and not foreign_keys:
        conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
    try:
        if sqlite:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        yield
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        if sqlite and not foreign_keys:
            conn.exec_driver_sql("PRAGMA foreign_keys = ON")
