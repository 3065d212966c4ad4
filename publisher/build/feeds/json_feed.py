"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), written by hand: no library needed."""

from __future__ import annotations

import json
from collections.abc import Sequence

from publisher.build.feeds import FeedSpec, memo
from publisher.models import Article, Site
from publisher.text import plain_title

FILE = "feed.json"
VERSION = "https://jsonfeed.org/version/1.1"
ICON = "icon.png"  # 512 px, as the spec asks
FAVICON = "icon-64.png"
ITEM_INDENT = "    "  # an item's lines, two levels in


def render(site: Site, articles: Sequence[Article], spec: FeedSpec) -> bytes:
    """The feed, or one of its archive pages: `next_url` leads to the next older page."""
    feed: dict[str, object] = {
        "version": VERSION,
        "title": plain_title(spec.title),
        "home_page_url": site.url_for(spec.home_path),
        "feed_url": site.url_for(spec.folder + FILE),  # the feed's identity, on every page
        "description": spec.description or spec.title,
        "icon": site.url_for(ICON),
        "favicon": site.url_for(FAVICON),
        "language": site.language,
        "authors": [_json_author(site.author.name, site.author.url)],
    }
    older = dict(spec.link_paths(FILE)).get("prev-archive")
    if older is not None:
        feed["next_url"] = site.url_for(older)
    if site.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in site.hubs]
    items = memo.of_thread(__name__)
    encoded = []
    for article in articles:
        key = memo.entry_key(site, article, spec.full_content)
        if (text := items.get(key)) is None:
            text = json.dumps(_json_item(site, article, spec.full_content), ensure_ascii=False,
                              indent=2).replace("\n", "\n" + ITEM_INDENT)
            items.put(key, text)
        encoded.append(text)
    return (with_items(json.dumps(feed, ensure_ascii=False, indent=2), encoded) + "\n").encode()


def with_items(head: str, items: Sequence[str]) -> str:
    """`head` (an object written with indent=2) with an `items` list of encoded items added
    last, exactly as `json.dumps` would write the whole: each item is encoded once however
    many documents hold it."""
    assert head.endswith("\n}"), head
    if not items:
        return head[:-2] + ',\n  "items": []\n}'
    body = (",\n" + ITEM_INDENT).join(items)
    return head[:-2] + ',\n  "items": [\n' + ITEM_INDENT + body + "\n  ]\n}"


def _json_item(site: Site, article: Article, full: bool) -> dict[str, object]:
    author = article.author or site.author
    item: dict[str, object] = {
        "id": article.id,
        "url": article.url,
        "title": plain_title(article.title),
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
