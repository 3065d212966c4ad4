"""The store against a real SQLite file, and against PostgreSQL when one is configured.

Set PUBLISHER_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
to run every backend test on PostgreSQL too; each test gets a schema of its own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from publisher.errors import StoreError
from publisher.lock import LockBusy
from publisher.models import Subscriber
from publisher.store.database import Delivery, NewSubscriber, Store
from publisher.store.schema import REVISION
from tests.conftest import NOW
from tests.postgres import PG_ENV, postgres_url

LATER = NOW + timedelta(hours=1)
LEASE = timedelta(minutes=2)


POSTGRES = pytest.param("postgresql", marks=pytest.mark.skipif(
    not os.environ.get(PG_ENV),
    reason=f"PostgreSQL tests need {PG_ENV}, e.g. "
    "postgresql+psycopg://postgres@127.0.0.1:5432/test"))


@pytest.fixture(params=["sqlite", POSTGRES])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'publisher.db'}"
    else:
        yield from postgres_url()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def people(store: Store, *emails: str) -> list[Subscriber]:
    return [store.add_subscriber(email, now=NOW)[0] for email in emails]


def status_of(store: Store, subscriber_id: int) -> str:
    found = store.get_subscriber_by_id(subscriber_id)
    assert found is not None
    return found.status


def row_of(store: Store, digest_id: str, subscriber_id: int) -> Delivery:
    found = store.delivery(digest_id, subscriber_id)
    assert found is not None
    return found


# -- subscribers ---------------------------------------------------------------------


def test_adding_an_address_twice_changes_nothing(store: Store) -> None:
    ann, created = store.add_subscriber("Ann@example.org", "Ann", ("news",), now=NOW)
    assert created
    assert (ann.email, ann.name, ann.tags, ann.status, ann.created_at) == (
        "Ann@example.org", "Ann", ("news",), "active", NOW)
    again, created = store.add_subscriber("ann@example.org", "Someone else", now=LATER)
    assert not created
    assert again == ann
    assert store.count_subscribers() == 1


def test_addresses_are_found_whatever_their_case(store: Store) -> None:
    [ann] = people(store, "Ann@example.org")
    assert store.get_subscriber("ANN@EXAMPLE.ORG") == ann
    assert store.get_subscriber_by_id(ann.id) == ann
    assert store.get_subscriber("bob@example.org") is None


def test_bulk_add_reports_which_rows_were_new(store: Store) -> None:
    people(store, "ann@example.org")
    created = store.add_subscribers([
        NewSubscriber("bob@example.org"), NewSubscriber("ANN@example.org"),
        NewSubscriber("bob@example.org"), NewSubscriber("cy@example.org", status="unsubscribed"),
    ], now=NOW)
    assert created == [True, False, False, True]
    assert store.count_subscribers() == 3
    assert store.count_subscribers("unsubscribed") == 1


def test_remove_deletes_the_subscriber_and_their_ledger_rows(store: Store) -> None:
    ann, bob = people(store, "ann@example.org", "bob@example.org")
    digest = store.create_digest("weekly", NOW, now=NOW, article_ids=["a"], subject="S")
    assert store.claim(digest.id, ann.id, now=NOW)
    assert store.claim(digest.id, bob.id, now=NOW)
    assert store.remove_subscriber("ANN@example.org", now=NOW)
    assert not store.remove_subscriber("ann@example.org", now=NOW)
    assert store.get_subscriber_by_id(ann.id) is None
    assert store.delivery(digest.id, ann.id) is None
    assert store.delivery_counts(digest.id)["pending"] == 1  # bob's


def test_a_removed_id_is_never_given_to_someone_else(store: Store) -> None:
    _, bob = people(store, "ann@example.org", "bob@example.org")
    store.remove_subscriber("bob@example.org", now=NOW)
    [cy] = people(store, "cy@example.org")
    assert cy.id > bob.id


def test_status_changes_are_kept(store: Store) -> None:
    [ann] = people(store, "ann@example.org")
    assert store.set_subscriber_status(ann.id, "unsubscribed", now=LATER, reason="web")
    assert status_of(store, ann.id) == "unsubscribed"
    assert not store.set_subscriber_status(ann.id + 1000, "active", now=LATER)
    with pytest.raises(ValueError, match="'gone' is not one of"):
        store.set_subscriber_status(ann.id, "gone", now=LATER)


def test_iterating_subscribers_fetches_one_page_at_a_time(store: Store) -> None:
    emails = [f"p{i}@example.org" for i in range(5)]
    people(store, *emails)
    with count_queries("FROM subscribers") as queries:
        pages = store.iter_subscribers(batch=2)
        first_two = [next(pages).email, next(pages).email]
        assert len(queries) == 1  # the second page is not asked for yet
        rest = [s.email for s in pages]
    assert first_two + rest == emails
    assert len(queries) == 3  # pages of 2, 2 and 1
    assert [s.email for s in store.iter_subscribers("active", batch=5)] == emails
    assert list(store.iter_subscribers("bounced")) == []


class count_queries:  # used like a function
    """Collect the SQL sent to any database that contains `fragment`."""

    def __init__(self, fragment: str) -> None:
        self.fragment = fragment
        self.seen: list[str] = []

    def _listen(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        if self.fragment in statement:
            self.seen.append(statement)

    def __enter__(self) -> list[str]:
        event.listen(Engine, "before_cursor_execute", self._listen)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._listen)


# -- digests ---------------------------------------------------------------------------


def test_a_digest_is_found_again_by_schedule_and_due_time(store: Store) -> None:
    due = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    digest = store.create_digest("weekly", due, now=NOW, article_ids=["b", "a"], subject="S")
    assert (digest.id, digest.schedule, digest.due_at, digest.created_at, digest.article_ids) == (
        "weekly-20261125-0700", "weekly", due, NOW, ("b", "a"))
    same = store.create_digest("weekly", due, now=LATER, article_ids=["c"], subject="T")
    assert same == digest
    assert store.find_digest("weekly", due) == digest
    assert store.get_digest(digest.id) == digest
    assert store.find_digest("daily", due) is None


def test_digest_times_come_back_in_utc(store: Store) -> None:
    lisbon_summer = timezone(timedelta(hours=1))
    due = datetime(2026, 7, 1, 8, 30, 15, tzinfo=lisbon_summer)
    digest = store.create_digest("Daily News!", due, now=NOW, article_ids=[], subject="S")
    assert digest.id == "daily-news-20260701-073015"
    found = store.find_digest("Daily News!", due)
    assert found is not None
    assert found.due_at == due
    assert found.due_at.tzinfo == UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        store.find_digest("daily", datetime(2026, 7, 1, 8, 30))  # noqa: DTZ001


def test_two_schedules_whose_ids_clash_get_different_ids(store: Store) -> None:
    one = store.create_digest("Weekly", NOW, now=NOW, article_ids=[], subject="S")
    two = store.create_digest("weekly!", NOW, now=NOW, article_ids=[], subject="S")
    assert (one.id, two.id) == ("weekly-20261125-1200", "weekly-20261125-1200-2")


def test_racing_processes_get_the_same_digest(store_url: str) -> None:
    stores = [Store.open(store_url), Store.open(store_url)]
    start = threading.Barrier(2)
    results: list[object] = [None, None]

    def create(index: int) -> None:
        start.wait()
        results[index] = stores[index].create_digest(
            "weekly", NOW, now=NOW, article_ids=[f"from-{index}"], subject=f"S{index}")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert results[0] == results[1]
        assert len(stores[0].list_digests()) == 1
    finally:
        for opened in stores:
            opened.close()


def test_a_second_store_finds_the_digest_the_first_one_made(store_url: str) -> None:
    with Store.open(store_url) as first, Store.open(store_url) as second:
        made = first.create_digest("weekly", NOW, now=NOW, article_ids=["a"], subject="S")
        again = second.create_digest("weekly", NOW, now=NOW, article_ids=["b"], subject="T")
    assert again == made


def test_open_digests_completion_and_what_a_schedule_already_sent(store: Store) -> None:
    first = store.create_digest("weekly", NOW, now=NOW, article_ids=["a", "b"], subject="One")
    second = store.create_digest("weekly", LATER, now=LATER, article_ids=["c"], subject="Two")
    store.create_digest("daily", LATER, now=LATER, article_ids=["z"], subject="Daily")
    assert store.latest_open_digest("weekly") == second
    store.mark_digest_complete(second.id, now=LATER)
    assert store.latest_open_digest("weekly") == first
    store.mark_digest_complete(first.id, now=LATER)
    assert store.latest_open_digest("weekly") is None
    assert store.last_digest("weekly") == second
    assert store.last_digest("monthly") is None
    assert store.article_ids_sent_by("weekly") == {"a", "b", "c"}
    records = store.list_digests("weekly")
    assert [(r.digest.id, r.subject, r.completed_at) for r in records] == [
        (second.id, "Two", LATER), (first.id, "One", LATER)]
    assert len(store.list_digests()) == 3


def test_a_digest_cannot_list_an_article_twice(store: Store) -> None:
    with pytest.raises(ValueError, match="twice"):
        store.create_digest("weekly", NOW, now=NOW, article_ids=["a", "a"], subject="S")


# -- the delivery ledger --------------------------------------------------------------


@pytest.fixture
def digest_id(store: Store) -> str:
    return store.create_digest("weekly", NOW, now=NOW, article_ids=["a"], subject="S").id


def owed(store: Store, digest_id: str, now: datetime = NOW) -> list[str]:
    return [s.email for s in store.recipients(digest_id, now=now)]


def test_a_message_moves_from_pending_to_sent_once(store: Store, digest_id: str) -> None:
    ann, _ = people(store, "ann@example.org", "bob@example.org")
    assert owed(store, digest_id) == ["ann@example.org", "bob@example.org"]
    assert store.claim(digest_id, ann.id, now=NOW)
    pending = row_of(store, digest_id, ann.id)
    assert (pending.status, pending.attempts) == ("pending", 0)
    assert store.mark_sent(digest_id, ann.id, "250 2.0.0 queued as 4XyZ", now=LATER)
    sent = row_of(store, digest_id, ann.id)
    assert (sent.status, sent.attempts, sent.reply, sent.updated_at) == (
        "sent", 1, "250 2.0.0 queued as 4XyZ", LATER)
    assert not store.claim(digest_id, ann.id, now=LATER)  # never sent twice
    assert owed(store, digest_id) == ["bob@example.org"]
    assert store.count_recipients(digest_id, now=NOW) == 1
    assert store.delivery_counts(digest_id) == {
        "queued": 0, "pending": 0, "sent": 1, "deferred": 0, "uncertain": 0, "gave_up": 0,
        "bounced": 0, "complained": 0, "skipped": 0}


def test_a_message_in_flight_at_a_crash_is_sent_again(store: Store, digest_id: str) -> None:
    [ann] = people(store, "ann@example.org")
    assert store.claim(digest_id, ann.id, now=NOW)  # then the process dies
    assert store.pending_deliveries(digest_id) == 1
    assert owed(store, digest_id) == []  # its lease has not run out: a pool waits
    with store.sending(digest_id, exclusive=True, lease=LEASE):  # a lone run: it is owed now
        assert owed(store, digest_id) == ["ann@example.org"]
        assert store.claim(digest_id, ann.id, now=NOW)  # the same row, claimed again
        assert store.delivery_counts(digest_id)["pending"] == 1
        assert store.mark_sent(digest_id, ann.id, "250 ok", now=NOW)
    assert store.pending_deliveries(digest_id) == 0


def test_a_claim_is_its_senders_until_the_lease_runs_out(store_url: str, store: Store,
                                                          digest_id: str) -> None:
    [ann] = people(store, "ann@example.org")
    with Store.open(store_url) as other, store.sending(digest_id, exclusive=False, lease=LEASE), \
            other.sending(digest_id, exclusive=False, lease=LEASE):
        assert store.claim(digest_id, ann.id, now=NOW)
        assert not other.claim(digest_id, ann.id, now=NOW + LEASE - timedelta(seconds=1))
        assert owed(other, digest_id, NOW + LEASE - timedelta(seconds=1)) == []
        assert owed(other, digest_id, NOW + LEASE) == ["ann@example.org"]
        assert other.claim(digest_id, ann.id, now=NOW + LEASE)  # the first sender is gone
        assert not store.mark_sent(digest_id, ann.id, "250 late", now=NOW + LEASE)
        assert other.mark_sent(digest_id, ann.id, "250 ok", now=NOW + LEASE)
        with Store.open(store_url) as third, pytest.raises(LockBusy), \
                third.sending(digest_id, exclusive=True, lease=LEASE):
            pass  # a lone sender cannot start beside a pool
    row = store.delivery(digest_id, ann.id)
    assert row is not None and (row.status, row.reply) == ("sent", "250 ok")


def test_claim_refuses_a_subscriber_who_left_mid_send(store: Store, digest_id: str) -> None:
    ann, bob = people(store, "ann@example.org", "bob@example.org")
    walk = store.recipients(digest_id, now=NOW)
    assert next(walk) == ann
    store.set_subscriber_status(bob.id, "unsubscribed", now=NOW)
    assert list(walk) == [bob]  # fetched in the same page, before the unsubscribe
    assert not store.claim(digest_id, bob.id, now=NOW)
    assert store.delivery(digest_id, bob.id) is None
    assert not store.mark_sent(digest_id, bob.id, "250 ok", now=NOW)  # nothing was claimed


def test_deferred_messages_wait_for_their_time(store: Store, digest_id: str) -> None:
    [ann] = people(store, "ann@example.org")
    retry = NOW + timedelta(minutes=5)
    assert store.claim(digest_id, ann.id, now=NOW)
    assert store.mark_deferred(digest_id, ann.id, "421 try later", retry, now=NOW) == 1
    assert owed(store, digest_id, NOW) == []
    assert not store.claim(digest_id, ann.id, now=NOW + timedelta(minutes=4))
    assert owed(store, digest_id, retry) == ["ann@example.org"]
    assert store.claim(digest_id, ann.id, now=retry)
    row = row_of(store, digest_id, ann.id)
    assert (row.status, row.next_attempt_at) == ("pending", retry)
    assert store.mark_deferred(digest_id, ann.id, "451 again", retry + timedelta(minutes=10),
                               now=retry) == 2
    assert store.mark_deferred(digest_id, ann.id + 99, "451", retry, now=retry) == 0


def test_a_hard_bounce_marks_the_row_and_suppresses_the_address(
        store: Store, digest_id: str) -> None:
    ann, _ = people(store, "ann@example.org", "bob@example.org")
    assert store.claim(digest_id, ann.id, now=NOW)
    assert store.mark_bounced(digest_id, ann.id, "550 5.1.1 no such user", now=NOW)
    assert not store.mark_bounced(digest_id, ann.id, "550 5.1.1 again", now=NOW)  # once
    row = row_of(store, digest_id, ann.id)
    assert (row.status, row.attempts, row.reply) == ("bounced", 1, "550 5.1.1 no such user")
    assert status_of(store, ann.id) == "bounced"
    assert not store.claim(digest_id, ann.id, now=LATER)
    later = store.create_digest("weekly", LATER, now=LATER, article_ids=["b"], subject="T")
    assert owed(store, later.id, LATER) == ["bob@example.org"]


def test_a_bounce_does_not_undo_an_unsubscribe(store: Store, digest_id: str) -> None:
    [ann] = people(store, "ann@example.org")
    assert store.claim(digest_id, ann.id, now=NOW)
    store.set_subscriber_status(ann.id, "unsubscribed", now=NOW)
    assert store.mark_bounced(digest_id, ann.id, "550 gone", now=NOW)
    assert status_of(store, ann.id) == "unsubscribed"


def test_gave_up_keeps_the_reader_and_uncertain_is_retried_once(
        store: Store, digest_id: str) -> None:
    ann, bob = people(store, "ann@example.org", "bob@example.org")
    assert store.claim(digest_id, ann.id, now=NOW)
    assert store.mark_gave_up(digest_id, ann.id, "gave up after 5 attempts", now=NOW)
    assert status_of(store, ann.id) == "active"
    assert not store.claim(digest_id, ann.id, now=LATER)  # finished for this digest
    assert store.claim(digest_id, bob.id, now=NOW)
    assert store.mark_uncertain(digest_id, bob.id, "no reply", LATER, now=NOW)
    assert owed(store, digest_id, NOW) == []
    assert store.next_attempt(digest_id) == LATER
    assert store.claim(digest_id, bob.id, now=LATER)
    assert store.mark_uncertain(digest_id, bob.id, "no reply again", None, now=LATER)
    row = row_of(store, digest_id, bob.id)
    assert (row.status, row.attempts, row.uncertain, row.next_attempt_at) == (
        "uncertain", 2, 2, None)
    assert owed(store, digest_id, LATER + timedelta(days=9)) == []  # never a third copy
    assert store.next_attempt(digest_id) is None


def test_a_released_row_is_due_at_once_with_its_attempt_not_counted(
        store: Store, digest_id: str) -> None:
    [ann] = people(store, "ann@example.org")
    assert store.claim(digest_id, ann.id, now=NOW)
    assert store.release(digest_id, ann.id, "550 5.7.1 relaying denied", now=NOW)
    row = row_of(store, digest_id, ann.id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("deferred", 0, None)
    assert owed(store, digest_id, NOW) == ["ann@example.org"]


def test_outcomes_change_only_a_claimed_row(store: Store, digest_id: str) -> None:
    [ann] = people(store, "ann@example.org")
    assert not store.mark_sent(digest_id, ann.id, "250 ok", now=NOW)
    assert store.claim(digest_id, ann.id, now=NOW)
    assert store.mark_sent(digest_id, ann.id, "250 ok", now=NOW)
    assert not store.mark_gave_up(digest_id, ann.id, "late", now=NOW)
    assert not store.mark_bounced(digest_id, ann.id, "late", now=NOW)
    assert row_of(store, digest_id, ann.id).status == "sent"


def test_one_ledger_row_per_digest_and_subscriber(store_url: str) -> None:
    with Store.open(store_url) as first, Store.open(store_url) as second:
        [ann] = people(first, "ann@example.org")
        digest = first.create_digest("weekly", NOW, now=NOW, article_ids=["a"], subject="S")
        assert first.claim(digest.id, ann.id, now=NOW)
        with second.sending(digest.id, exclusive=True, lease=LEASE):  # a rerun: `first` died
            assert second.claim(digest.id, ann.id, now=NOW)  # it takes over the pending row
            assert not first.mark_sent(digest.id, ann.id, "250 late", now=NOW)
            assert second.mark_sent(digest.id, ann.id, "250 ok", now=NOW)
        assert not second.claim(digest.id, ann.id, now=LATER)
        assert sum(second.delivery_counts(digest.id).values()) == 1


def test_recipients_come_in_pages_while_claims_are_written(store: Store, digest_id: str) -> None:
    everyone = people(store, *(f"p{i}@example.org" for i in range(7)))
    seen = []
    with count_queries("FROM subscribers") as queries:
        for subscriber in store.recipients(digest_id, now=NOW, batch=3):
            assert store.claim(digest_id, subscriber.id, now=NOW)
            assert store.mark_sent(digest_id, subscriber.id, "250 ok", now=NOW)
            seen.append(subscriber.id)
            pages_asked = len([q for q in queries if q.lstrip().startswith("SELECT")])
            assert pages_asked == (len(seen) + 2) // 3  # a page is fetched when it is reached
    assert seen == [s.id for s in everyone]
    selects = [q for q in queries if q.lstrip().startswith("SELECT")]
    assert len(selects) == 3  # 3 + 3 + 1
    assert all("LIMIT" in q for q in selects)
    assert owed(store, digest_id) == []


def test_a_digest_for_an_audience_reaches_only_its_tags(store: Store) -> None:
    store.add_subscriber("ann@example.org", tags=("FERRY", "news"), now=NOW)
    store.add_subscriber("bob@example.org", tags=("ferry_fans",), now=NOW)
    store.add_subscriber("cy@example.org", tags=("100%",), now=NOW)
    store.add_subscriber("di@example.org", now=NOW)
    ferry = store.create_digest("ferry", NOW, now=NOW, article_ids=[], subject="S",
                                audience=["Ferry"])
    assert owed(store, ferry.id) == ["ann@example.org", "di@example.org"]  # di chose no topic
    odd = store.create_digest("odd", NOW, now=NOW, article_ids=[], subject="S",
                              audience=["100%", "news"])
    assert owed(store, odd.id) == ["ann@example.org", "cy@example.org", "di@example.org"]
    assert store.list_digests("odd")[0].audience == ("100", "news")  # stored as slugs


def test_recipients_of_an_unknown_digest_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="there is no digest 'nope'"):
        list(store.recipients("nope", now=NOW))


# -- schedule state -------------------------------------------------------------------


def test_schedule_runs_are_remembered(store: Store) -> None:
    assert store.get_schedule_state("weekly") is None
    store.record_schedule_run("weekly", NOW, "sent", "12 sent", now=NOW)
    store.record_schedule_run("weekly", LATER, "skipped", "nothing new", now=LATER)
    state = store.get_schedule_state("weekly")
    assert state is not None
    assert (state.last_due_at, state.outcome, state.message, state.ran_at) == (
        LATER, "skipped", "nothing new", LATER)


# -- opening ----------------------------------------------------------------------------


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with Store.open(url) as store:
        people(store, "ann@example.org")
    with Store.open(url) as store:
        assert store.count_subscribers() == 1
    journal = sqlite3.connect(tmp_path / "p.db")
    try:
        assert journal.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        journal.close()


def store_error(url: str) -> str:
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    return str(caught.value)


def test_opening_errors_say_what_is_wrong(tmp_path: Path) -> None:
    assert store_error("not a url") == (
        "the database URL is not a URL\n"
        "  hint: set [store] url in publisher.toml to e.g. sqlite:///publisher.db or "
        "postgresql+psycopg://user@host/dbname")
    assert store_error("mysql://u:secret@db/x").startswith(
        "the database URL mysql://u:***@db/x names 'mysql', which the store does not "
        "support (only SQLite and PostgreSQL)")
    missing = tmp_path / "nowhere" / "p.db"
    assert store_error(f"sqlite:///{missing}") == (
        f"cannot open the database {missing}: unable to open database file\n"
        "  hint: check that the folder exists and that you may write in it")
    junk = tmp_path / "notes.db"
    junk.write_text("these are my notes, not a database\n" * 200)
    assert store_error(f"sqlite:///{junk}") == (
        f"cannot open the database {junk}: file is not a database\n"
        "  hint: the file exists but is not an SQLite database; point [store] url in "
        "publisher.toml at another file")


def test_a_database_of_another_program_or_version_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE subscribers (who TEXT)")
    conn.close()
    assert store_error(f"sqlite:///{other}") == (
        f"the database {other} cannot be used: it holds tables of another program, not a "
        "publisher store\n  hint: point [store] url in publisher.toml at a publisher "
        "database, or at a new one")
    future = tmp_path / "future.db"
    Store.open(f"sqlite:///{future}").close()
    with sqlite3.connect(future) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    conn.close()
    assert store_error(f"sqlite:///{future}").startswith(
        f"the database {future} cannot be used: it has schema revision 0099, newer than this "
        f"publisher knows (up to {REVISION})\n")


def test_a_hint_names_the_variable_when_the_url_came_from_it() -> None:
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql+psycopg://postgres:pw@127.0.0.1:1/test",
                   "the environment variable PUBLISHER_STORE_URL")
    assert caught.value.problem.hint == (
        "check the environment variable PUBLISHER_STORE_URL, that the server is running and "
        "that it accepts this user")
    with pytest.raises(StoreError) as caught:
        Store.open("garbage://", "the environment variable PUBLISHER_STORE_URL")
    assert caught.value.problem.hint == (
        "set the environment variable PUBLISHER_STORE_URL to e.g. sqlite:///publisher.db or "
        "postgresql+psycopg://user@host/dbname")


def test_an_unreachable_server_is_an_error_not_a_traceback() -> None:
    message = store_error("postgresql+psycopg://postgres:pw@127.0.0.1:1/test")
    assert message.startswith(
        "cannot open the database postgresql+psycopg://postgres:***@127.0.0.1:1/test: "
        "connection failed:")
    assert message.endswith(
        "\n  hint: check [store] url in publisher.toml, that the server is running and "
        "that it accepts this user")


def test_a_batch_commits_once_and_rolls_back_whole(store: Store) -> None:
    with store.batch():
        store.add_subscriber("kept@example.org", "", (), now=NOW)
        store.add_subscriber("also@example.org", "", (), now=NOW)
    assert {s.email for s in store.iter_subscribers()} == {"kept@example.org",
                                                          "also@example.org"}
    seen_inside: list[bool] = []

    def stop_half_way() -> None:
        with store.batch():
            store.add_subscriber("lost@example.org", "", (), now=NOW)
            seen_inside.append(store.get_subscriber("lost@example.org") is not None)
            raise RuntimeError("stopped half-way")

    with pytest.raises(RuntimeError):
        stop_half_way()
    assert seen_inside == [True]
    assert store.get_subscriber("lost@example.org") is None
    store.add_subscriber("after@example.org", "", (), now=NOW)  # the store goes on
    assert store.get_subscriber("after@example.org") is not None
