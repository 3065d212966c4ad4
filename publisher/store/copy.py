"""A site's store copied to another database: SQLite to PostgreSQL, when a list outgrows it.

Every table of the schema is copied row for row (ids included, so signed links
and the ledger keep pointing at the same people), into a database that holds
no subscriber and no digest yet; the target is created or upgraded to this
version's schema first. The copy is then checked: the same number of rows in
every table, and the same statuses of subscribers and deliveries. A digest
half sent before the copy is finished by the next `digest send` against the
target, from its ledger, without sending anyone a second copy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import Connection

from publisher.errors import StoreError
from publisher.store.engine import connect
from publisher.store.schema import deliveries, limit_hits, metadata, store_meta, subscribers

BATCH = 1000
SKIPPED = {store_meta.name}  # the target keeps its own record of its schema
SERIAL = (subscribers.name, limit_hits.name)  # the tables whose ids a sequence hands out


@dataclass(frozen=True, slots=True)
class CopyReport:
    rows: dict[str, int]  # table -> rows copied


def copy_store(source_url: str, target_url: str) -> CopyReport:
    """Copy every row of the store at `source_url` into the empty store at `target_url`."""
    if source_url == target_url:
        raise StoreError("the store would be copied onto itself",
                         hint="pass --to the URL of another database")
    source_engine, source = connect(source_url)
    target_engine, target = connect(target_url)
    try:
        _refuse_if_used(target)
        rows = {}
        for table in _tables():
            rows[table.name] = _copy(table, source, target)
        _advance_sequence(target)
        target.commit()
        _check(source, target, rows)
        return CopyReport(rows)
    except BaseException:
        target.rollback()
        raise
    finally:
        for conn, engine in ((source, source_engine), (target, target_engine)):
            conn.close()
            engine.dispose()


def _tables() -> Iterator[Table]:
    """The tables in an order that puts every row after the rows it refers to."""
    return (t for t in metadata.sorted_tables if t.name not in SKIPPED)


def _refuse_if_used(target: Connection) -> None:
    for table in (subscribers, deliveries):
        if target.execute(select(func.count()).select_from(table)).scalar():
            raise StoreError(f"the target database already holds {table.name}",
                             hint="copy into a new, empty database")


def _copy(table: Table, source: Connection, target: Connection) -> int:
    result = source.execute(select(table))
    copied = 0
    while batch := result.fetchmany(BATCH):
        target.execute(insert(table), [dict(row._mapping) for row in batch])
        copied += len(batch)
    source.commit()
    return copied


def _advance_sequence(target: Connection) -> None:
    """PostgreSQL hands out ids from a sequence, which the copied ids did not move."""
    if target.dialect.name == "postgresql":
        for name in SERIAL:  # names of our own tables, never input
            target.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                                f"GREATEST((SELECT max(id) FROM {name}), 1))"))


def _check(source: Connection, target: Connection, rows: dict[str, int]) -> None:
    """The same rows, and the same statuses, on both sides; a `StoreError` otherwise."""
    for name, count in rows.items():
        found = target.execute(select(func.count()).select_from(metadata.tables[name])).scalar()
        if found != count:
            raise StoreError(f"the copy of {name} has {found} rows instead of {count}")
    for table in (subscribers, deliveries):
        if _statuses(source, table) != _statuses(target, table):
            raise StoreError(f"the statuses of {table.name} differ after the copy")
    source.commit()
    target.commit()


def _statuses(conn: Connection, table: Table) -> Counter[Any]:
    return Counter(dict(conn.execute(select(table.c.status, func.count()).group_by(
        table.c.status)).all()))
