"""Atom 1.0, written by feedgen, with the entry links it breaks repaired."""

from __future__ import annotations

from collections.abc import Sequence

from feedgen.feed import FeedGenerator
from lxml import etree

from publisher.build.feeds import FeedSpec
from publisher.build.feeds.feedgen_quirks import ATOM_NS, generate, with_stylesheet
from publisher.models import Article, Site

FILE = "atom.xml"


def render(site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
    data = generate(site, articles, spec, FILE, _write)
    return with_stylesheet(_repair_links(data), site, spec)


def _write(fg: FeedGenerator) -> bytes:
    data: bytes = fg.atom_str(pretty=True)
    return data


def _repair_links(data: bytes) -> bytes:
    """feedgen drops `rel` and `type` from entry links (its issue #135); put them back."""
    root = etree.fromstring(data)
    for link in root.iterfind(f"{{{ATOM_NS}}}entry/{{{ATOM_NS}}}link"):
        if link.get("rel") is None:
            link.set("rel", "alternate")
            link.set("type", "text/html")
    written: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                    pretty_print=True)
    return written
