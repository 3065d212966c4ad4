"""RSS 2.0, written by feedgen, with the `atom:link`s it leaves out and its channel link set."""

from __future__ import annotations

from collections.abc import Sequence

from feedgen.feed import FeedGenerator
from lxml import etree

from publisher.build.feeds import FeedSpec, format_of, memo
from publisher.build.feeds.feedgen_quirks import ATOM_NS, Layout, document
from publisher.models import Article, Site

FILE = "rss.xml"


LAYOUT = Layout(b"item", b"\n    ")  # rss > channel > item


def render(site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
    def polish(root: etree._Element) -> etree._Element:
        channel = _channel(root)
        channel.find("link").text = site.url_for(spec.home_path)  # feedgen took the last link
        _add_links(channel, site, spec)
        return channel

    return document(site, articles, spec, FILE, _write, polish, LAYOUT, memo.of_thread(__name__))


def _channel(root: etree._Element) -> etree._Element:
    channel = root.find("channel")
    assert channel is not None  # feedgen always writes one
    return channel


def _write(fg: FeedGenerator) -> bytes:
    data: bytes = fg.rss_str(pretty=False)
    return data


def _add_links(channel: etree._Element, site: Site, spec: FeedSpec) -> None:
    """feedgen writes only the self link as `atom:link` in RSS; hubs (WebSub) and the
    archive links (RFC 5005, Appendix B) follow it."""
    own = format_of(FILE)
    assert own is not None
    self_link = channel.find(f"{{{ATOM_NS}}}link")
    position = list(channel).index(self_link) + 1 if self_link is not None else 0
    links = [{"href": hub, "rel": "hub"} for hub in site.hubs]
    links += [{"href": site.url_for(path), "rel": rel, "type": own.media_type}
              for rel, path in spec.link_paths(FILE)]
    for offset, attributes in enumerate(links):
        channel.insert(position + offset, etree.Element(f"{{{ATOM_NS}}}link", attributes))
