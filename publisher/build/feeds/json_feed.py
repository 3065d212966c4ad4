"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), written by hand: no library needed."""

from __future__ import annotations

import json
from collections.abc import Sequence

from publisher.build.feeds import FeedSpec
from publisher.models import Article, Site

FILE = "feed.json"
VERSION = "https://jsonfeed.org/version/1.1"


def render(site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
    feed: dict[str, object] = {
        "version": VERSION,
        "title": spec.title,
        "home_page_url": site.url_for(spec.home_path),
        "feed_url": site.url_for(spec.folder + FILE),
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
