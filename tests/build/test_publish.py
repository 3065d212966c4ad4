"""The build as a whole: stable ids, byte-identical rebuilds, atomic and incremental output."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher import publish
from publisher.clock import fixed_clock
from publisher.errors import ContentError, OutputError
from tests.conftest import BASE_CONFIG, SiteFactory, article, settings_of, snapshot


def feed_items(root: Path) -> list[dict]:
    return json.loads((root / "public/feed.json").read_text("utf-8"))["items"]


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def test_an_id_survives_edits_of_title_date_slug_and_base_url(make_site: SiteFactory, clock
                                                               ) -> None:
    root = make_site({"content/ferry.md": article("Ferry fares rise", "2026-11-02 09:00")})
    publish.build(settings_of(root), clock)
    [first] = feed_items(root)
    source = root / "content/ferry.md"
    rewrite(source, "title: Ferry fares rise", "title: Night ferry fares rise in January")
    rewrite(source, "date: 2026-11-02 09:00", "date: 2026-11-03 10:00\nslug: night-fares")
    rewrite(source.parent.parent / "publisher.toml", "https://news.example.org/",
            "https://www.example.net/news/")
    source.rename(root / "content/renamed.md")
    publish.build(settings_of(root), clock)
    [second] = feed_items(root)
    assert second["title"] == "Night ferry fares rise in January"
    assert second["url"] == "https://www.example.net/news/2026/11/night-fares/"
    assert second["id"] == first["id"]


def test_the_derived_id_is_written_once_and_the_rest_of_the_file_is_untouched(
    make_site: SiteFactory, clock
) -> None:
    raw = "\ufeff---\r\ntitle: Café “open”\r\ndate: 2026-11-02\r\n---\r\nBody.\r\n"
    root = make_site({"content/cafe.md": raw.encode()})
    report = publish.build(settings_of(root), clock)
    assert report.ids_assigned == ("content/cafe.md",)
    [item] = feed_items(root)
    written = (root / "content/cafe.md").read_bytes()
    expected = raw.replace("---\r\nBody", f'id: "{item["id"]}"\r\n---\r\nBody').encode()
    assert written == expected
    again = publish.build(settings_of(root), clock)
    assert again.ids_assigned == ()
    assert (root / "content/cafe.md").read_bytes() == expected


def test_two_builds_give_byte_identical_output_and_the_second_writes_nothing(
    make_site: SiteFactory, clock
) -> None:
    files = {f"content/a{n}.md": article(f"Story {n}", f"2026-10-{n:02d}", tags="[x, y]")
             for n in range(1, 6)}
    root = make_site(files)
    publish.build(settings_of(root), clock)
    first = snapshot(root / "public")
    mtimes = {p: os.stat(root / "public" / p).st_mtime_ns for p in first}
    later = fixed_clock(datetime(2027, 1, 1, tzinfo=UTC))
    report = publish.build(settings_of(root), later)
    assert report.written == ()
    assert snapshot(root / "public") == first
    assert {p: os.stat(root / "public" / p).st_mtime_ns for p in first} == mtimes


def test_a_fresh_checkout_builds_the_same_bytes(make_site: SiteFactory, clock) -> None:
    files = {"content/a.md": article("Story", "2026-10-01", tags="[x]")}
    one = make_site(files, name="one")
    two = make_site(files, name="two")
    publish.build(settings_of(one), clock)
    publish.build(settings_of(two), clock)
    assert snapshot(one / "public") == snapshot(two / "public")
    assert (one / "content/a.md").read_bytes() == (two / "content/a.md").read_bytes()


def test_an_edit_rewrites_only_the_feeds_that_contain_the_article(make_site: SiteFactory, clock
                                                                   ) -> None:
    root = make_site({
        "content/a.md": article("Alpha", "2026-10-01", tags="[red]"),
        "content/b.md": article("Beta", "2026-10-02", tags="[blue]"),
    })
    publish.build(settings_of(root), clock)
    rewrite(root / "content/a.md", "The council voted", "The council argued")
    report = publish.build(settings_of(root), clock)
    assert sorted(p for p in report.written if p.endswith((".xml", ".json"))) == sorted(
        f"{folder}{name}" for folder in ("", "tags/red/")
        for name in ("atom.xml", "feed.json", "rss.xml")
    )


def test_a_build_that_fails_leaves_the_previous_output_exactly_as_it_was(
    make_site: SiteFactory, clock
) -> None:
    root = make_site({"content/a.md": article("Alpha", "2026-10-01")})
    publish.build(settings_of(root), clock)
    before = snapshot(root / "public")
    (root / "content/b.md").write_text(article("Beta", "2026-10-02"))
    (root / "content/broken.md").write_text("---\ntitle: [unclosed\n---\nText\n")
    with pytest.raises(ContentError):
        publish.build(settings_of(root), clock)
    assert snapshot(root / "public") == before
    assert "id:" not in (root / "content/b.md").read_text()


def test_a_write_that_fails_midway_leaves_every_file_whole(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article("Alpha", "2026-10-01", tags="[red]")})
    publish.build(settings_of(root), clock)
    # A folder where the tag's Atom feed should be: replacing it fails, even for root.
    (root / "public/tags/red/atom.xml").unlink()
    (root / "public/tags/red/atom.xml").mkdir()
    (root / "public/tags/red/atom.xml/in-the-way").write_text("x")
    before = snapshot(root / "public")
    (root / "content/b.md").write_text(article("Beta", "2026-10-02", tags="[red]", id="b"))
    with pytest.raises(OutputError, match="cannot write the output") as failure:
        publish.build(settings_of(root), clock)
    assert failure.value.problem.path.endswith("atom.xml")
    after = snapshot(root / "public")
    assert set(after) - set(before) == {"2026/10/beta/index.html"}  # written before the failure
    assert b"Beta" in after["atom.xml"]  # written before the failure, whole
    for path, data in after.items():
        assert data == before.get(path) or data.startswith((b"<?xml", b"{", b"<!DOCTYPE html>"))
    assert not [p for p in (root / "public").rglob("*") if p.name.endswith(".tmp")]
    (root / "public/tags/red/atom.xml/in-the-way").unlink()
    (root / "public/tags/red/atom.xml").rmdir()
    publish.build(settings_of(root), clock)  # the next build completes the job
    assert b"Beta" in (root / "public/tags/red/atom.xml").read_bytes()


def test_drafts_never_appear_and_future_articles_wait_for_their_time(make_site: SiteFactory
                                                                      ) -> None:
    root = make_site({
        "content/now.md": article("Now", "2026-11-01"),
        "content/draft.md": article("Secret draft", "2026-11-01", draft="true", tags="[x]"),
        "content/later.md": article("Later", "2026-12-01 07:00", tags="[x]"),
    })
    before = fixed_clock(datetime(2026, 12, 1, 6, 59, tzinfo=UTC))
    report = publish.build(settings_of(root), before)
    assert (report.articles, report.drafts, report.scheduled) == (1, 1, 1)
    assert [i["title"] for i in feed_items(root)] == ["Now"]
    assert not (root / "public/tags/x").exists()
    everything = b"".join(snapshot(root / "public").values())
    assert b"Secret draft" not in everything and b"Later" not in everything
    publish.build(settings_of(root), fixed_clock(datetime(2026, 12, 1, 7, 0, tzinfo=UTC)))
    assert [i["title"] for i in feed_items(root)] == ["Later", "Now"]
    assert (root / "public/tags/x/feed.json").exists()


def test_static_files_are_copied_and_removed_with_their_source(make_site: SiteFactory, clock
                                                                ) -> None:
    root = make_site({"content/a.md": article("Alpha", "2026-10-01"),
                      "static/images/map.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>"})
    publish.build(settings_of(root), clock)
    assert (root / "public/images/map.svg").read_bytes() == (root / "static/images/map.svg"
                                                            ).read_bytes()
    (root / "public/keep-me.txt").write_text("not ours")
    (root / "static/images/map.svg").unlink()
    report = publish.build(settings_of(root), clock)
    assert report.removed == ("images/map.svg",)
    assert not (root / "public/images").exists()
    assert (root / "public/keep-me.txt").read_text() == "not ours"


def test_a_deleted_output_file_is_written_again(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article("Alpha", "2026-10-01")})
    publish.build(settings_of(root), clock)
    data = (root / "public/rss.xml").read_bytes()
    (root / "public/rss.xml").unlink()
    report = publish.build(settings_of(root), clock)
    assert report.written == ("rss.xml",)
    assert (root / "public/rss.xml").read_bytes() == data


def test_tag_feeds_can_be_turned_off(make_site: SiteFactory, clock) -> None:
    config = BASE_CONFIG + "\n[feeds]\ntag_feeds = false\n"
    root = make_site({"content/a.md": article("Alpha", "2026-10-01", tags="[x]")}, config=config)
    publish.build(settings_of(root), clock)
    assert (root / "public/tags/x/index.html").is_file()  # the topic's page stays
    assert sorted(p.name for p in (root / "public/tags").rglob("*") if p.is_file()) == [
        "index.html", "index.html"]


def test_an_edited_template_or_static_file_rebuilds_what_uses_it(make_site: SiteFactory, clock
                                                                  ) -> None:
    root = make_site({"content/a.md": article("Alpha", "2026-10-01"),
                      "static/robots.txt": "User-agent: *\n"})
    publish.build(settings_of(root), clock)
    assert publish.build(settings_of(root), clock).written == ()
    (root / "static/robots.txt").write_text("User-agent: *\nDisallow: /drafts/\n")
    assert publish.build(settings_of(root), clock).written == ("robots.txt",)
    template = root / "templates/site/404.html"
    template.parent.mkdir(parents=True)
    template.write_text('{% extends "site/base.html" %}{% block main %}<h1>Lost at sea</h1>'
                        "{% endblock %}")
    assert publish.build(settings_of(root), clock).written == ("404.html",)
    assert "Lost at sea" in (root / "public/404.html").read_text()


def test_compiled_templates_are_kept_and_never_stand_for_an_edited_one(
        make_site: SiteFactory, clock) -> None:
    def lost(words: str) -> str:
        return ('{% extends "site/base.html" %}{% block main %}<h1>' + words
                + "</h1>{% endblock %}")

    root = make_site({"content/a.md": article("Alpha", "2026-10-01"),
                      "templates/site/404.html": lost("Lost at sea")})
    publish.build(settings_of(root), clock)
    compiled = sorted((root / ".publisher" / publish.TEMPLATES_CACHE).iterdir())
    assert compiled  # every template the build used
    (root / "templates/site/404.html").write_text(lost("Lost in fog"))
    assert publish.build(settings_of(root), clock).written == ("404.html",)
    assert "Lost in fog" in (root / "public/404.html").read_text()
    for path in compiled:
        path.write_bytes(b"\0not a compiled template")  # damaged: compiled afresh
    (root / "templates/site/404.html").write_text(lost("Lost ashore"))
    assert publish.build(settings_of(root), clock).written == ("404.html",)
    assert "Lost ashore" in (root / "public/404.html").read_text()


def test_a_temporary_file_left_under_this_process_number_is_written_over(
        make_site: SiteFactory, clock) -> None:
    """A killed run whose process number came round again left `.404.html.<pid>.tmp`."""
    root = make_site({"content/a.md": article("Alpha", "2026-10-01")})
    stale = root / "public" / f".404.html.{os.getpid()}.tmp"
    stale.parent.mkdir()
    stale.write_text("half of an old page")
    publish.build(settings_of(root), clock)
    assert "half of an old page" not in (root / "public/404.html").read_text()
    assert not stale.exists()
