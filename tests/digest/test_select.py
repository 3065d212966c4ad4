"""Choosing a digest's articles: new ones only, once each, newest first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from publisher import publish
from publisher.digest.select import choose_articles
from publisher.models import Article
from tests.conftest import NOW, SiteFactory, article, settings_of

ARTICLES = {
    "content/ferry.md": article("Ferry fares rise", "2026-11-02 09:00", id="ferry",
                                tags="[Transport, Harbour]"),
    "content/bridge.md": article("Bridge closes", "2026-11-20 18:30", id="bridge",
                                 tags="[Transport]"),
    "content/budget.md": article("Budget explained", "2026-11-24 08:00", id="budget",
                                 tags="[Council]"),
    "content/archive.md": article("An old story", "2025-01-10 10:00", id="archive"),
    "content/draft.md": article("Not ready", "2026-11-23 10:00", id="draft", draft="true"),
    "content/later.md": article("Tomorrow's news", "2026-11-26 10:00", id="later"),
}


@pytest.fixture
def published(make_site: SiteFactory) -> tuple[Article, ...]:
    settings = settings_of(make_site(ARTICLES))
    return publish.load(settings).published(NOW)


def ids(articles: list[Article]) -> list[str]:
    return [a.id for a in articles]


def test_every_published_article_not_yet_sent_newest_first(published) -> None:
    chosen = choose_articles(published, set(), since=None, max_items=30)
    assert ids(chosen) == ["budget", "bridge", "ferry", "archive"]


def test_articles_already_in_a_digest_of_the_schedule_are_left_out(published) -> None:
    chosen = choose_articles(published, {"bridge", "archive"}, since=None, max_items=30)
    assert ids(chosen) == ["budget", "ferry"]


def test_nothing_new_gives_an_empty_list(published) -> None:
    sent = {a.id for a in published}
    assert choose_articles(published, sent, since=None, max_items=30) == []


def test_the_first_digest_covers_only_the_schedules_period(published) -> None:
    due_at = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    since = due_at - timedelta(days=7)
    chosen = choose_articles(published, set(), since=since, max_items=30)
    assert ids(chosen) == ["budget", "bridge"]


def test_an_article_published_exactly_at_the_start_of_the_period_is_included(published
                                                                             ) -> None:
    bridge = next(a for a in published if a.id == "bridge")
    chosen = choose_articles(published, set(), since=bridge.date, max_items=30)
    assert ids(chosen) == ["budget", "bridge"]
    later = choose_articles(published, set(), since=bridge.date + timedelta(seconds=1),
                            max_items=30)
    assert ids(later) == ["budget"]


def test_tags_keep_articles_with_any_of_them(published) -> None:
    chosen = choose_articles(published, set(), since=None, tags=["harbour", "council"],
                             max_items=30)
    assert ids(chosen) == ["budget", "ferry"]


def test_tags_may_be_written_as_names(published) -> None:
    chosen = choose_articles(published, set(), since=None, tags=["Transport"], max_items=30)
    assert ids(chosen) == ["bridge", "ferry"]


def test_at_most_max_items_and_the_newest_are_kept(published) -> None:
    chosen = choose_articles(published, set(), since=None, max_items=2)
    assert ids(chosen) == ["budget", "bridge"]


def test_articles_published_at_the_same_moment_have_a_stable_order(published) -> None:
    ferry = next(a for a in published if a.id == "ferry")
    twins = [replace(ferry, id=name) for name in ("b", "c", "a")]
    chosen = choose_articles(twins, set(), since=None, max_items=30)
    assert ids(chosen) == ["c", "b", "a"]
    assert ids(choose_articles(list(reversed(twins)), set(), since=None, max_items=30)) == [
        "c", "b", "a"]
