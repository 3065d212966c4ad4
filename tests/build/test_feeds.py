"""Feeds as real readers see them: parsed by feedparser, checked against each spec."""

from __future__ import annotations

import calendar
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
import yaml
from lxml import etree

from publisher import publish
from tests.conftest import SiteFactory, article, settings_of

BASE = "https://news.example.org/"
ARTICLES = {
    "content/ferry.md": article(
        "Ferry fares rise", "2026-11-02 09:00", tags="[Transport, Council]",
        id="ferry-2026", author="Ana Lima",
        body="Fares rise in [January](/fares/) on the *night* boats.\n\n"
             "![Route map](../images/route.svg)\n\n## Why\n\nCosts.\n",
    ),
    "content/bridge.md": article(
        '"Bridge: what closes when"', "2026-11-10T18:30:00+00:00", tags="[Transport]",
        summary="Three weekends of closures.",
        body='Closures start soon.<script>alert("x")</script> '
             '<a href="x" onclick="evil()">map</a>\n',
    ),
    "content/budget.md": article("Budget “explained” — part 1", "2026-10-20", tags="[Council]"),
}
# (title, permalink, publication time in UTC, tag slugs); Lisbon is UTC+1 on 2026-10-20.
EXPECTED = [
    ("Bridge: what closes when", BASE + "2026/11/bridge-what-closes-when/",
     datetime(2026, 11, 10, 18, 30, tzinfo=UTC), {"transport"}),
    ("Ferry fares rise", BASE + "2026/11/ferry-fares-rise/",
     datetime(2026, 11, 2, 9, 0, tzinfo=UTC), {"transport", "council"}),
    ("Budget “explained” — part 1", BASE + "2026/10/budget-explained-part-1/",
     datetime(2026, 10, 19, 23, 0, tzinfo=UTC), {"council"}),
]
FOLDERS = ["", "tags/transport/", "tags/council/"]


@pytest.fixture
def built(make_site: SiteFactory, clock) -> Path:
    root = make_site(ARTICLES)
    publish.build(settings_of(root), clock)
    return root / "public"


def ids_in_files(root: Path) -> dict[str, str]:
    """Title -> id, as written in the front matter after the build."""
    ids = {}
    for path in (root / "content").glob("*.md"):
        meta = yaml.safe_load(path.read_text().split("---")[1])
        ids[meta["title"]] = str(meta["id"])
    return ids


def expected_items(root: Path, folder: str) -> list[tuple[str, str, str, datetime]]:
    ids = ids_in_files(root)
    tag = folder.split("/")[1] if folder else None
    return [(ids[t], url, t, when) for t, url, when, tags in EXPECTED if tag is None or tag in tags]


def parse(path: Path) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def as_utc(struct) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(struct), UTC)


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_feedparser_reads_each_xml_feed_without_error_and_with_the_right_items(
    built: Path, folder: str, name: str
) -> None:
    entries = parse(built / folder / name).entries
    got = [(e.id, e.link, e.title, as_utc(e.published_parsed)) for e in entries]
    assert got == expected_items(built.parent, folder)


@pytest.mark.parametrize("folder", FOLDERS)
def test_json_feed_items_have_the_right_ids_links_titles_and_dates(built: Path, folder: str
                                                                   ) -> None:
    items = json.loads((built / folder / "feed.json").read_text("utf-8"))["items"]
    got = [(i["id"], i["url"], i["title"], datetime.fromisoformat(i["date_published"]))
           for i in items]
    assert got == expected_items(built.parent, folder)


def test_json_feed_follows_the_1_1_spec(built: Path) -> None:
    feed = json.loads((built / "feed.json").read_text("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Test Gazette"
    assert feed["home_page_url"] == BASE
    assert feed["feed_url"] == BASE + "feed.json"
    assert feed["authors"] == [{"name": "Desk"}]
    assert "author" not in feed  # 1.1 replaced it with authors
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert item.get("content_html") or item.get("content_text")
        for key in ("date_published", "date_modified"):
            assert datetime.fromisoformat(item[key]).tzinfo is not None  # RFC 3339 with offset
        assert all(set(a) <= {"name", "url", "avatar"} for a in item["authors"])
    ferry = next(i for i in feed["items"] if i["id"] == "ferry-2026")
    assert ferry["authors"] == [{"name": "Ana Lima"}]
    assert ferry["tags"] == ["Transport", "Council"]
    tag_feed = json.loads((built / "tags/council/feed.json").read_text("utf-8"))
    assert tag_feed["feed_url"] == BASE + "tags/council/feed.json"
    assert tag_feed["home_page_url"] == BASE + "tags/council/"


def test_rss_channel_has_what_validators_require(built: Path) -> None:
    root = etree.parse(str(built / "rss.xml")).getroot()
    channel = root.find("channel")
    assert channel.findtext("title") == "Test Gazette"
    assert channel.findtext("link") == BASE  # the site, not the feed
    assert channel.findtext("description") == "A site made by a test"
    assert channel.findtext("language") == "en"
    self_link = channel.find("{http://www.w3.org/2005/Atom}link")
    assert self_link.get("rel") == "self"
    assert self_link.get("href") == BASE + "rss.xml"
    rfc822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
    assert rfc822.match(channel.findtext("lastBuildDate"))
    for item in channel.iter("item"):
        assert rfc822.match(item.findtext("pubDate"))
        guid = item.find("guid")
        assert guid.get("isPermaLink") == "false"
        assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") in {"Ana Lima", "Desk"}


def test_atom_entries_keep_rel_alternate_and_the_feed_has_id_updated_author(built: Path) -> None:
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = etree.parse(str(built / "atom.xml")).getroot()
    assert root.findtext("a:id", namespaces=ns)
    assert root.findtext("a:updated", namespaces=ns) == "2026-11-10T18:30:00+00:00"
    assert root.findtext("a:author/a:name", namespaces=ns) == "Desk"
    links = [(link.get("rel"), link.get("href")) for link in root.findall("a:link", ns)]
    # feed-extractor and others take the first link as the site's: "alternate" comes first
    assert links == [("alternate", BASE), ("self", BASE + "atom.xml")]
    for entry in root.findall("a:entry", ns):
        assert entry.findtext("a:id", namespaces=ns)
        assert entry.findtext("a:updated", namespaces=ns)
        assert entry.findtext("a:author/a:name", namespaces=ns)
        links = entry.findall("a:link", ns)
        assert [(x.get("rel"), x.get("type")) for x in links] == [("alternate", "text/html")]


def test_content_links_are_absolute_and_scripts_are_gone(built: Path) -> None:
    feed = json.loads((built / "feed.json").read_text("utf-8"))
    by_title = {i["title"]: i for i in feed["items"]}
    ferry = by_title["Ferry fares rise"]["content_html"]
    assert '<a href="https://news.example.org/fares/">January</a>' in ferry
    assert 'src="https://news.example.org/2026/11/images/route.svg"' in ferry
    bridge = by_title["Bridge: what closes when"]["content_html"]
    assert "<script" not in bridge and "alert" not in bridge and "onclick" not in bridge
    assert 'href="https://news.example.org/2026/11/bridge-what-closes-when/x"' in bridge
    assert by_title["Bridge: what closes when"]["summary"] == "Three weekends of closures."
    assert by_title["Budget “explained” — part 1"]["summary"] == "The council voted on Tuesday."


def test_summary_mode_leaves_full_content_out(make_site: SiteFactory, clock) -> None:
    from tests.conftest import BASE_CONFIG

    root = make_site(ARTICLES, config=BASE_CONFIG + '\n[feeds]\ncontent = "summary"\n')
    publish.build(settings_of(root), clock)
    rss = (root / "public/rss.xml").read_text("utf-8")
    assert "content:encoded" not in rss and "Why it matters" not in rss
    item = json.loads((root / "public/feed.json").read_text())["items"][0]
    assert item["content_html"] == "Three weekends of closures."


def test_items_per_feed_is_limited_to_the_newest(make_site: SiteFactory, clock) -> None:
    from tests.conftest import BASE_CONFIG

    files = {f"content/a{n}.md": article(f"Story {n}", f"2026-10-{n:02d}") for n in range(1, 8)}
    root = make_site(files, config=BASE_CONFIG + "\n[feeds]\nitems = 3\n")
    publish.build(settings_of(root), clock)
    titles = [e.title for e in parse(root / "public/atom.xml").entries]
    assert titles == ["Story 7", "Story 6", "Story 5"]


def test_hubs_are_advertised_in_every_format(make_site: SiteFactory, clock) -> None:
    from tests.conftest import BASE_CONFIG

    config = BASE_CONFIG + '\n[feeds]\nhubs = ["https://hub.example.net/"]\n'
    root = make_site(ARTICLES, config=config)
    publish.build(settings_of(root), clock)
    for name in ("rss.xml", "atom.xml"):
        links = parse(root / "public" / name).feed.links
        assert {"rel": "hub", "href": "https://hub.example.net/"} in [
            {"rel": x.get("rel"), "href": x.get("href")} for x in links
        ]
    feed = json.loads((root / "public/feed.json").read_text())
    assert feed["hubs"] == [{"type": "WebSub", "url": "https://hub.example.net/"}]


def test_every_registered_format_is_built_linked_and_served_by_its_type(built: Path) -> None:
    """The build, the pages' autodiscovery links and the service read one registry."""
    from publisher.build.feeds import FORMATS
    from publisher.build.media import content_type

    index = (built / "index.html").read_text()
    tag_page = (built / "tags/transport/index.html").read_text()
    for feed in FORMATS:
        for folder in FOLDERS:
            assert (built / folder / feed.file).is_file(), folder + feed.file
        for page, folder in ((index, ""), (tag_page, "tags/transport/")):
            links = re.findall(r'<link rel="alternate" type="([^"]+)" title="[^"]*" '
                               r'href="([^"]+)">', page)
            assert (feed.media_type, f"{BASE}{folder}{feed.file}") in links
        assert content_type(feed.file) == f"{feed.media_type}; charset=utf-8"


# -- what the W3C feed validator warns about, each checked for itself ---------------------

DC = "{http://purl.org/dc/elements/1.1/}"
ATOM = "{http://www.w3.org/2005/Atom}"
HISTORY = "{http://purl.org/syndication/history/1.0}"


def test_rss_items_name_their_author_with_dc_creator_only_and_no_address(built: Path) -> None:
    """"An item should not include both author and dc:creator"; and no address to harvest."""
    for folder in FOLDERS:
        data = (built / folder / "rss.xml").read_bytes()
        for item in etree.fromstring(data).iter("item"):
            assert item.find("author") is None
            assert item.findtext(f"{DC}creator") in {"Ana Lima", "Desk"}
        assert b"desk@example.org" not in data
        assert b"desk@example.org" not in (built / folder / "atom.xml").read_bytes()


def test_titles_with_markup_reach_every_feed_as_plain_text(make_site: SiteFactory,
                                                           clock) -> None:
    root = make_site({"content/a.md": article("'<em>Hamlet</em> &amp; the <b>Globe</b>'")})
    publish.build(settings_of(root), clock)
    for name in ("rss.xml", "atom.xml"):
        assert [e.title for e in parse(root / "public" / name).entries] == ["Hamlet & the Globe"]
        assert b"&lt;em&gt;" not in (root / "public" / name).read_bytes()
    items = json.loads((root / "public/feed.json").read_text("utf-8"))["items"]
    assert [i["title"] for i in items] == ["Hamlet & the Globe"]


def test_the_feeds_carry_the_sites_icon_and_logo(built: Path) -> None:
    channel = etree.parse(str(built / "rss.xml")).getroot().find("channel")
    image = channel.find("image")
    assert [image.findtext(k) for k in ("url", "title", "link", "width", "height")] == [
        BASE + "icon-144.png", "Test Gazette", channel.findtext("link"), "144", "144"]
    atom = etree.parse(str(built / "atom.xml")).getroot()
    assert (atom.findtext(f"{ATOM}icon"), atom.findtext(f"{ATOM}logo")) == (
        BASE + "icon.png", BASE + "icon-144.png")
    feed = json.loads((built / "feed.json").read_text("utf-8"))
    assert (feed["icon"], feed["favicon"]) == (BASE + "icon.png", BASE + "icon-64.png")
    from PIL import Image

    for name, size in (("icon.png", 512), ("icon-144.png", 144), ("icon-64.png", 64)):
        with Image.open(built / name) as icon:
            assert (icon.format, icon.size) == ("PNG", (size, size))


# -- feed history (RFC 5005) ---------------------------------------------------------------

def history_site(make_site: SiteFactory, count: int, items: int = 3) -> Path:
    from tests.conftest import BASE_CONFIG

    files = {f"content/s{n:02d}.md": article(f"Story {n}", f"2026-10-{n:02d} 08:00",
                                             tags="[even]" if n % 2 == 0 else "[odd]")
             for n in range(1, count + 1)}
    return make_site(files, config=BASE_CONFIG + f"\n[feeds]\nitems = {items}\n")


def walk(public: Path, path: str) -> tuple[list[str], list[list[str]]]:
    """Follow prev-archive from a subscription feed: its items, then each archive's."""
    subscription, archives = [], []
    seen = set()
    while True:
        parsed = parse(public / path)
        titles = [e.title for e in parsed.entries]
        root = etree.fromstring((public / path).read_bytes())
        container = root.find("channel") if root.tag == "rss" else root
        is_archive = container.find(f"{HISTORY}archive") is not None
        if is_archive:
            archives.append(titles)
        else:
            subscription = titles
        older = [x.get("href") for x in container.findall(f"{ATOM}link")
                 if x.get("rel") == "prev-archive"]
        if not older:
            return subscription, archives
        path = older[0].removeprefix(BASE)
        assert path not in seen
        seen.add(path)


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
@pytest.mark.parametrize("folder", ["", "tags/even/"])
def test_walking_the_archives_reaches_every_article_exactly_once(
        make_site: SiteFactory, clock, name: str, folder: str) -> None:
    root = history_site(make_site, 10)
    publish.build(settings_of(root), clock)
    subscription, archives = walk(root / "public", folder + name)
    numbers = [n for n in range(10, 0, -1) if not folder or n % 2 == 0]
    everything = [f"Story {n}" for n in numbers]
    assert subscription == everything[:3]
    assert sorted(t for titles in archives for t in titles) == sorted(everything)
    assert all(len(titles) == 3 for titles in archives[1:])  # all full but the newest


def test_json_feed_pages_chain_from_the_newest_with_next_url(make_site: SiteFactory,
                                                             clock) -> None:
    root = history_site(make_site, 10)
    publish.build(settings_of(root), clock)
    url, seen, pages = BASE + "feed.json", [], []
    while url:
        feed = json.loads((root / "public" / url.removeprefix(BASE)).read_text("utf-8"))
        validate_feed_rules(feed, url, seen)
        pages.append([item["title"] for item in feed["items"]])
        seen.append(url)
        url = feed.get("next_url")
    assert pages == [["Story 10", "Story 9", "Story 8"], ["Story 10"],
                     ["Story 9", "Story 8", "Story 7"], ["Story 6", "Story 5", "Story 4"],
                     ["Story 3", "Story 2", "Story 1"]]


def validate_feed_rules(feed: dict, url: str, seen: list[str]) -> None:
    """JSON Feed 1.1 on pages: next_url is neither the feed's url nor one seen before."""
    from tests.jsonfeed import validate_json_feed

    assert feed["feed_url"] == BASE + "feed.json"
    assert feed.get("next_url") not in (feed["feed_url"], *seen)
    validate_json_feed(feed)


def test_a_full_archive_never_changes_as_new_articles_arrive(make_site: SiteFactory,
                                                             clock) -> None:
    root = history_site(make_site, 6)  # two full archives and an empty one
    publish.build(settings_of(root), clock)
    full = {p: (root / "public" / p).read_bytes() for p in
            (f"archive/{n}/{name}" for n in (1, 2) for name in ("rss.xml", "atom.xml",
                                                               "feed.json"))}
    (root / "content/s07.md").write_text(article("Story 7", "2026-10-07 08:00"))
    report = publish.build(settings_of(root), clock)
    assert {p: (root / "public" / p).read_bytes() for p in full} == full
    assert not set(full) & set(report.written)
    assert [e.title for e in parse(root / "public/archive/3/atom.xml").entries] == ["Story 7"]
    links = [(x.get("rel"), x.get("href")) for x in etree.parse(
        str(root / "public/archive/2/atom.xml")).getroot().findall(f"{ATOM}link")]
    assert links == [("alternate", BASE), ("self", BASE + "archive/2/atom.xml"),
                     ("current", BASE + "atom.xml"), ("prev-archive", BASE + "archive/1/atom.xml"),
                     ("next-archive", BASE + "archive/3/atom.xml")]


def test_a_feed_that_holds_everything_says_it_is_complete_and_has_no_archive(
        built: Path) -> None:
    channel = etree.parse(str(built / "rss.xml")).getroot().find("channel")
    assert channel.find(f"{HISTORY}complete") is not None
    assert not (built / "archive").exists()
    assert "next_url" not in json.loads((built / "feed.json").read_text("utf-8"))


def test_websub_hubs_hear_of_subscription_feeds_only(make_site: SiteFactory, clock) -> None:
    root = history_site(make_site, 6)
    report = publish.build(settings_of(root), clock)
    assert "archive/1/atom.xml" in report.written
    assert not [p for p in report.changed_feeds if "archive/" in p]
