"""An article's fingerprint moves with everything a renderer shows of it, and nothing else."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from publisher.content.load import rendered_fingerprint
from publisher.models import Article, Author, Tag

BASE = Article(
    source="content/ferry.md", id="urn:uuid:1", title="Ferry fares", slug="ferry-fares",
    path="2026/11/ferry-fares/", url="https://example.com/2026/11/ferry-fares/",
    date=datetime(2026, 11, 2, 9, tzinfo=UTC), updated=datetime(2026, 11, 2, 9, tzinfo=UTC),
    summary_html="<p>Up.</p>", summary_text="Up.", content_html="<p>Up by a tenth.</p>",
    tags=(Tag("Transit", "transit"),), author=Author("Ana Lima"), image=None,
)
OTHER = {
    "id": "urn:uuid:2", "title": "Ferry fares!", "slug": "ferry", "path": "2026/11/ferry/",
    "url": "https://example.com/2026/11/ferry/", "date": datetime(2026, 11, 3, tzinfo=UTC),
    "updated": datetime(2026, 11, 4, tzinfo=UTC), "summary_html": "<p>Down.</p>",
    "summary_text": "Down.", "content_html": "<p>Up by a fifth.</p>",
    "tags": (Tag("Transit", "transit"), Tag("Harbour", "harbour")),
    "author": Author("Ana Lima", "https://ana.example/"), "image": "https://x.example/a.png",
    "draft": True,
}
NOT_SHOWN = {"source": "content/elsewhere.md", "fingerprint": "abc", "id_pending": True}


def test_every_field_a_renderer_shows_moves_it_and_no_other() -> None:
    assert set(OTHER) | set(NOT_SHOWN) == {f.name for f in fields(Article)}
    before = rendered_fingerprint(BASE)
    for name, value in OTHER.items():
        assert rendered_fingerprint(replace(BASE, **{name: value})) != before, name
    for name, value in NOT_SHOWN.items():
        assert rendered_fingerprint(replace(BASE, **{name: value})) == before, name


def test_a_lone_surrogate_in_a_field_is_hashed_too() -> None:
    """YAML's "\\ud800" escape reads as a lone surrogate, which UTF-8 cannot hold."""
    assert rendered_fingerprint(replace(BASE, title="Ferry \ud800")) \
        != rendered_fingerprint(replace(BASE, title="Ferry \udc80"))


@given(first=st.text(st.characters(categories=["L", "N", "P", "Cs"])),
       second=st.text(st.characters(categories=["L", "N", "P", "Cs"])))
def test_text_moved_from_one_field_to_the_next_moves_it(first: str, second: str) -> None:
    """Each field is hashed behind its length: "ab" + "c" is not "a" + "bc"."""
    joined = first + second
    one = replace(BASE, summary_text=first, content_html=second)
    other = replace(BASE, summary_text=joined, content_html="")
    if second:
        assert rendered_fingerprint(one) != rendered_fingerprint(other)
