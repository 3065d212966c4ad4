"""What crawlers look for: `sitemap.xml` (every page, with the date an article last changed)
and `robots.txt` (which points to it).

Both are planned from the archive's own list of pages, so a page the build adds
is listed without a second list to keep in step. `robots.txt` only counts at
the root of a host; for a site under a path it is written all the same (it
does no harm) and the sitemap is what matters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from html import escape
from urllib.parse import urlsplit

from publisher.models import Article, OutputFile, Site

SITEMAP = "sitemap.xml"
ROBOTS = "robots.txt"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NOT_LISTED = ("404.html",)
SERVICE_PATHS = ("confirm", "unsubscribe", "preferences")  # pages behind links with tokens


def sitemap(site: Site, paths: Sequence[str], articles: Sequence[Article]) -> OutputFile:
    """Every HTML page of the archive by its canonical URL; articles with `lastmod`."""
    changed: dict[str, datetime] = {a.path + "index.html": a.updated for a in articles}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{SITEMAP_NS}">']
    for path in sorted(p for p in paths if p.endswith(".html") and p not in NOT_LISTED):
        location = site.url_for(path.removesuffix("index.html"))
        lastmod = changed.get(path)
        extra = f"<lastmod>{lastmod.isoformat()}</lastmod>" if lastmod else ""
        lines.append(f"  <url><loc>{escape(location, quote=False)}</loc>{extra}</url>")
    lines.append("</urlset>\n")
    return OutputFile(SITEMAP, "\n".join(lines).encode())


def robots(site: Site) -> OutputFile:
    path = urlsplit(site.base_url).path
    rules = "".join(f"Disallow: {path}{name}\n" for name in SERVICE_PATHS)
    text = f"User-agent: *\n{rules}\nSitemap: {site.url_for(SITEMAP)}\n"
    return OutputFile(ROBOTS, text.encode())


def fingerprint(*files: OutputFile) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.path.encode() + b"\0" + file.data + b"\0")
    return digest.hexdigest()
