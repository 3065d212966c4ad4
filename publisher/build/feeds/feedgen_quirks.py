"""feedgen, and its quirks, in one place: the generator RSS and Atom share.

The only module that imports feedgen. Entries are appended (not prepended),
every date comes from the data (never "now", so an unchanged site gives the
same bytes), the RSS channel link is the last link added, Atom entry links lose
`rel` and `type` (feedgen issue #135) and are repaired by `atom`, an entry's
categories are given in one call (each call rebuilds the whole list, so one
call per tag is quadratic in the tags), and date formatting switches the
process locale, so generation is serialised by a lock.

What validators and readers ask of both formats is decided here too: people are
named without their address (an RSS item carries `dc:creator` only, never
`author` beside it), titles are plain text, the site's icon is the feed's, and
an archive document (RFC 5005) says so with `fh:archive`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from lxml import etree

from publisher.build.feeds import FeedSpec, format_of, last_updated
from publisher.build.feeds.memo import Memo, entry_key
from publisher.models import Article, Site
from publisher.text import plain_title

ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
ICON = "icon.png"  # square, 512 px: the Atom icon
RSS_IMAGE = ("icon-144.png", 144)  # RSS allows at most 144 px of width; also the Atom logo
_feedgen_lock = threading.Lock()


def generate(site: Site, articles: Sequence[Article], spec: FeedSpec, name: str,
             write: Callable[[FeedGenerator], bytes],
             entries: Sequence[Article] | None = None) -> bytes:
    """The feed `name` of `spec`, written by `write` (rss_str or atom_str) under the lock;
    dated by `articles`, with an entry for each of `entries` (by default, the same)."""
    with _feedgen_lock:
        return write(_generator(site, articles, spec, name,
                                articles if entries is None else entries))


@dataclass(frozen=True, slots=True)
class Layout:
    """How a format's entries sit in its written document: the entry's tag, and the
    line break and indentation between two entries (they are the container's last
    children, so its closing tag follows the last one)."""

    tag: bytes  # b"item", b"entry"
    between: bytes  # b"\n    ": the indentation of an entry at its depth

    @property
    def opening(self) -> bytes:
        return b"<" + self.tag + b">"

    @property
    def closing(self) -> bytes:
        return b"</" + self.tag + b">"


Written = tuple[bytes, frozenset[str]]  # an entry's bytes, and the namespace prefixes it uses


def document(site: Site, articles: Sequence[Article], spec: FeedSpec, name: str,
             write: Callable[[FeedGenerator], bytes],
             polish: Callable[[etree._Element], etree._Element], layout: Layout,
             memo: Memo[Written]) -> bytes:
    """The written feed `name` of `spec`, each entry's bytes written once per thread.

    feedgen writes the document with only the entries `memo` lacks (at least one,
    for the place entries go); `polish` makes its format's repairs and returns the
    element that holds the entries; the document is finished and written, and its
    entries are cut out at their tags (text inside an entry is escaped, so its tag
    cannot occur in it) and kept in `memo`. Every entry is then put in its place,
    newest first, between the same head and tail: an entry's bytes depend only on
    its article, never on the document around it. The head declares the namespaces
    that any of the document's entries uses, as it would if all were written in it.
    """
    keys = [entry_key(site, a, spec.full_content) for a in articles]
    known: dict[Hashable, Written] = {}
    missing: dict[Hashable, Article] = {}
    for key, article in zip(keys, articles, strict=True):
        if key not in known and key not in missing:
            if (kept := memo.get(key)) is not None:
                known[key] = kept
            else:
                missing[key] = article
    made = list(missing.values()) or list(articles[:1])  # one entry marks where they go
    root = etree.fromstring(generate(site, articles, spec, name, write, made))
    container = polish(root)
    written = [_prefixes(e) for e in list(container)[len(container) - len(made):]]
    used = frozenset().union(*(prefixes for _, prefixes in known.values()))
    data = finish(root, container, spec, site, keep_prefixes=used)
    if not articles:
        return data
    head, entries, tail = _cut(data, layout, len(made))
    if missing:  # (else the one entry written is already known)
        for key, entry, prefixes in zip(missing, entries, written, strict=True):
            memo.put(key, (entry, prefixes))
            known[key] = (entry, prefixes)
    return head + layout.between.join(known[key][0] for key in keys) + tail


def _prefixes(entry: etree._Element) -> frozenset[str]:
    """The namespace prefixes an entry's elements and attributes are written with."""
    found = set()
    for element in entry.iter(tag=etree.Element):
        if element.prefix:
            found.add(element.prefix)
        for attribute in element.attrib:
            if attribute.startswith("{"):
                uri = attribute[1:].partition("}")[0]
                found.update(p for p, u in element.nsmap.items() if p and u == uri)
    return frozenset(found)


def _cut(data: bytes, layout: Layout, count: int) -> tuple[bytes, list[bytes], bytes]:
    """The bytes before the first entry, each entry's, and the bytes after the last."""
    start = data.index(layout.opening)
    end = data.rindex(layout.closing) + len(layout.closing)
    entries = data[start:end].split(layout.closing + layout.between + layout.opening)
    if len(entries) != count:
        raise AssertionError(f"{count} entries written, {len(entries)} found")
    if count > 1:
        entries = [entries[0] + layout.closing,
                   *(layout.opening + e + layout.closing for e in entries[1:-1]),
                   layout.opening + entries[-1]]
    return data[:start], entries, data[end:]


def _generator(site: Site, articles: Sequence[Article], spec: FeedSpec, name: str,
               entries: Sequence[Article]) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.id(site.url_for(spec.folder + name))  # one id for the feed and all its archives
    fg.title(plain_title(spec.title))
    fg.description(spec.description or spec.title)
    fg.language(site.language)
    fg.author(_person(site.author.name, site.author.url))
    fg.generator("publisher")
    image, size = RSS_IMAGE
    fg.image(site.url_for(image), title=plain_title(spec.title), link=site.url_for(spec.home_path),
             width=str(size), height=str(size))  # the RSS image and the Atom logo
    fg.icon(site.url_for(ICON))
    own = format_of(name)
    assert own is not None, name
    # Atom readers take the first link as the site's, so "alternate" goes first; feedgen
    # makes the last link added the RSS channel's <link>, which `rss` puts right again.
    fg.link(href=site.url_for(spec.home_path), rel="alternate", type="text/html")
    fg.link(href=site.url_for(spec.path(name)), rel="self", type=own.media_type)
    for hub in site.hubs:
        fg.link(href=hub, rel="hub")
    for rel, path in spec.link_paths(name):
        fg.link(href=site.url_for(path), rel=rel, type=own.media_type)
    updated = last_updated(articles, spec.empty_date)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    for article in entries:
        _add_entry(fg, site, article, spec.full_content)
    return fg


def _add_entry(fg: FeedGenerator, site: Site, article: Article, full: bool) -> None:
    entry = fg.add_entry(order="append")
    entry.id(article.id)
    entry.guid(article.id, permalink=article.id == article.url)
    entry.title(plain_title(article.title))
    entry.link(href=article.url, rel="alternate", type="text/html")
    entry.published(article.date)
    entry.updated(article.updated)
    author = article.author or site.author
    entry.author(_person(author.name, author.url))  # no address: RSS then writes no <author>
    entry.dc.dc_creator(author.name)
    if article.tags:  # in one call: feedgen rebuilds its whole list of categories on each
        entry.category([{"term": tag.name} for tag in article.tags])
    if article.summary_html:
        entry.summary(article.summary_html, type="html")
    if full:
        entry.content(article.content_html, type="html")


def _person(name: str, url: str | None) -> dict[str, str]:
    """A person as feeds name them: never with an email address, which harvesters collect."""
    return {"name": name, "uri": url} if url else {"name": name}


def finish(root: etree._Element, container: etree._Element, spec: FeedSpec, site: Site,
           keep_prefixes: frozenset[str] = frozenset()) -> bytes:
    """Mark an archive (or a complete) document, then write it with the stylesheet instruction.

    Its unused namespace declarations are dropped, but for `keep_prefixes`: those of
    entries that are put in after."""
    if spec.archived or spec.complete:
        marker = "archive" if spec.archived else "complete"
        container.insert(0, etree.Element(f"{{{HISTORY_NS}}}{marker}"))
        etree.cleanup_namespaces(root, top_nsmap={"fh": HISTORY_NS},
                                 keep_ns_prefixes=sorted(keep_prefixes))
    etree.indent(root)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                 pretty_print=True)
    return with_stylesheet(data, site, spec)


def with_stylesheet(data: bytes, site: Site, spec: FeedSpec) -> bytes:
    """Add the `xml-stylesheet` instruction that shows the feed as a page in a browser.

    A CSS stylesheet, not XSLT: browsers style any XML document with CSS, and are
    removing XSLT. The path, not a full URL, keeps it working wherever the folder is
    served (a CDN, `publisher serve`, a preview), since a browser applies a
    stylesheet only from the feed's own origin.
    """
    if not spec.stylesheet:
        return data
    declaration, _, rest = data.partition(b"?>")
    path = urlsplit(site.url_for(spec.stylesheet)).path
    href = path.replace("&", "&amp;").replace('"', "&quot;")
    instruction = f'\n<?xml-stylesheet type="text/css" href="{href}"?>'.encode()
    return declaration + b"?>" + instruction + rest
