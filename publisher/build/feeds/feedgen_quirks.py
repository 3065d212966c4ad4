"""feedgen, and its quirks, in one place: the generator RSS and Atom share.

The only module that imports feedgen. Entries are appended (not prepended),
every date comes from the data (never "now", so an unchanged site gives the
same bytes), the RSS channel link is the last link added, Atom entry links lose
`rel` and `type` (feedgen issue #135) and are repaired by `atom`, an entry's
categories are given in one call (each call rebuilds the whole list, so one
call per tag is quadratic in the tags), and date formatting switches the
process locale, so generation is serialised by a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

from publisher.build.feeds import FeedSpec, format_of, last_updated
from publisher.models import Article, Site

ATOM_NS = "http://www.w3.org/2005/Atom"
_feedgen_lock = threading.Lock()


def generate(site: Site, articles: Sequence[Article], spec: FeedSpec, name: str,
             write: Callable[[FeedGenerator], bytes]) -> bytes:
    """The feed `name` of `spec`, written by `write` (rss_str or atom_str) under the lock."""
    with _feedgen_lock:
        return write(_generator(site, articles, spec, name))


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
    own = format_of(name)
    assert own is not None, name
    fg.link(href=self_url, rel="self", type=own.media_type)
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
    if article.tags:  # in one call: feedgen rebuilds its whole list of categories on each
        entry.category([{"term": tag.name} for tag in article.tags])
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


def with_stylesheet(data: bytes, site: Site, spec: FeedSpec) -> bytes:
    """Add the `xml-stylesheet` instruction that shows the feed as a page in a browser."""
    if not spec.stylesheet:
        return data
    declaration, _, rest = data.partition(b"?>")
    # Browsers apply XSL only from the feed's own origin: a path, not a full URL, keeps
    # it working wherever the folder is served (a CDN, `publisher serve`, a preview).
    path = urlsplit(site.url_for(spec.stylesheet)).path
    href = path.replace("&", "&amp;").replace('"', "&quot;")
    instruction = f'\n<?xml-stylesheet type="text/xsl" href="{href}"?>'.encode()
    return declaration + b"?>" + instruction + rest
