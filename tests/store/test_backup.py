"""`publisher backup`: SQLite's online backup of a store in WAL mode, while it is in use."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import cli
from publisher.errors import StoreError
from publisher.store.backup import backup_sqlite
from publisher.store.database import Store
from tests.conftest import NOW, SiteFactory


def test_a_backup_holds_what_is_still_only_in_the_write_ahead_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'publisher.db'}"
    with Store.open(url) as store:
        for n in range(50):
            store.add_subscriber(f"reader{n}@example.org", "", (), now=NOW)
        assert (tmp_path / "publisher.db-wal").stat().st_size > 0  # not yet in the .db file
        made = backup_sqlite(url, tmp_path / "backups/copy.db")
        store.add_subscriber("later@example.org", "", (), now=NOW)  # the store is still usable
    with sqlite3.connect(made.destination) as copy:
        count = copy.execute("SELECT count(*) FROM subscribers").fetchone()[0]
        mode = copy.execute("PRAGMA journal_mode").fetchone()[0]
    assert (count, mode) == (50, "delete")
    assert not (tmp_path / "backups/copy.db-wal").exists()
    assert [p.name for p in (tmp_path / "backups").iterdir()] == ["copy.db"]


def test_a_postgresql_store_is_pointed_to_pg_dump() -> None:
    with pytest.raises(StoreError) as caught:
        backup_sqlite("postgresql+psycopg://postgres@127.0.0.1/test", Path("x.db"))
    assert str(caught.value.problem) == (
        "the store is a postgresql database, not a SQLite file\n  hint: back up PostgreSQL with "
        "its own tools, e.g. pg_dump --format=custom --file=publisher.dump DATABASE")


def test_the_command_backs_up_the_sites_store(make_site: SiteFactory) -> None:
    root = make_site()
    with Store.open(f"sqlite:///{root / 'publisher.db'}") as store:
        store.add_subscriber("ann@example.org", "Ann", (), now=NOW)
    result = CliRunner().invoke(cli, ["--site", str(root), "backup", str(root / "b.db")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"backed up {root / 'publisher.db'} to {root / 'b.db'} (")
    with Store.open(f"sqlite:///{root / 'b.db'}") as copy:
        assert copy.get_subscriber("ann@example.org") is not None


def test_a_missing_database_or_the_same_file_is_a_clear_error(make_site: SiteFactory) -> None:
    root = make_site()
    missing = CliRunner().invoke(cli, ["--site", str(root), "backup", "b.db"])
    assert (missing.exit_code, missing.output) == (1, (
        f"error: {root / 'publisher.db'}: there is no database file to back up\n"
        "  hint: check [store] url in publisher.toml (or $PUBLISHER_STORE_URL)\n"))
    Store.open(f"sqlite:///{root / 'publisher.db'}").close()
    same = CliRunner().invoke(cli, ["--site", str(root), "backup", str(root / "publisher.db")])
    assert same.exit_code == 1
    assert "the backup would overwrite the database itself" in same.output
