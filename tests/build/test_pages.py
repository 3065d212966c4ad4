"""The archive site as a reader (and a feed reader, and a screen reader) meets it."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.html
import pytest
from lxml import etree

from publisher import publish
from publisher.build import pages as archive
from publisher.build.page_html import nest_headings
from publisher.errors import ContentError, OutputError, TemplateError
from tests.conftest import BASE_CONFIG, SiteFactory, article, settings_of, snapshot

REPO = Path(__file__).resolve().parents[2]

BASE = "https://news.example.org/"
FEED_TYPES = {"application/rss+xml": "rss.xml", "application/atom+xml": "atom.xml",
              "application/feed+json": "feed.json"}
DEEP_BODY = """\
# Where the harbour began

A [very long link](https://example.org/a-very-long-path-without-any-spaces-at-all-that-goes-on-and-on/)
and a photo: ![The old quay at dawn](quay.jpg) and <img src="decor.png">.

#### A detail two levels down

| Year | Boats |
|---|---|
| 1901 | 3 |

## Back under the first heading
"""
ARTICLES = {
    "content/oldest.md": article("Harbour opens", "2026-10-20T23:30:00+00:00", slug="harbour-opens",
                                 tags="[Harbour]", author="Ana Lima", body=DEEP_BODY),
    "content/middle.md": article("Ferry fares rise", "2026-11-02 09:00", slug="ferry-fares-rise",
                                 tags="[Transport, Harbour]"),
    "content/newest.md": article("Bridge closes", "2026-11-10 18:30", slug="bridge-closes",
                                 tags="[Transport]", summary="Three weekends of closures."),
    "content/draft.md": article("Secret draft", "2026-11-01", draft="true",
                                tags="[Hidden topic]"),
    "content/future.md": article("Tomorrow only", "2026-12-01", tags="[Hidden topic]"),
}
# Newest first, as the index lists them: (title, path).
ORDER = [("Bridge closes", "2026/11/bridge-closes/"),
         ("Ferry fares rise", "2026/11/ferry-fares-rise/"),
         ("Harbour opens", "2026/10/harbour-opens/")]


@pytest.fixture
def root(make_site: SiteFactory, clock) -> Path:
    site = make_site(ARTICLES)
    publish.build(settings_of(site), clock)
    return site


def page(root: Path, path: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((root / "public" / path).read_bytes())


def html_pages(public: Path) -> Iterator[tuple[str, lxml.html.HtmlElement]]:
    """Every page the archive templates made (digest copies are the digest stage's)."""
    for path in sorted(public.rglob("*.html")):
        relative = path.relative_to(public).as_posix()
        if not (relative.startswith("digests/") and relative != "digests/index.html"):
            yield relative, lxml.html.fromstring(path.read_bytes())


def target(page_path: str, href: str) -> str:
    """The output file a link on `page_path` leads to."""
    resolved = urlsplit(urljoin(BASE + page_path, href)).path.lstrip("/")
    return resolved + "index.html" if resolved.endswith("/") or not resolved else resolved


def texts(tree: lxml.html.HtmlElement, xpath: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in tree.xpath(xpath)]


def manifest(root: Path) -> dict[str, str]:
    files = json.loads((root / ".publisher/manifest.json").read_text())["files"]
    return {path: entry[0] for path, entry in files.items()}


def test_the_index_lists_the_latest_articles_with_dates_in_the_site_timezone(root: Path) -> None:
    index = page(root, "index.html")
    assert texts(index, "//main//h2") == [title for title, _ in ORDER]
    assert [target("index.html", h) for h in index.xpath("//main//h2/a/@href")] == [
        path + "index.html" for _, path in ORDER]
    times = index.xpath("//main//time")
    # 23:30 UTC on 20 October is already the 21st in Lisbon (UTC+1 in October).
    assert (times[2].get("datetime"), times[2].text) == ("2026-10-21T00:30:00+01:00",
                                                         "21 October 2026")
    assert texts(index, "//main//div[@class='summary']")[0] == "Three weekends of closures."
    assert index.xpath("//main//nav[@aria-label='Pages']") == []  # one page only


def test_an_article_page_shows_its_date_tags_author_and_content(root: Path) -> None:
    ferry = page(root, "2026/11/ferry-fares-rise/index.html")
    assert texts(ferry, "//h1") == ["Ferry fares rise"]
    assert ferry.xpath("//main//time/@datetime") == ["2026-11-02T09:00:00+00:00"]
    assert texts(ferry, "//p[@class='meta']") == ["2 November 2026 · by Desk"]
    tags = ferry.xpath("//ul[@class='tags']//a")
    assert [(a.text, a.get("href")) for a in tags] == [
        ("Transport", "../../../tags/transport/"), ("Harbour", "../../../tags/harbour/")]
    assert "Fares pay for boats." in ferry.text_content()
    assert ferry.xpath("//link[@rel='canonical']/@href") == [BASE + "2026/11/ferry-fares-rise/"]
    harbour = page(root, "2026/10/harbour-opens/index.html")
    assert "by Ana Lima" in texts(harbour, "//p[@class='meta']")[0]


def test_previous_and_next_lead_to_the_chronological_neighbours_by_title(root: Path) -> None:
    found = {}
    for _, path in ORDER:
        tree = page(root, path + "index.html")
        found[path] = {link.get("rel"): (texts(link, "span[@class='title']")[0],
                                         target(path + "index.html", link.get("href")))
                       for link in tree.xpath("//nav[@class='neighbours']/a")}
    newest, middle, oldest = (p for _, p in ORDER)
    assert found[newest] == {"prev": ("Ferry fares rise", middle + "index.html")}
    assert found[middle] == {"prev": ("Harbour opens", oldest + "index.html"),
                             "next": ("Bridge closes", newest + "index.html")}
    assert found[oldest] == {"next": ("Ferry fares rise", middle + "index.html")}
    labels = texts(page(root, middle + "index.html"), "//nav[@class='neighbours']//span[1]")
    assert labels == ["Previous", "Next"]


def test_the_index_is_paginated_newest_first(make_site: SiteFactory, clock) -> None:
    files = {f"content/s{n:02d}.md": article(f"Story {n}", f"2026-10-{n:02d} 12:00")
             for n in range(1, 24)}
    root = make_site(files)
    publish.build(settings_of(root), clock)
    pages = ["index.html", "page/2/index.html", "page/3/index.html"]
    titles = [texts(page(root, p), "//main//h2") for p in pages]
    assert titles == [[f"Story {n}" for n in range(23, 13, -1)],
                      [f"Story {n}" for n in range(13, 3, -1)],
                      [f"Story {n}" for n in range(3, 0, -1)]]
    assert not (root / "public/page/4").exists()
    assert not (root / "public/page/1").exists()
    links = {}
    for path in pages:
        nav = page(root, path).xpath("//nav[@aria-label='Pages']")[0]
        links[path] = {a.get("rel"): target(path, a.get("href")) for a in nav.iter("a")}
        assert f"Page {pages.index(path) + 1} of 3" in nav.text_content()
    assert links == {
        "index.html": {"next": "page/2/index.html"},
        "page/2/index.html": {"prev": "index.html", "next": "page/3/index.html"},
        "page/3/index.html": {"prev": "page/2/index.html"},
    }
    assert texts(page(root, "page/2/index.html"), "//h1") == ["Latest articles, page 2"]


def test_tag_pages_are_paginated_with_the_page_size_given(make_site: SiteFactory, clock) -> None:
    files = {f"content/s{n}.md": article(f"Story {n}", f"2026-10-0{n}", tags="[Red]")
             for n in range(1, 6)}
    settings = settings_of(make_site(files))
    published = publish.load(settings).published(clock())
    options = archive.SiteOptions(settings.site(), settings.service_url, per_page=2)
    env = archive.environment(options, settings.path("templates"))
    files_by_path = {f.path: f.data for f in
                     archive.render(env, archive.plan(options, env, published))}
    tag_pages = sorted(p for p in files_by_path if p.startswith("tags/red/"))
    assert tag_pages == ["tags/red/index.html", "tags/red/page/2/index.html",
                         "tags/red/page/3/index.html"]
    last = lxml.html.fromstring(files_by_path["tags/red/page/3/index.html"])
    assert texts(last, "//main//h2") == ["Story 1"]
    assert texts(last, "//h1") == ["Topic: Red, page 3"]
    newer = last.xpath("//a[@rel='prev']/@href")
    assert [target("tags/red/page/3/index.html", h) for h in newer] == [
        "tags/red/page/2/index.html"]


def test_tag_pages_list_their_articles_and_advertise_their_own_feeds(root: Path) -> None:
    transport = page(root, "tags/transport/index.html")
    assert texts(transport, "//h1") == ["Topic: Transport"]
    assert texts(transport, "//main//h2") == ["Bridge closes", "Ferry fares rise"]
    alternates = [(x.get("type"), x.get("href"))
                  for x in transport.xpath("//head/link[@rel='alternate']")]
    assert alternates == [(t, BASE + n) for t, n in FEED_TYPES.items()] + [
        (t, BASE + "tags/transport/" + n) for t, n in FEED_TYPES.items()]
    for _, href in alternates:
        assert (root / "public" / urlsplit(href).path.lstrip("/")).is_file()
    index = page(root, "tags/index.html")
    assert texts(index, "//main//li") == ["Harbour (2 articles)", "Transport (2 articles)"]
    assert [target("tags/index.html", h) for h in index.xpath("//main//a/@href")] == [
        "tags/harbour/index.html", "tags/transport/index.html"]


def test_every_page_advertises_the_site_feeds_and_links_only_to_pages_that_exist(root: Path
                                                                                ) -> None:
    public = root / "public"
    checked = 0
    for path, tree in html_pages(public):
        head = tree.xpath("//head/link[@rel='alternate']")
        assert [(x.get("type"), x.get("href")) for x in head][:3] == [
            (t, BASE + n) for t, n in FEED_TYPES.items()], path
        assert all(x.get("title") for x in head), path
        for href in tree.xpath("//a/@href | //link[@rel='stylesheet']/@href"):
            if not href.startswith(("http:", "https:", "#")):
                assert (public / target(path, href)).is_file(), f"{path}: {href}"
                checked += 1
    assert checked > 90  # the header, footer and body links of a dozen pages


def test_drafts_and_future_articles_appear_nowhere(root: Path) -> None:
    public = root / "public"
    everything = b"".join(snapshot(public).values())
    for secret in (b"Secret draft", b"Tomorrow only", b"Hidden topic", b"hidden-topic"):
        assert secret not in everything
    assert not (public / "tags/hidden-topic").exists()
    assert not (public / "2026/12").exists()
    later = publish.build(settings_of(root), lambda: datetime(2026, 12, 1, tzinfo=UTC))
    assert "2026/12/tomorrow-only/index.html" in later.written
    newest = page(root, "2026/12/tomorrow-only/index.html")
    assert texts(newest, "//nav[@class='neighbours']//span[@class='title']") == ["Bridge closes"]


def test_every_page_has_one_h1_and_headings_that_never_skip_a_level(root: Path) -> None:
    for path, tree in html_pages(root / "public"):
        levels = [int(h.tag[1]) for h in tree.iter("h1", "h2", "h3", "h4", "h5", "h6")]
        assert levels.count(1) == 1, path
        assert levels[0] == 1, path
        for before, after in itertools.pairwise(levels):
            assert after <= before + 1, f"{path}: h{before} then h{after}"
    deep = page(root, "2026/10/harbour-opens/index.html")
    # The author's #, #### and ## are three levels below the title, in that order.
    assert [h.tag for h in deep.iter("h1", "h2", "h3", "h4")] == ["h1", "h2", "h3", "h3"]
    assert texts(deep, "//h2") == ["Where the harbour began"]


def test_article_headings_are_renumbered_under_the_page_title() -> None:
    assert nest_headings("<h1>A</h1><h3 id='x'>B</h3><h1>C</h1>") == (
        "<h2>A</h2><h3 id='x'>B</h3><h2>C</h2>")
    assert nest_headings("<h4>A</h4><h2>B</h2><h3>C</h3>") == (
        "<h2>A</h2><h2>B</h2><h3>C</h3>")  # a first heading deeper than the rest moves up
    assert nest_headings("<h2>A</h2><h6>B</h6>", parent_level=5) == "<h6>A</h6><h6>B</h6>"
    assert nest_headings("<p>no headings</p>") == "<p>no headings</p>"


def test_every_image_has_alt_text_and_the_authors_text_is_kept(root: Path) -> None:
    images = 0
    for path, tree in html_pages(root / "public"):
        for img in tree.iter("img"):
            assert img.get("alt") is not None, f"{path}: {lxml.html.tostring(img)}"
            images += 1
    deep = page(root, "2026/10/harbour-opens/index.html")
    assert [(i.get("alt"), i.get("src").rsplit("/", 1)[1]) for i in deep.iter("img")] == [
        ("The old quay at dawn", "quay.jpg"), ("", "decor.png")]
    assert images == 6  # the article, and its summary on the index and on its tag page


def test_wide_content_scrolls_inside_its_own_box(root: Path) -> None:
    deep = page(root, "2026/10/harbour-opens/index.html")
    [box] = deep.xpath("//table/..")
    assert (box.get("class"), box.get("tabindex"), box.get("role")) == (
        "table-scroll", "0", "region")
    css = (root / "public/style.css").read_text()
    assert re.search(r"\.table-scroll\s*{[^}]*overflow-x:\s*auto", css)
    assert re.search(r"body\s*{[^}]*overflow-wrap:\s*anywhere", css)
    assert re.search(r"img[^{]*{[^}]*max-width:\s*100%", css)
    for _, tree in html_pages(root / "public"):
        assert tree.xpath("//meta[@name='viewport']/@content") == [
            "width=device-width, initial-scale=1"]


def test_the_subscribe_form_posts_to_the_service_with_labelled_fields(make_site: SiteFactory,
                                                                     clock) -> None:
    config = BASE_CONFIG + '\n[web]\nurl = "https://join.example.org/news"\n'
    root = make_site(ARTICLES, config=config)
    publish.build(settings_of(root), clock)
    tree = page(root, "subscribe/index.html")
    [form] = tree.forms
    assert (form.method, form.action) == ("POST", "https://join.example.org/news/subscribe")
    fields = form.xpath(".//input | .//select | .//textarea")
    labels = {label.get("for"): " ".join(label.text_content().split())
              for label in form.iter("label")}
    assert [(f.get("name"), f.get("type"), labels[f.get("id")]) for f in fields] == [
        ("email", "email", "Email address"),
        ("topics", "checkbox", "Harbour"),
        ("topics", "checkbox", "Transport"),
        ("timezone", None, "Time zone"),
        ("hour", None, "Hour"),
        ("website", "text", "Leave this field empty"),  # the bot trap, hidden from people
    ]
    assert [f.get("value") for f in fields[1:3]] == ["harbour", "transport"]
    assert texts(form, ".//legend")[0].startswith("Topics (optional")
    assert "required" in form.inputs["email"].attrib
    assert form.inputs["timezone"].value == "" and form.inputs["hour"].value == ""
    assert "Pacific/Auckland" in form.inputs["timezone"].value_options


def test_the_subscribe_form_offers_the_digests_readers_may_choose(make_site: SiteFactory,
                                                                   clock) -> None:
    root = make_site({**ARTICLES, "schedules/daily.toml": 'action = "digest"\ncron = '
                      '"0 7 * * *"\nchoosable = true\nlabel = "Every morning"\n'})
    publish.build(settings_of(root), clock)
    [form] = page(root, "subscribe/index.html").forms
    assert form.inputs["cadence"].value_options == ["", "daily"]
    assert form.inputs["cadence"].value == ""  # every digest, unless the reader chooses
    (root / "schedules/daily.toml").write_text('action = "digest"\nevery = "soon"\n')
    publish.build(settings_of(root), clock)  # a broken schedule file does not stop a build
    [form] = page(root, "subscribe/index.html").forms
    assert "cadence" not in form.inputs


def test_no_page_needs_javascript_and_each_has_a_language_and_a_skip_link(root: Path) -> None:
    for path, tree in html_pages(root / "public"):
        assert tree.xpath("//script | //@*[starts-with(name(), 'on')]") == [], path
        assert tree.get("lang") == "en", path
        skip = tree.xpath("//body/*[1]")[0]
        assert (skip.tag, skip.get("href"), skip.text) == ("a", "#main", "Skip to content")
        assert tree.xpath("//main/@id") == ["main"], path
    css = (root / "public/style.css").read_text()
    assert re.search(r":focus-visible\s*{[^}]*outline:\s*3px solid", css)


def relative_luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, two: str) -> float:
    high, low = sorted((relative_luminance(one), relative_luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_have_a_contrast_of_at_least_4_5_in_both_schemes(root: Path) -> None:
    css = (root / "public/style.css").read_text()
    schemes = re.findall(r":root\s*{([^}]*)}", css)
    assert len(schemes) == 2  # light, and dark under prefers-color-scheme
    for block in schemes:
        colours = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))
        pairs = [(fg, bg) for fg in ("text", "muted", "link", "focus") for bg in ("bg", "panel")]
        for fg, bg in [*pairs, ("button-text", "link")]:
            assert contrast(colours[fg], colours[bg]) >= 4.5, (fg, bg, block)


def test_a_second_build_with_no_change_renders_and_writes_nothing(root: Path, clock) -> None:
    before = manifest(root)
    report = publish.build(settings_of(root), clock)
    assert report.written == ()
    assert report.removed == ()
    assert manifest(root) == before
    # 12 pages and files, sitemap.xml and robots.txt, 5 sizes of the icon, and 9 feeds
    # (complete: no archive yet)
    assert report.unchanged == len(before) == 28


def test_an_edit_re_renders_only_the_pages_that_show_the_article(root: Path, clock) -> None:
    before = manifest(root)
    source = root / "content/middle.md"
    source.write_text(source.read_text().replace("title: Ferry fares rise",
                                                 "title: Ferry fares rise again"))
    report = publish.build(settings_of(root), clock)
    after = manifest(root)
    rerendered = sorted(p for p in after if after[p] != before.get(p))
    pages = ["2026/10/harbour-opens/index.html",  # its Next link shows the new title
             "2026/11/bridge-closes/index.html",  # its Previous link too
             "2026/11/ferry-fares-rise/index.html", "index.html",
             "tags/harbour/index.html", "tags/transport/index.html"]
    feeds = [f"{folder}{name}" for folder in ("", "tags/harbour/", "tags/transport/")
             for name in ("atom.xml", "feed.json", "rss.xml")]
    assert rerendered == sorted(pages + feeds)
    assert sorted(report.written) == rerendered
    assert texts(page(root, "2026/11/bridge-closes/index.html"),
                 "//a[@rel='prev']/span[@class='title']") == ["Ferry fares rise again"]


def test_a_site_template_overrides_the_default_one_file_at_a_time(root: Path, clock) -> None:
    override = root / "templates/site/404.html"
    override.parent.mkdir(parents=True)
    override.write_text('{% extends "site/base.html" %}\n{% block main %}<h1>Lost at sea</h1>'
                        "{% endblock %}\n")
    report = publish.build(settings_of(root), clock)
    assert texts(page(root, "404.html"), "//h1") == ["Lost at sea"]
    assert "404.html" in report.written
    assert texts(page(root, "tags/index.html"), "//h1") == ["Topics"]  # the theme's


@pytest.mark.parametrize(("name", "text", "message", "line"), [
    ("article.html", '{% extends "site/base.html" %}\n{% block main %}\n{% if %}\n'
     "{% endblock %}\n", "broken template: Expected an expression, got 'end of statement "
     "block'", 3),
    ("index.html", '{% extends "site/base.html" %}\n{% block main %}\n<h1>{{ hello.world }}'
     "</h1>\n{% endblock %}\n", "template error: 'hello' is undefined", 3),
])
def test_a_broken_site_template_is_named_with_its_line_and_nothing_is_written(
    root: Path, clock, name: str, text: str, message: str, line: int
) -> None:
    before = snapshot(root / "public")
    source = root / "content/newest.md"
    source.write_text(source.read_text().replace("Bridge closes", "Bridge reopens"))
    broken = root / "templates/site" / name
    broken.parent.mkdir(parents=True)
    broken.write_text(text)
    with pytest.raises(TemplateError) as failure:
        publish.build(settings_of(root), clock)
    assert snapshot(root / "public") == before
    problem = failure.value.problem
    assert (problem.path, problem.line, problem.message) == (str(broken.resolve()), line,
                                                             message)


def test_an_article_may_not_take_the_place_of_an_archive_page(make_site: SiteFactory, clock
                                                              ) -> None:
    config = BASE_CONFIG.replace('language = "en"\n', 'language = "en"\npermalink = "{slug}/"\n')
    root = make_site({"content/t.md": article("Our tags", "2026-10-01", slug="tags")},
                     config=config)
    with pytest.raises(ContentError) as failure:
        publish.build(settings_of(root), clock)
    assert [str(p) for p in failure.value.problems] == [
        "content/t.md: the article's page 'tags/index.html' would replace one of the archive's "
        "own pages\n  hint: change the `permalink` setting or the article's slug"]
    assert not (root / "public").exists()


def test_digest_copies_are_written_as_given_and_listed_newest_first(root: Path, clock) -> None:
    settings = settings_of(root)
    options = archive.SiteOptions(settings.site(), settings.service_url)
    env = archive.environment(options, settings.path("templates"))
    digests = [
        archive.DigestCopy("w44", "Week 44", datetime(2026, 10, 30, 23, 30, tzinfo=UTC),
                           "<!DOCTYPE html><p>Week 44 as sent</p>"),
        archive.DigestCopy("w45", "Week 45", datetime(2026, 11, 6, 7, 0, tzinfo=UTC),
                           "<!DOCTYPE html><p>Week 45 as sent</p>"),
    ]
    made = {f.path: f.data for f in archive.render(env, archive.plan(options, env, (),
                                                                        digests))}
    assert made["digests/w45.html"] == b"<!DOCTYPE html><p>Week 45 as sent</p>"
    listing = lxml.html.fromstring(made["digests/index.html"])
    entries = [(a.text, target("digests/index.html", a.get("href")))
               for a in listing.xpath("//ol//a")]
    assert entries == [("Week 45", "digests/w45.html"), ("Week 44", "digests/w44.html")]
    assert texts(listing, "//ol//time") == ["6 November 2026", "30 October 2026"]
    bad = [archive.DigestCopy("../x", "Bad", datetime(2026, 1, 1, tzinfo=UTC), "")]
    with pytest.raises(OutputError, match=r"digest id '\.\./x' cannot name a file"):
        archive.plan(options, env, (), bad)
    empty = page(root, "digests/index.html")
    assert "No digest has been sent yet." in empty.text_content()


@pytest.mark.parametrize("folder", ["", "tags/transport/"])
@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_every_xml_feed_points_to_the_css_that_shows_it_as_a_page(root: Path, folder: str,
                                                                 name: str) -> None:
    """CSS, not XSLT (which browsers are removing); a browser shows it in tests/web."""
    public = root / "public"
    data = (public / folder / name).read_bytes()
    instruction = f'<?xml-stylesheet type="text/css" href="{urlsplit(BASE).path}feed.css"?>'
    assert data.splitlines()[1] == instruction.encode()
    assert feedparser.parse(data).bozo == 0
    assert b"xsl" not in data
    assert (public / "feed.css").read_bytes() == (REPO / "templates/site/feed.css").read_bytes()


def test_saved_digest_copies_become_pages_at_the_next_build(root: Path, clock) -> None:
    from publisher.build.web_copies import save_web_copy

    copy = archive.DigestCopy("weekly-20261120-0700", "Digest for 20 November 2026",
                              datetime(2026, 11, 20, 7, tzinfo=UTC), "<html><p>Hello</p></html>")
    save_web_copy(root / "digests", copy)
    publish.build(settings_of(root), clock)
    assert (root / "public/digests/weekly-20261120-0700.html").read_text() == copy.web_html
    listing = page(root, "digests/index.html")
    assert "Digest for 20 November 2026" in listing.text_content()


def test_a_damaged_digest_record_stops_the_build_with_its_name(root: Path, clock) -> None:
    (root / "digests").mkdir()
    (root / "digests/x.json").write_text("{not json")
    before = snapshot(root / "public")
    with pytest.raises(ContentError) as error:
        publish.build(settings_of(root), clock)
    assert str(error.value.problems[0]).startswith("digests/x.json: cannot read this digest's")
    assert snapshot(root / "public") == before


def test_crawlers_find_a_sitemap_robots_txt_icons_and_open_graph(root: Path) -> None:
    public = root / "public"
    sitemap = etree.parse(str(public / "sitemap.xml")).getroot()
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    listed = dict(zip(sitemap.xpath("//s:loc/text()", namespaces=ns),
                      [u.findtext("s:lastmod", namespaces=ns) for u in
                       sitemap.findall("s:url", ns)], strict=True))
    assert listed[BASE + "2026/11/ferry-fares-rise/"] == "2026-11-02T09:00:00+00:00"
    assert listed[BASE] is None and BASE + "404.html" not in listed
    assert len(listed) == len(list(public.rglob("*.html"))) - 1  # all but 404.html
    assert (public / "robots.txt").read_text() == (
        f"User-agent: *\nDisallow: {urlsplit(BASE).path}confirm\n"
        f"Disallow: {urlsplit(BASE).path}unsubscribe\n"
        f"Disallow: {urlsplit(BASE).path}preferences\n\nSitemap: {BASE}sitemap.xml\n")
    html = page(root, "2026/11/ferry-fares-rise/index.html")
    meta = {m.get("property"): m.get("content") for m in html.xpath("//meta[@property]")}
    assert (meta["og:type"], meta["og:url"], meta["og:image"]) == (
        "article", BASE + "2026/11/ferry-fares-rise/", BASE + "icon.png")
    assert meta["article:published_time"] == "2026-11-02T09:00:00+00:00"
    assert html.xpath("//link[@rel='icon']/@href")[0].endswith("favicon.ico")
    assert (public / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"


def test_a_site_icon_that_is_not_square_is_refused_by_check_and_build(
        make_site: SiteFactory, clock) -> None:
    from PIL import Image

    root = make_site({"content/a.md": article()})
    (root / "templates/site").mkdir(parents=True)
    Image.new("RGB", (600, 300)).save(root / "templates/site/icon.png")
    with pytest.raises(ContentError) as error:
        publish.check(settings_of(root), clock)
    message = ("templates/site/icon.png: the icon is 600 × 300 pixels: it must be square\n"
               "  hint: use a square PNG, JPEG or WebP image of at least 512 × 512 pixels, or "
               "delete it to use the default theme's")
    assert [str(p) for p in error.value.problems] == [message]
    with pytest.raises(ContentError):
        publish.build(settings_of(root), clock)
    assert not (root / "public").exists()


SPELLED_OUT = re.compile(r"[1-9][0-9]? (January|February|March|April|May|June|July|August"
                         r"|September|October|November|December) [0-9]{4}")
OTHER_DATE = re.compile(r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}\b|\b[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}\b"
                        r"|\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* [0-9]{1,2},")


def test_one_date_format_for_people_and_rfc_3339_for_machines(root: Path) -> None:
    """Every date a reader sees is spelled out and marked up with its RFC 3339 moment."""
    seen = 0
    for path, tree in html_pages(root / "public"):
        for time in tree.iter("time"):
            moment = datetime.fromisoformat(time.get("datetime"))
            assert moment.tzinfo is not None, (path, time.get("datetime"))
            assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                r"([+-][0-9]{2}:[0-9]{2}|Z)", time.get("datetime"))
            assert SPELLED_OUT.fullmatch(time.text_content()), (path, time.text_content())
            seen += 1
        body = tree.find("body")
        assert body is not None
        visible = " ".join(body.itertext())
        assert OTHER_DATE.search(visible) is None, (path, OTHER_DATE.search(visible))
    assert seen >= 2 * len(ORDER)  # the index and each article page at least
