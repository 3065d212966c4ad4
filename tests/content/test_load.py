"""Every bad article gets a message naming file, line and fix; all of them in one run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher import publish
from publisher.content.fields import parse_date
from publisher.errors import ContentError
from publisher.text import slugify
from tests.conftest import SiteFactory, article, settings_of, snapshot

BAD_FILES: dict[str, str | bytes] = {
    "content/no-title.md": "---\ndate: 2026-11-01\n---\nx\n",
    "content/empty-title.md": '---\ntitle: "  "\ndate: 2026-11-01\n---\nx\n',
    "content/no-date.md": "---\ntitle: A\n---\nx\n",
    "content/bad-date.md": "---\ntitle: B\ndate: next tuesday\n---\nx\n",
    "content/list.md": "---\n- a\n- b\n---\nx\n",
    "content/broken.md": "---\ntitle: C\ndate: 2026-11-01\ntags: [a, b\n---\nx\n",
    "content/latin1.md": b"---\ntitle: Caf\xe9\ndate: 2026-11-01\n---\nx\n",
    "content/dup1.md": "---\ntitle: Same\ndate: 2026-11-01\nid: x1\n---\nx\n",
    "content/dup2.md": "---\ntitle: Same\ndate: 2026-11-02\nid: x1\n---\nx\n",
    "content/empty.md": "",
    "content/nofm.md": "Just text\n",
    "content/unclosed.md": "---\ntitle: D\ndate: 2026-11-01\n",
}
DATE_HINT = "  hint: write a date as 2026-11-03, 2026-11-03 09:30 or 2026-11-03T09:30:00+01:00"
EXPECTED = [
    "content/bad-date.md:3: date: cannot read date 'next tuesday'\n" + DATE_HINT,
    "content/broken.md:4: broken YAML in the front matter: did not find expected ',' or ']' "
    "(while parsing a flow sequence)\n  hint: quote values that contain ':' or start with a "
    "special character, and close every bracket and quote",
    "content/empty-title.md:2: title: missing or empty title\n"
    "  hint: add a line 'title: ...' to the front matter",
    "content/empty.md: the file is empty\n"
    "  hint: add front matter (title, date) and the article text, or delete it",
    "content/latin1.md:2: not valid UTF-8: byte 0xe9 at column 11 (offset 14)\n"
    "  hint: save the file with UTF-8 encoding; a file saved as Windows-1252 or Latin-1 can be "
    "converted with `iconv -f windows-1252 -t utf-8`",
    "content/list.md:2: the front matter must be a mapping of keys to values, not a list\n"
    "  hint: write one 'key: value' per line, e.g. 'title: Ferry fares rise'",
    "content/no-date.md:1: date: missing date\n" + DATE_HINT,
    "content/no-title.md:1: title: missing or empty title\n"
    "  hint: add a line 'title: ...' to the front matter",
    "content/nofm.md:1: no front matter: the file must start with a line '---'\n"
    "  hint: begin with '---', then 'title: ...' and 'date: ...' lines, then '---'",
    "content/unclosed.md:1: the front matter is not closed\n"
    "  hint: end the front matter with a line '---'",
    "content/dup2.md: duplicate id 'x1': content/dup1.md has the same one\n"
    "  hint: a copied article keeps the id of its original: delete the `id:` line in the copy "
    "and the next build assigns a new one",
    "content/dup2.md: duplicate slug 'same': content/dup1.md has the same one\n"
    "  hint: give one of the two articles another title or a `slug:` of its own",
]


def test_every_bad_file_is_reported_in_one_run_and_nothing_is_written(
    make_site: SiteFactory, clock
) -> None:
    root = make_site({**BAD_FILES, "content/good.md": article("Good", "2026-11-01")})
    with pytest.raises(ContentError) as error:
        publish.build(settings_of(root), clock)
    assert [str(p) for p in error.value.problems] == EXPECTED
    assert error.value.summary == "12 problems in 11 files; nothing was written"
    assert not (root / "public").exists()
    assert "id:" not in (root / "content/good.md").read_text()


def test_an_unknown_key_is_a_warning_and_strict_makes_it_fatal(make_site: SiteFactory, clock
                                                                ) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01", authr="me")})
    with pytest.raises(ContentError) as error:
        publish.build(settings_of(root), clock, strict=True)
    assert [str(p) for p in error.value.problems] == [
        "content/a.md:4: authr: unknown front-matter key (ignored)\n"
        "  hint: did you mean 'author'?"
    ]
    assert not (root / "public").exists()
    report = publish.build(settings_of(root), clock)
    assert [str(w) for w in report.warnings] == [str(p) for p in error.value.problems]
    again = publish.build(settings_of(root), clock)  # from the cache: the warning is kept
    assert [str(w) for w in again.warnings] == [str(p) for p in error.value.problems]


def test_a_duplicate_url_from_the_permalink_pattern_names_both_files(make_site: SiteFactory,
                                                                      clock) -> None:
    from tests.conftest import BASE_CONFIG

    config = 'permalink = "news/{slug}/"\n' + BASE_CONFIG
    root = make_site({
        "content/a.md": article("A", "2026-11-01", slug="same-place"),
        "content/b/a.md": article("B", "2026-11-02", slug="same-place"),
    }, config=config)
    with pytest.raises(ContentError) as error:
        publish.build(settings_of(root), clock)
    assert [str(p).splitlines()[0] for p in error.value.problems] == [
        "content/b/a.md: duplicate slug 'same-place': content/a.md has the same one",
    ]


def test_front_matter_fields_reach_the_article(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article(
        '"Tram: the “new” line"', "2026-03-29 02:30", updated="2026-04-01T10:00:00+01:00",
        tags="Transport, transport, Council", author="{name: Ana, email: ana@example.org}",
        image="/img/tram.png", summary="The *short* version.",
    )})
    loaded = publish.load(settings_of(root))
    [a] = loaded.articles
    assert a.title == "Tram: the “new” line"
    assert a.slug == "tram-the-new-line"
    assert a.date == datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Lisbon"))
    assert a.updated == datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    assert [t.name for t in a.tags] == ["Transport", "Council"]
    assert (a.author.name, a.author.email) == ("Ana", "ana@example.org")
    assert a.image == "https://news.example.org/img/tram.png"
    assert a.summary_html == "The <em>short</em> version."
    assert a.summary_text == "The short version."
    assert a.content_html.startswith("<p>The council voted on Tuesday.</p>")


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-03", datetime(2026, 11, 3, tzinfo=ZoneInfo("Europe/Lisbon"))),
    ("2026-11-03 09:30", datetime(2026, 11, 3, 9, 30, tzinfo=ZoneInfo("Europe/Lisbon"))),
    ("2026-11-03T09:30:00Z", datetime(2026, 11, 3, 9, 30, tzinfo=UTC)),
    ("2026-11-03T09:30:00-05:00", datetime(2026, 11, 3, 14, 30, tzinfo=UTC)),
    ("Tue, 03 Nov 2026 09:30:00 +0100", datetime(2026, 11, 3, 8, 30, tzinfo=UTC)),
])
def test_dates_in_every_common_form(value: str, expected: datetime) -> None:
    parsed = parse_date(value, ZoneInfo("Europe/Lisbon"))
    assert parsed == expected
    assert parsed.utcoffset() is not None


def test_a_yaml_datetime_with_an_offset_keeps_it() -> None:
    moment = datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=2)))
    assert parse_date(moment, ZoneInfo("UTC")) == moment


@pytest.mark.parametrize(("title", "slug"), [
    ("Ferry fares rise", "ferry-fares-rise"),
    ("Café “open” — again!", "cafe-open-again"),
    ("Ελληνικά νέα", "ελληνικα-νεα"),
    ("What's next? Larkhaven’s plan", "whats-next-larkhavens-plan"),
])
def test_slugs(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_check_writes_nothing(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01")})
    before = snapshot(root)
    loaded, warnings = publish.check(settings_of(root), clock)
    assert len(loaded.articles) == 1 and warnings == []
    assert len(loaded.pending_ids) == 1
    assert snapshot(root) == before
    assert not (root / ".publisher").exists()


def test_hidden_and_underscored_files_are_not_articles(make_site: SiteFactory, clock) -> None:
    root = make_site({
        "content/a.md": article("A", "2026-11-01"),
        "content/.#a.md": "editor lock",
        "content/_notes/todo.md": "not an article",
        "content/readme.txt": "not markdown",
    })
    assert [a.source for a in publish.load(settings_of(root)).articles] == ["content/a.md"]


def test_many_articles_are_parsed_in_parallel_with_the_same_result(make_site: SiteFactory,
                                                                    tmp_path: Path) -> None:
    files = {f"content/a{n:03}.md": article(f"Story {n}", f"2026-01-01 {n % 24:02}:00")
             for n in range(250)}
    root = make_site(files)
    loaded = publish.load(settings_of(root))  # above the threshold: worker processes
    from publisher.content.load import _parse_one, load_content  # noqa: F401

    assert len(loaded.articles) == 250
    single = publish.load(settings_of(make_site(files, name="other")))
    assert [(a.id.split(":")[0], a.title, a.content_html) for a in loaded.articles] == [
        (a.id.split(":")[0], a.title, a.content_html) for a in single.articles
    ]
