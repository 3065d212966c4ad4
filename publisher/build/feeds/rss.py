"""RSS 2.0, written by feedgen, with the WebSub hub links it leaves out."""

from __future__ import annotations

from collections.abc import Sequence

from feedgen.feed import FeedGenerator
from lxml import etree

from publisher.build.feeds import FeedSpec
from publisher.build.feeds.feedgen_quirks import ATOM_NS, generate, with_stylesheet
from publisher.models import Article, Site

FILE = "rss.xml"


def render(site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
    data = generate(site, articles, spec, FILE, _write)
    return with_stylesheet(_add_hubs(data, site.hubs), site, spec)


def _write(fg: FeedGenerator) -> bytes:
    data: bytes = fg.rss_str(pretty=True)
    return data


def _add_hubs(data: bytes, hubs: Sequence[str]) -> bytes:
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
    written: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                    pretty_print=True)
    return written
