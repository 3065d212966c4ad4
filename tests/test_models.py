"""The digest-id rule (what the store makes, the archive, the web copies and Message-IDs
accept), and articles kept in the cache."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from publisher.models import Article, Author, Tag, is_digest_id, make_digest_id

SCHEDULE_NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", fullmatch=True)
MOMENTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1),  # noqa: DTZ001
                       timezones=st.just(UTC))


@given(SCHEDULE_NAMES, MOMENTS, st.integers(min_value=1, max_value=9))
def test_every_id_the_store_makes_is_a_digest_id(name: str, due: datetime, attempt: int) -> None:
    made = make_digest_id(name, due, attempt)
    assert is_digest_id(made)
    assert len(made) <= 80  # the store's column


def test_ids_name_the_schedule_and_the_due_time_in_utc() -> None:
    due = datetime(2026, 11, 25, 7, 0, tzinfo=timezone(timedelta(hours=-6)))
    assert make_digest_id("Weekly Digest", due) == "weekly-digest-20261125-1300"
    assert make_digest_id("weekly", due.replace(second=30), 2) == "weekly-20261125-130030-2"
    assert make_digest_id("___", due) == "digest-20261125-1300"


def test_what_cannot_name_a_file_or_a_message_id_is_not_a_digest_id() -> None:
    for text in ("", "-x", "a/b", "a.b", "../x", "a b", "x" * 81, "é"):
        assert not is_digest_id(text), text


TEXT = st.text(max_size=20)
AUTHORS = st.builds(Author, TEXT, st.none() | TEXT, st.none() | TEXT)


@given(st.builds(Article, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, MOMENTS, MOMENTS, TEXT, TEXT,
                 TEXT, st.lists(st.builds(Tag, TEXT, TEXT), max_size=3).map(tuple),
                 st.none() | AUTHORS, st.none() | TEXT, st.booleans(), TEXT, st.booleans()))
def test_an_article_comes_back_from_the_cache_as_it_went_in(article: Article) -> None:
    again = pickle.loads(pickle.dumps(article, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
    assert again == article
    assert [type(t) for t in again.tags] == [Tag] * len(article.tags)
    assert again.author is None or type(again.author) is Author
