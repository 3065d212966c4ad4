"""Articles to RSS 2.0, Atom 1.0 and JSON Feed 1.1 bytes.

The only module that imports feedgen, and the one that knows its quirks:
entries are appended (not prepended), every date comes from the data (never
"now", so an unchanged site gives the same bytes), the RSS channel link is the
last link added, Atom entry links lose `rel` and `type` (feedgen issue #135)
and are repaired here, and date formatting switches the process locale, so
feed generation is serialised by a lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from lxml import etree

from publisher.models import Article, OutputFile, Site

RSS_NAME, ATOM_NAME, JSON_NAME = "rss.xml", "atom.xml", "feed.json"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=UTC)  # a fixed date keeps empty feeds stable
ATOM_NS = "http://www.w3.org/2005/Atom"
_feedgen_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One set of feeds: the site's own, or one tag's."""

    title: str
    description: str
    folder: str  # "" for the site feeds, "tags/<slug>/" for a tag
    home_path: str  # the HTML page these feeds mirror, relative to base_url
    full_content: bool = True
    stylesheet: str | None = None  # path of an XSL stylesheet, relative to base_url


def render_feeds(site: Site, articles: Sequence[Article], spec: FeedSpec) -> list[OutputFile]:
    """The three feeds of one `spec`; `articles` newest first, already limited."""
    return [
        OutputFile(spec.folder + RSS_NAME, render_rss(site, articles, spec)),
        OutputFile(spec.folder + ATOM_NAME, render_atom(site, articles, spec)),
        OutputFile(spec.folder + JSON_NAME, render_json_feed(site, articles, spec)),
    ]


def last_updated(articles: Sequence[Article]) -> datetime:
    return max((a.updated for a in articles), default=EMPTY_FEED_DATE)


def render_rss(site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
    with _feedgen_lock:
        fg = _generator(site, articles, spec, RSS_NAME)
        data = fg.rss_str(pretty=True)
    return _with_stylesheet(_add_rss_hubs(data, site.hubs), site, spec)


def render_atom(site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
    with _feedgen_lock:
        fg = _generator(site, articles, spec, ATOM_NAME)
        data = fg.atom_str(pretty=True)
    return _with_stylesheet(_repair_atom_links(data), site, spec)


def _generator(site: Site, articles: Sequence[Article], spec: FeedSpec, name: str
               ) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    self_url = site.url_for(spec.folder + name)
    fg.id(self_url)
    fg.title(spec.title)
    fg.description(spec.description or spec.title)
    fg.language(site.language)
    fg.author(_person(site.author.name, site.author.email, site.author.url))
    fg.generator("publisher")
    for hub in site.hubs:
        fg.link(href=hub, rel="hub")
    fg.link(href=self_url, rel="self", type=_media_type(name))
    fg.link(href=site.url_for(spec.home_path), rel="alternate", type="text/html")  # RSS: last wins
    updated = last_updated(articles)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    for article in articles:
        _add_entry(fg, site, article, spec.full_content)
    return fg


def _add_entry(fg: FeedGenerator, site: Site, article: Article, full: bool) -> None:
    entry = fg.add_entry(order="append")
    entry.id(article.id)
    entry.guid(article.id, permalink=article.id == article.url)
    entry.title(article.title)
    entry.link(href=article.url, rel="alternate", type="text/html")
    entry.published(article.date)
    entry.updated(article.updated)
    author = article.author or site.author
    entry.author(_person(author.name, author.email, author.url))
    entry.dc.dc_creator(author.name)
    for tag in article.tags:
        entry.category(term=tag.name)
    if article.summary_html:
        entry.summary(article.summary_html, type="html")
    if full:
        entry.content(article.content_html, type="html")


def _person(name: str, email: str | None, url: str | None) -> dict[str, str]:
    person = {"name": name}
    if email:
        person["email"] = email
    if url:
        person["uri"] = url
    return person


def _repair_atom_links(data: bytes) -> bytes:
    """feedgen drops `rel` and `type` from entry links; put them back."""
    root = etree.fromstring(data)
    for link in root.iterfind(f"{{{ATOM_NS}}}entry/{{{ATOM_NS}}}link"):
        if link.get("rel") is None:
            link.set("rel", "alternate")
            link.set("type", "text/html")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _add_rss_hubs(data: bytes, hubs: Sequence[str]) -> bytes:
    """feedgen writes only the self link as `atom:link` in RSS; WebSub needs `rel="hub"` too."""
    if not hubs:
        return data
    root = etree.fromstring(data)
    channel = root.find("channel")
    self_link = channel.find(f"{{{ATOM_NS}}}link")
    position = list(channel).index(self_link) + 1 if self_link is not None else 0
    for offset, hub in enumerate(hubs):
        link = etree.Element(f"{{{ATOM_NS}}}link", href=hub, rel="hub")
        channel.insert(position + offset, link)
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _with_stylesheet(data: bytes, site: Site, spec: FeedSpec) -> bytes:
    if not spec.stylesheet:
        return data
    declaration, _, rest = data.partition(b"?>")
    # Browsers apply XSL only from the feed's own origin: a path, not a full URL, keeps
    # it working wherever the folder is served (a CDN, `publisher serve`, a preview).
    path = urlsplit(site.url_for(spec.stylesheet)).path
    href = path.replace("&", "&amp;").replace('"', "&quot;")
    instruction = f'\n<?xml-stylesheet type="text/xsl" href="{href}"?>'.encode()
    return declaration + b"?>" + instruction + rest


def render_json_feed(site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), written by hand."""
    feed: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": spec.title,
        "home_page_url": site.url_for(spec.home_path),
        "feed_url": site.url_for(spec.folder + JSON_NAME),
        "description": spec.description or spec.title,
        "language": site.language,
        "authors": [_json_author(site.author.name, site.author.url)],
    }
    if site.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in site.hubs]
    feed["items"] = [_json_item(site, a, spec.full_content) for a in articles]
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode()


def _json_item(site: Site, article: Article, full: bool) -> dict[str, object]:
    author = article.author or site.author
    item: dict[str, object] = {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "content_html": article.content_html if full else article.summary_html,
        "summary": article.summary_text,
        "date_published": article.date.isoformat(),
        "date_modified": article.updated.isoformat(),
        "authors": [_json_author(author.name, author.url)],
    }
    if article.image:
        item["image"] = article.image
    if article.tags:
        item["tags"] = [tag.name for tag in article.tags]
    return item


def _json_author(name: str, url: str | None) -> dict[str, str]:
    return {"name": name, "url": url} if url else {"name": name}


def _media_type(name: str) -> str:
    return {
        RSS_NAME: "application/rss+xml",
        ATOM_NAME: "application/atom+xml",
        JSON_NAME: "application/feed+json",
    }[name]
