"""What each published file is and how long it may be cached: one rule for every server.

`publisher serve` answers with these headers, and `publisher deploy` stores them
with each object, so a site served by either looks the same to browsers and
feed readers. Feed types come from the feed registry.
"""

from __future__ import annotations

import os
import re

from publisher.build.feeds import FORMATS

HTML_TYPE = "text/html; charset=utf-8"

SHORT_CACHE = "public, max-age=300"  # pages and feeds: a new article shows within minutes
LONG_CACHE = "public, max-age=86400"  # stylesheets, images, fonts
DEFAULT_CACHE = "public, max-age=3600"
NOT_FOUND_CACHE = "no-cache"

# A browser shows an RSS or Atom file as plain text (or downloads it) and ignores
# its XSL stylesheet; sent as generic XML it applies the stylesheet and shows a
# readable page. Feed readers do not ask for HTML, so they still get the feed type.
BROWSER_FEED_TYPE = b"application/xml; charset=utf-8"
XML_FEEDS = tuple(f.media_type for f in FORMATS if f.is_xml)
_BY_NAME = {f.file: f"{f.media_type}; charset=utf-8" for f in FORMATS}
_BY_SUFFIX = {
    ".html": HTML_TYPE, ".htm": HTML_TYPE, ".css": "text/css; charset=utf-8",
    ".xsl": "text/xsl; charset=utf-8", ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon",
    ".woff2": "font/woff2", ".woff": "font/woff", ".pdf": "application/pdf",
    ".mp3": "audio/mpeg", ".mp4": "video/mp4", ".webm": "video/webm",
}
_LONG_CACHE_SUFFIXES = {".css", ".xsl", ".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp",
                        ".avif", ".ico", ".woff2", ".woff"}
_SHORT_CACHE_SUFFIXES = {".html", ".htm", ".xml", ".json", ".txt"}
_COMPRESSIBLE = re.compile(r"^(text/|image/svg\+xml|application/(\S+\+)?(xml|json)|"
                           r"application/javascript)")


def content_type(name: str) -> str:
    """The media type of a published file, by its name."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    suffix = os.path.splitext(name)[1].lower()
    return _BY_SUFFIX.get(suffix, "application/octet-stream")


def cache_control(name: str) -> str:
    """Short for pages and feeds (a new article shows within minutes), long for assets."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in _SHORT_CACHE_SUFFIXES:
        return SHORT_CACHE
    return LONG_CACHE if suffix in _LONG_CACHE_SUFFIXES else DEFAULT_CACHE


def compressible(media_type: str) -> bool:
    return _COMPRESSIBLE.match(media_type) is not None
