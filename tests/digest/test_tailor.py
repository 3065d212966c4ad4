"""Each reader's own articles: chosen from what they received, rendered once per distinct set.

A real site's articles and a real SQLite store; the ledger rows are written by
the store's own claim and outcomes, as the dispatcher writes them.
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher import publish
from publisher.digest.message import MessageTemplate
from publisher.digest.tailor import Tailor, Tailoring, owed_articles
from publisher.models import Article, Subscriber, Tag
from publisher.send import envelope, render_options
from publisher.store.database import NewSubscriber, Store
from publisher.store.readersets import ReaderHistory, ReaderState
from tests.conftest import MAIL_CONFIG, NOW, SiteFactory, article, settings_of

DUE = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
FILES: dict[str, str | bytes] = {
    "content/a.md": article("Alpha", "2026-11-24 09:00", id="a", tags="[Harbour]"),
    "content/b.md": article("Beta", "2026-11-23 09:00", id="b", tags="[Town]"),
    "content/c.md": article("Gamma", "2026-11-15 09:00", id="c", tags="[Town]"),
}


@pytest.fixture
def tailored(make_site: SiteFactory, tmp_path: Path) -> tuple[Tailor, Store]:
    settings = settings_of(make_site(FILES, config=MAIL_CONFIG))
    content = publish.read_source(settings).content
    store = Store.open(settings.store_url)
    store.add_subscribers([NewSubscriber(f"r{n}@example.org", "", ("harbour",) if n % 2 else ())
                           for n in range(40)], now=NOW)
    digest = store.create_digest("daily", DUE, now=DUE, article_ids=("a", "b"), subject="s",
                                 cadence="daily", cadences=("daily", "weekly"),
                                 pool=("a", "b", "c"))
    pool = tuple(a for a in content.published(NOW) if a.id in ("a", "b", "c"))
    tailor = Tailor(store, Tailoring(
        digest, pool, DUE - timedelta(days=7), 30, DUE - timedelta(days=7),
        render_options(settings), envelope(settings), lambda s: (f"{s.id}.u", f"{s.id}.p")))
    return tailor, store


def test_readers_who_share_articles_share_one_rendering(tailored: tuple[Tailor, Store]
                                                        ) -> None:
    tailor, store = tailored
    readers = list(store.iter_subscribers())
    messages = [tailor(reader) for reader in readers]
    assert tailor.renderings == 2  # harbour readers, and readers of every topic
    assert len({m.article_set for m in messages}) == 2
    for reader, message in zip(readers, messages, strict=True):
        assert message.data is not None
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        body = parsed.get_body(("plain",))
        assert body is not None
        text = str(body.get_content())
        assert f"preferences?token={reader.id}.p" in text
        assert f"unsubscribe?token={reader.id}.u" in text
        assert ("Alpha" in text, "Beta" in text) == (True, not reader.tags)
    store.close()


def test_a_retry_sends_the_articles_of_the_first_attempt(tailored: tuple[Tailor, Store]
                                                         ) -> None:
    tailor, store = tailored
    reader = next(store.iter_subscribers())
    first = tailor(reader)
    assert store.claim("daily-20261125-0700", reader.id, now=DUE, article_set=first.article_set)
    store.mark_deferred("daily-20261125-0700", reader.id, "451 later", DUE, now=DUE)
    store.set_preferences(reader.id, tags=("harbour",), cadence=None, timezone=None, hour=None)
    again = tailor(Subscriber(reader.id, reader.email, tags=("harbour",)))
    assert (again.article_set, again.data) == (first.article_set, first.data)
    store.close()


def _article(ident: str, day: int, tag: str) -> Article:
    date = datetime(2026, 11, day, 9, 0, tzinfo=UTC)
    return Article(f"content/{ident}.md", ident, ident, ident, f"{ident}/",
                   f"https://news.example.org/{ident}/", date, date, "", "", "",
                   (Tag(tag.title(), tag),))


def test_what_a_reader_is_owed() -> None:
    pool = [_article("c", 15, "town"), _article("a", 24, "harbour"), _article("b", 23, "town")]
    first = ReaderHistory(frozenset(), None)
    assert [a.id for a in owed_articles(pool, (), first, since=DUE - timedelta(days=7))] == [
        "a", "b"]  # newest first; c is older than a first message reaches
    after = ReaderHistory(frozenset({"b"}), frozenset({"b", "c"}))
    assert [a.id for a in owed_articles(pool, (), after, since=DUE)] == ["a"]
    assert owed_articles(pool, ("town",), after, since=DUE) == []


WEEK = timedelta(days=7)


@given(st.lists(st.lists(st.integers(0, 23), max_size=2), min_size=21, max_size=21),
       st.lists(st.sampled_from(["daily", "weekly", None]), min_size=20, max_size=20))
def test_any_cadence_switches_skip_and_repeat_nothing(hours: list[list[int]],
                                                      cadences: list[str | None]) -> None:
    """A reader's messages over three weeks of daily (07:00) and weekly (Saturday 09:00)
    digests, changing cadence before any morning: every article since their first message
    comes exactly once, by the last daily on the last day."""
    start = datetime(2026, 11, 1, tzinfo=UTC)  # a Sunday
    articles = [_article(f"d{day}h{hour}x{n}", 1, "town") for day, day_hours in
                enumerate(hours) for n, hour in enumerate(day_hours)]
    articles = [replace(a, date=start + timedelta(days=int(a.id[1:].split("h")[0]),
                                                  hours=int(a.id.split("h")[1].split("x")[0])))
                for a in articles]
    digests = sorted([(start + timedelta(days=d, hours=7), "daily", timedelta(days=1))
                      for d in range(21)] +
                     [(start + timedelta(days=d, hours=9), "weekly", WEEK)
                      for d in range(21) if d % 7 == 6])
    received: list[str] = []
    last_pool: frozenset[str] | None = None
    first_since: datetime | None = None
    end = start
    for due, schedule, period in digests:
        day = (due - start).days
        cadence = cadences[day] if day < 20 else "daily"
        if cadence not in (None, schedule):
            continue
        end = due
        pool = [a for a in articles if due - WEEK <= a.date <= due]
        history = ReaderHistory(frozenset(received), last_pool)
        owed = owed_articles(pool, (), history, since=due - period)
        if owed:
            first_since = first_since or due - period
            received += [a.id for a in owed]
            last_pool = frozenset(a.id for a in pool)
    assert len(received) == len(set(received))  # nothing twice
    expected = {a.id for a in articles if first_since is not None and first_since <= a.date
                <= end}
    assert set(received) == expected  # nothing skipped


def test_a_prepared_page_is_read_at_once_and_each_answer_used_once(
        tailored: tuple[Tailor, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    tailor, store = tailored
    readers = list(store.iter_subscribers())
    asked: list[int] = []
    page_of = store.readers_page

    def counted(digest_id: str, ids: Sequence[int], *,
                since: datetime | None = None) -> dict[int, ReaderState]:
        asked.append(len(ids))
        return page_of(digest_id, ids, since=since)

    monkeypatch.setattr(store, "readers_page", counted)
    tailor.prepare(readers)
    messages = [tailor(reader) for reader in readers]
    assert asked == [40]
    first = readers[0]  # its retry is looked up afresh, and finds its row's set
    assert store.claim("daily-20261125-0700", first.id, now=DUE,
                       article_set=messages[0].article_set)
    store.mark_deferred("daily-20261125-0700", first.id, "451 later", DUE, now=DUE)
    again = tailor(first)
    assert asked == [40, 1]
    assert (again.article_set, again.data) == (messages[0].article_set, messages[0].data)
    store.close()


def test_a_page_of_readers_says_what_each_received(tailored: tuple[Tailor, Store]) -> None:
    _, store = tailored
    r = [s.id for s in store.iter_subscribers()][:6]
    old = store.create_digest("weekly", DUE - timedelta(days=30), now=DUE - timedelta(days=30),
                              article_ids=("z",), subject="s", cadence="weekly",
                              cadences=("daily", "weekly"), pool=("z", "y"))
    week = store.create_digest("weekly", DUE - timedelta(days=4), now=DUE - timedelta(days=4),
                               article_ids=("b", "c"), subject="s", cadence="weekly",
                               cadences=("daily", "weekly"), pool=("b", "c"))
    both = store.article_set_for(week.id, ("b", "c"), 2)
    only_c = store.article_set_for(week.id, ("c",), 1)
    z = store.article_set_for(old.id, ("z",), 1)
    at = DUE - timedelta(days=4)
    for reader, digest, chosen, outcome in ((r[0], week, both, "sent"),
                                            (r[1], week, only_c, "deferred"),
                                            (r[2], week, both, "gave_up"),
                                            (r[3], old, z, "sent")):
        assert store.claim(digest.id, reader, now=at, article_set=chosen)
        if outcome == "sent":
            store.mark_sent(digest.id, reader, "250 ok", now=at)
        elif outcome == "deferred":
            store.mark_deferred(digest.id, reader, "451 later", at, now=at)
        else:
            store.mark_gave_up(digest.id, reader, "451 later", now=at)
    assert store.claim("daily-20261125-0700", r[4], now=DUE, article_set=only_c)
    page = store.readers_page("daily-20261125-0700", r, since=DUE - timedelta(days=7))
    assert page[r[0]] == ReaderState(None, ReaderHistory(
        frozenset({"b", "c"}), frozenset({"b", "c"}), week.due_at))
    assert page[r[1]].history.received == {"c"}  # a deferred message may still arrive
    assert page[r[2]].history == ReaderHistory(frozenset(), None)  # it gave up: owed again
    # an old digest's articles cannot be in this pool, but its pool is still the last one
    assert page[r[3]].history == ReaderHistory(frozenset(), frozenset({"z", "y"}), old.due_at)
    assert page[r[4]] == ReaderState(only_c, ReaderHistory(frozenset(), None))
    assert page[r[5]] == ReaderState(None, ReaderHistory(frozenset(), None))
    assert store.reader_history(r[0], "daily-20261125-0700") == page[r[0]].history
    store.close()


def test_the_sets_of_a_digest_share_one_template_environment(
        tailored: tuple[Tailor, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    import publisher.digest.render as render

    tailor, store = tailored
    made: list[object] = []
    monkeypatch.setattr(render, "email_environment",
                        lambda *args: made.append(args) or pytest.fail("a new environment"))
    messages = [tailor(reader) for reader in store.iter_subscribers()]
    assert tailor.renderings == 2 and len({m.article_set for m in messages}) == 2
    assert made == []
    store.close()


def test_a_rendering_blocks_only_the_readers_of_its_own_set(
        tailored: tuple[Tailor, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    import publisher.digest.tailor as tailor_module

    tailor, store = tailored
    ready = tailor.template(("a", "b"), 2)  # rendered before
    started, other_served = threading.Event(), threading.Event()
    render = tailor_module.render_digest

    def slow(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert other_served.wait(5)  # the rendered set is served meanwhile
        return render(*args, **kwargs)

    monkeypatch.setattr(tailor_module, "render_digest", slow)
    got: list[MessageTemplate] = []
    first = threading.Thread(target=lambda: got.append(tailor.template(("a",), 1)))
    second = threading.Thread(target=lambda: got.append(tailor.template(("a",), 1)))
    first.start()
    assert started.wait(5)
    second.start()  # waits for the one rendering of its set
    assert tailor.template(("a", "b"), 2) is ready
    other_served.set()
    first.join(5)
    second.join(5)
    assert len(got) == 2 and got[0] is got[1]
    assert tailor.renderings == 2
    store.close()
