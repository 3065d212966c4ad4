"""Feeds: one registry of formats that the build, the archive's links and the service read.

Each format is a file name, a media type and the module that renders it; adding
a format is one module with `render(site, articles, spec) -> bytes` and one
line in `FORMATS`. The renderers are imported when a feed is rendered, so
reading the registry (the web service does, for content types) costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from publisher.models import Article, OutputFile, Site

EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=UTC)  # a fixed date keeps empty feeds stable


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One set of feeds: the site's own, or one tag's."""

    title: str
    description: str
    folder: str  # "" for the site feeds, "tags/<slug>/" for a tag
    home_path: str  # the HTML page these feeds mirror, relative to base_url
    full_content: bool = True
    stylesheet: str | None = None  # path of the CSS that shows the feed as a page in a browser
    page: str = ""  # "" for the subscription document, "archive/<n>/" for an archive (RFC 5005)
    # The other documents of this feed, as (link relation, page): "prev-archive",
    # "next-archive", "current"; each format links to its own file in that page.
    links: tuple[tuple[str, str], ...] = ()
    complete: bool = False  # the subscription document holds every article (RFC 5005, 2)
    empty_date: datetime = EMPTY_FEED_DATE  # `updated` when it holds no article

    @property
    def archived(self) -> bool:
        """An archive document: it carries `fh:archive` and never changes once full."""
        return self.page != ""

    def path(self, file: str) -> str:
        """Where this document's `file` goes, relative to base_url."""
        return self.folder + self.page + file

    def link_paths(self, file: str) -> list[tuple[str, str]]:
        """(relation, path of the same format's file) of each related document."""
        return [(rel, self.folder + page + file) for rel, page in self.links]


class Renderer(Protocol):
    def render(self, site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes: ...


@dataclass(frozen=True, slots=True)
class FeedFormat:
    label: str  # "RSS": how links and pages name it
    file: str  # "rss.xml": its name in each feed folder
    media_type: str  # "application/rss+xml"
    module: str  # the module of this package whose `render` writes it

    def render(self, site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
        renderer: Renderer = importlib.import_module(f"{__name__}.{self.module}")
        return renderer.render(site, articles, spec)

    @property
    def is_xml(self) -> bool:
        return self.media_type.endswith("+xml")


FORMATS = (
    FeedFormat("RSS", "rss.xml", "application/rss+xml", "rss"),
    FeedFormat("Atom", "atom.xml", "application/atom+xml", "atom"),
    FeedFormat("JSON Feed", "feed.json", "application/feed+json", "json_feed"),
)
FILE_NAMES = frozenset(f.file for f in FORMATS)


def render_feeds(site: Site, articles: Sequence[Article], spec: FeedSpec) -> list[OutputFile]:
    """Every format of one `spec`; `articles` newest first, already limited."""
    return [OutputFile(spec.path(f.file), f.render(site, articles, spec)) for f in FORMATS]


def feed_paths(folder: str) -> list[str]:
    """The files a feed folder holds ("" for the site's, "tags/<slug>/" for a tag's, or an
    archive's folder below either)."""
    return [folder + f.file for f in FORMATS]


def is_feed(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in FILE_NAMES


def format_of(name: str) -> FeedFormat | None:
    """The format a file name belongs to, if it is a feed's."""
    return next((f for f in FORMATS if f.file == name), None)


def last_updated(articles: Sequence[Article], default: datetime = EMPTY_FEED_DATE) -> datetime:
    return max((a.updated for a in articles), default=default)
