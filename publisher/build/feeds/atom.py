"""Atom 1.0, written by feedgen, with the entry links it breaks repaired."""

from __future__ import annotations

from collections.abc import Sequence

from feedgen.feed import FeedGenerator
from lxml import etree

from publisher.build.feeds import FeedSpec, memo
from publisher.build.feeds.feedgen_quirks import ATOM_NS, Layout, document
from publisher.models import Article, Site

FILE = "atom.xml"


LAYOUT = Layout(b"entry", b"\n  ")  # feed > entry


def render(site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
    return document(site, articles, spec, FILE, _write, _polish, LAYOUT,
                    memo.of_thread(__name__))


def _polish(root: etree._Element) -> etree._Element:
    _repair_links(root)
    _subtitle_after_title(root)
    return root


def _write(fg: FeedGenerator) -> bytes:
    data: bytes = fg.atom_str(pretty=True)
    return data


def _subtitle_after_title(root: etree._Element) -> None:
    """feedgen writes the subtitle last; read as a page (feed.css), it belongs under the title."""
    title, subtitle = root.find(f"{{{ATOM_NS}}}title"), root.find(f"{{{ATOM_NS}}}subtitle")
    if title is not None and subtitle is not None:
        title.addnext(subtitle)


def _repair_links(root: etree._Element) -> None:
    """feedgen drops `rel` and `type` from entry links (its issue #135); put them back."""
    for link in root.iterfind(f"{{{ATOM_NS}}}entry/{{{ATOM_NS}}}link"):
        if link.get("rel") is None:
            link.set("rel", "alternate")
            link.set("type", "text/html")
