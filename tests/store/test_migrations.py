"""The store's migrations: a database made by the first release is upgraded in place.

`tests/data/store/v1-sqlite.sql` was dumped from a store that the first release
(schema version 1, before Alembic) made and used: subscribers in every status,
a digest with a sent, a deferred, a pending and three failed rows (a hard
bounce, a give-up it counted as a bounce, a relay refusal it counted as one).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from publisher.store.database import Store
from publisher.store.migrate import head_revision, upgrade
from publisher.store.schema import REVISION, SCHEMA_VERSION
from tests.postgres import PG_ENV, postgres_url
from tests.store.test_store import POSTGRES

DUMP = Path(__file__).parents[1] / "data" / "store" / "v1-sqlite.sql"
DIGEST = "digest-20261120-0700"


def test_the_schema_revision_is_the_newest_migration() -> None:
    assert head_revision() == REVISION


ORDER = ["store_meta", "subscribers", "digests", "digest_items", "deliveries", "schedule_state"]


def _v1_rows() -> list[str]:
    """The dump's INSERT statements in an order the foreign keys accept, minus SQLite's own."""
    rows = [line for line in DUMP.read_text("utf-8").splitlines()
            if line.startswith("INSERT INTO") and "sqlite_sequence" not in line]
    return sorted(rows, key=lambda line: ORDER.index(line.split('"')[1]))


@pytest.fixture(params=["sqlite", POSTGRES])
def v1_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a schema-1 store holding the dump's rows."""
    if request.param == "sqlite":
        path = tmp_path / "v1.db"
        with sqlite3.connect(path) as conn:
            conn.executescript(DUMP.read_text("utf-8"))
        conn.close()
        yield f"sqlite:///{path}"
        return
    for url in postgres_url():
        engine = create_engine(url)
        with engine.begin() as conn:
            upgrade(conn, None, target="0001")
            conn.execute(text("SET TIME ZONE 'UTC'"))
            conn.execute(text("DELETE FROM store_meta"))
            conn.execute(text("DROP TABLE alembic_version"))  # as the first release left it
            for line in _v1_rows():
                conn.exec_driver_sql(line.replace('INSERT INTO "', "INSERT INTO ").replace(
                    '" VALUES', " VALUES"))
            conn.execute(text("SELECT setval('subscribers_id_seq', 8)"))
        engine.dispose()
        yield url


def test_a_store_of_the_first_release_is_upgraded_without_losing_a_row(v1_store: str) -> None:
    with Store.open(v1_store) as store:
        people = {s.email: (s.status, s.status_reason) for s in store.iter_subscribers()}
        rows = {e.subscriber.email: (e.delivery.status, e.delivery.reply)
                for status in ("sent", "deferred", "pending", "gave_up", "bounced")
                for e in store.ledger_entries(DIGEST, status)}
        assert store.delivery_counts(DIGEST) == {
            "queued": 0, "pending": 1, "sent": 1, "deferred": 1, "uncertain": 0, "gave_up": 2,
            "bounced": 1, "complained": 0, "skipped": 0}
        [record] = store.list_digests()
        assert record.digest.article_ids == ("urn:a", "urn:b")
        state = store.get_schedule_state("digest")
        assert state is not None and state.outcome == "ok"
        newcomer, _ = store.add_subscriber("ivy@example.org", now=record.digest.created_at)
    assert newcomer.id == 9  # ids go on from where the first release left them
    assert people == {
        "ann@example.org": ("active", None), "bob@example.org": ("active", None),
        "cleo@example.org": ("pending", None), "dan@example.org": ("unsubscribed", None),
        "eve@example.org": ("bounced", "550 5.1.1 <eve@example.org>: user unknown"),
        "fay@example.org": ("active", "made active again: gave up after 5 attempts; the last "
                            "reply: 452 4.2.2 mailbox full"),
        "gus@example.org": ("active", "made active again: 550 5.7.1 relaying denied"),
        "hal@example.org": ("active", None)}
    assert rows == {
        "ann@example.org": ("sent", "250 2.0.0 Ok: queued as 1"),
        "bob@example.org": ("deferred", "451 4.3.0 try later"),
        "hal@example.org": ("pending", ""),
        "eve@example.org": ("bounced", "550 5.1.1 <eve@example.org>: user unknown"),
        "fay@example.org": ("gave_up", "gave up after 5 attempts; the last reply: 452 4.2.2 "
                            "mailbox full"),
        "gus@example.org": ("gave_up", "550 5.7.1 relaying denied")}


def _shape(url: str) -> dict[str, object]:
    """Tables, columns, keys, constraints and indexes as the database reports them."""
    engine = create_engine(url)
    try:
        found = inspect(engine)
        shape: dict[str, object] = {}
        for table in sorted(found.get_table_names()):
            shape[table] = (
                [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
                found.get_pk_constraint(table)["constrained_columns"],
                sorted((tuple(fk["constrained_columns"]), fk["referred_table"],
                        fk.get("options", {}).get("ondelete"))
                       for fk in found.get_foreign_keys(table)),
                sorted((c["name"], re.sub(r"\s+", " ", c["sqltext"]))
                       for c in found.get_check_constraints(table)),
                sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                       for i in found.get_indexes(table)),
                sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)))
        return shape
    finally:
        engine.dispose()


def test_an_upgraded_store_has_the_tables_of_a_new_one(v1_store: str, tmp_path: Path) -> None:
    Store.open(v1_store).close()
    if v1_store.startswith("sqlite"):
        fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
        Store.open(fresh).close()
        assert _shape(v1_store) == _shape(fresh)
        assert _without_rowid(v1_store) == _without_rowid(fresh) == {"deliveries"}
        return
    for fresh in postgres_url():
        Store.open(fresh).close()
        assert _shape(v1_store) == _shape(fresh)


def _without_rowid(url: str) -> set[str]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        found = {name for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            if sql and "WITHOUT ROWID" in sql}
    conn.close()
    return found


def test_the_baseline_is_exactly_what_the_first_release_made(tmp_path: Path) -> None:
    def tables(sql: list[str]) -> dict[str, str]:
        found = {}
        for statement in sql:
            head = re.match(r'CREATE (TABLE|INDEX) "?(\w+)"?', statement)
            if head:
                found[head.group(2)] = re.sub(r"\s+", " ", statement).replace('"', "").strip()
        return found

    dumped = [s for s in DUMP.read_text("utf-8").split(";\n") if s.startswith("CREATE")]
    engine = create_engine(f"sqlite:///{tmp_path / 'baseline.db'}")
    with engine.begin() as conn:
        upgrade(conn, None, target="0001")
    engine.dispose()
    with sqlite3.connect(tmp_path / "baseline.db") as made:
        ours = [row[0] for row in made.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT IN ('alembic_version', 'sqlite_sequence')")]
    made.close()
    assert tables(ours) == tables(dumped)


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"needs {PG_ENV}")
def test_postgres_fixture_is_in_use() -> None:
    assert os.environ[PG_ENV].startswith("postgresql")


@pytest.fixture(params=["sqlite", POSTGRES])
def store_at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a store as the release before reader preferences left it, with a reader."""
    urls = iter([f"sqlite:///{tmp_path / 'r3.db'}"]) if request.param == "sqlite" \
        else postgres_url()
    for url in urls:
        engine = create_engine(url)
        with engine.begin() as conn:
            upgrade(conn, None, target="0003")
            conn.execute(text(
                "INSERT INTO subscribers (email, email_key, name, tags, status, created_at, "
                "updated_at) VALUES ('ann@example.org', 'ann@example.org', 'Ann', 'ferry', "
                "'active', '2026-11-20 07:00:00', '2026-11-20 07:00:00')"))
        engine.dispose()
        yield url


def test_a_store_before_preferences_is_upgraded_in_place_and_readers_keep_everything(
        store_at_0003: str) -> None:
    with Store.open(store_at_0003) as store:
        ann = store.get_subscriber("ann@example.org")
        assert ann is not None
        assert (ann.name, ann.tags, ann.status) == ("Ann", ("ferry",), "active")
        assert (ann.cadence, ann.timezone, ann.hour) == (None, None, None)
        assert store.set_preferences(ann.id, tags=("ferry", "council"), cadence="weekly",
                                     timezone="Pacific/Chatham", hour=23)
        assert store.set_preferences(ann.id + 1, tags=(), cadence=None, timezone=None,
                                     hour=None) is False
    with Store.open(store_at_0003) as store:  # opened again: nothing to migrate
        again = store.get_subscriber("ann@example.org")
        assert again is not None
        assert (again.tags, again.cadence, again.timezone, again.hour) == (
            ("ferry", "council"), "weekly", "Pacific/Chatham", 23)
        assert again.updated_at == ann.updated_at  # choosing is not a change of status
    engine = create_engine(store_at_0003)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == REVISION
        assert conn.execute(text("SELECT value FROM store_meta WHERE key = 'schema_version'")
                            ).scalar() == str(SCHEMA_VERSION)
    engine.dispose()
