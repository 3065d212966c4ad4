"""`publisher store copy --to URL`: a site's SQLite store moved to PostgreSQL, a digest mid-send."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import cli
from publisher.clock import fixed_clock
from publisher.config import load_settings
from publisher.errors import StoreError
from publisher.send import default_plan
from publisher.store.copy import copy_store
from publisher.store.database import NewSubscriber, Store
from tests.conftest import NOW, SMTP_CONFIG, SiteFactory, article
from tests.postgres import NEEDS_POSTGRES, postgres_url
from tests.sending import send_digest
from tests.smtp_server import SMTPServer

pytestmark = NEEDS_POSTGRES
READERS = [f"r{n}@example.org" for n in range(10)]


def statuses(url: str) -> tuple[dict[str, int], dict[str, str]]:
    with Store.open(url) as store:
        people = {s.email: s.status for s in store.iter_subscribers()}
        [record] = store.list_digests()
        return store.delivery_counts(record.digest.id), people


def test_a_digest_half_sent_before_the_copy_is_finished_after_it_without_duplicates(
        make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "a signing key for the copy test, long enough")
    with SMTPServer() as server:
        root = make_site({"content/a.md": article("A", "2026-11-24 09:00", id="a")},
                         config=SMTP_CONFIG.format(port=server.port))
        settings = load_settings(root)
        sqlite_url = settings.store_url
        with Store.open(sqlite_url) as store:
            store.add_subscribers([NewSubscriber(r) for r in READERS], now=NOW)
            store.add_subscriber("gone@example.org", now=NOW)
            gone = store.get_subscriber("gone@example.org")
            assert gone is not None
            store.set_subscriber_status(gone.id, "unsubscribed", now=NOW)
        first = send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings),
                            should_stop=lambda: len(server.messages) >= 4)
        assert first is not None and first.stopped is not None
        before = statuses(sqlite_url)
        for url in postgres_url():
            done = CliRunner().invoke(cli, ["--site", str(root), "store", "copy", "--to", url])
            assert done.exit_code == 0, done.output
            assert done.output.startswith("copied ") and "11 subscribers" in done.output
            assert statuses(url) == before
            monkeypatch.setenv("PUBLISHER_STORE_URL", url)
            later = load_settings(root)
            second = send_digest(later, fixed_clock(NOW + timedelta(minutes=5)),
                                 schedule=default_plan(later))
            with Store.open(url) as store:  # a new subscriber gets the next id, not a used one
                added, created = store.add_subscriber("new@example.org", now=NOW)
                assert created and added.id == 12
            with pytest.raises(StoreError) as caught:
                copy_store(sqlite_url, url)
            assert str(caught.value).startswith("the target database already holds subscribers")
    assert second is not None and second.stopped is None
    assert server.received() == dict.fromkeys(READERS, 1)  # each reader once, across both


def test_a_store_is_not_copied_onto_itself(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'publisher.db'}"
    with pytest.raises(StoreError) as caught:
        copy_store(url, url)
    assert str(caught.value) == ("the store would be copied onto itself\n"
                                 "  hint: pass --to the URL of another database")
