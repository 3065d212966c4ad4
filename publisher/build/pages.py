"""Articles to the static pages of the web archive.

Pages are planned before they are rendered: each planned page knows its path,
its template, what it shows, and a fingerprint of all of that made from short
strings only (article fingerprints, titles, paths, the templates' own hash). A
rebuild compares fingerprints and renders only the pages whose fingerprint
changed, so an unchanged archive of thousands of pages costs a few hashes.

Links between pages are relative, so the archive works under any base path and
from any server (the site's own, `publisher serve`, a preview); only the feed
links, which readers copy, are absolute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import jinja2

from publisher import theme
from publisher.build import crawlers
from publisher.build import page_html as sitehtml
from publisher.build.feeds import FORMATS
from publisher.errors import ContentError, OutputError, Problem, processing
from publisher.models import Article, OutputFile, Site, Tag, is_digest_id
from publisher.subscribers.zones import zone_names

SITE_FORMAT = "2"  # bump when this module or sitehtml.py changes what a page shows
PER_PAGE = 10
ASSETS = ("style.css", "feed.css")  # copied from the theme as they are


class DigestCopy(NamedTuple):
    """One sent digest, kept for its page on the site.

    `article_ids` (in the digest's order) make the page: a site page with the
    site's header and navigation around the articles the digest held. A copy saved
    without them (by an older version) is shown as the email's HTML, as it was.
    """

    digest_id: str
    title: str
    date: datetime
    web_html: str
    article_ids: tuple[str, ...] = ()


class FeedLink(NamedTuple):
    title: str  # "The Gazette (RSS)"
    type: str  # its media type
    href: str  # absolute: readers copy it
    format: str  # "RSS"


@dataclass(frozen=True, slots=True)
class TagGroup:
    tag: Tag
    articles: tuple[Article, ...]


@dataclass(frozen=True, slots=True)
class SiteOptions:
    """Everything about the site that every page may show."""

    site: Site
    service_url: str  # where the subscribe form posts, ending in "/"
    per_page: int = PER_PAGE
    tag_feeds: bool = True
    cadences: tuple[tuple[str, str], ...] = ()  # (name, label) of the digests readers choose


@dataclass(frozen=True, slots=True)
class Pagination:
    number: int
    total: int
    newer: str | None  # path of the page of newer articles, relative to the site root
    older: str | None


@dataclass(frozen=True, slots=True)
class Page:
    """One file of the archive: rendered from `template` with `context`, or `data` as given."""

    path: str
    fingerprint: str
    template: str = ""
    context: Mapping[str, Any] | None = None
    data: bytes | None = None


def environment(options: SiteOptions, site_templates: Path) -> jinja2.Environment:
    """The one Jinja environment of a build, with the site-wide values every page shows."""
    env = theme.environment(site_templates)
    env.filters.update(sitehtml.date_filters(options.site.timezone))
    env.filters["page_body"] = sitehtml.page_body
    env.globals["url"] = _relative_url
    env.globals.update(site=options.site, service_url=options.service_url,
                       site_feeds=feed_links(options.site, "", options.site.title))
    return env


def group_by_tag(articles: Sequence[Article]) -> list[TagGroup]:
    """Articles per tag (newest first), tags in alphabetical order of their slug."""
    groups: dict[str, list[Article]] = {}
    names: dict[str, Tag] = {}
    for article in articles:
        for tag in article.tags:
            groups.setdefault(tag.slug, []).append(article)
            names.setdefault(tag.slug, tag)
    return [TagGroup(names[slug], tuple(groups[slug])) for slug in sorted(groups)]


def feed_links(site: Site, folder: str, title: str) -> tuple[FeedLink, ...]:
    return tuple(FeedLink(f"{title} ({f.label})", f.media_type, site.url_for(folder + f.file),
                          f.label) for f in FORMATS)


def plan(options: SiteOptions, env: jinja2.Environment, published: Sequence[Article],
         digests: Sequence[DigestCopy] = ()) -> list[Page]:
    """Every page of the archive, fingerprinted, nothing rendered yet."""
    shared = _hash(SITE_FORMAT, theme.fingerprint(env, "site/"), repr(options))
    groups = group_by_tag(published)
    pages = [
        *listing_pages(options, shared, published, ""),
        *article_pages(shared, published),
        *(page for group in groups for page in tag_pages(options, shared, group)),
        tags_page(shared, groups),
        subscribe_page(shared, groups, options.cadences),
        *digest_pages(shared, digests, published),
        Page("404.html", _hash(shared, "404"), "site/404.html",
             {"root": urlsplit(options.site.base_url).path, "path": "404.html"}),
        *(Page(name, _hash(shared, name), data=asset_bytes(env, name)) for name in ASSETS),
    ]
    _check_unique(pages, published)
    listed = crawlers.sitemap(options.site, [p.path for p in pages], published)
    robots = crawlers.robots(options.site)
    return [*pages, *(Page(f.path, crawlers.fingerprint(f), data=f.data) for f in (listed, robots))]


def listing_pages(options: SiteOptions, shared: str, articles: Sequence[Article], folder: str,
                  tag: Tag | None = None, feeds: Sequence[FeedLink] = ()) -> Iterator[Page]:
    """`folder`index.html, then `folder`page/2/index.html, …: the articles, newest first."""
    size = options.per_page
    total = max(1, -(-len(articles) // size))
    for number in range(1, total + 1):
        chunk = articles[(number - 1) * size:number * size]
        pagination = Pagination(number, total, _page_folder(folder, number - 1),
                                _page_folder(folder, number + 1) if number < total else None)
        path = _page_folder(folder, number) or ""
        context = {"root": _root(path), "path": path, "articles": chunk, "tag": tag,
                   "pagination": pagination, "feeds": feeds}
        fingerprint = _hash(shared, "list", path, str(total), tag.name if tag else "",
                            *(a.fingerprint for a in chunk))
        yield Page(path + "index.html", fingerprint,
                   "site/tag.html" if tag else "site/index.html", context)


def article_pages(shared: str, published: Sequence[Article]) -> Iterator[Page]:
    """One page per article, with links to the older (Previous) and newer (Next) one."""
    for index, article in enumerate(published):
        newer = published[index - 1] if index > 0 else None
        older = published[index + 1] if index + 1 < len(published) else None
        fingerprint = _hash(shared, "article", article.fingerprint,
                            *_neighbour(older), *_neighbour(newer))
        context = {"root": _root(article.path), "path": article.path, "article": article,
                   "previous": older, "next": newer}
        yield Page(article.path + "index.html", fingerprint, "site/article.html", context)


def tag_pages(options: SiteOptions, shared: str, group: TagGroup) -> Iterator[Page]:
    folder = f"tags/{group.tag.slug}/"
    title = f"{options.site.title}: {group.tag.name}"
    feeds = feed_links(options.site, folder, title) if options.tag_feeds else ()
    return listing_pages(options, shared, group.articles, folder, group.tag, feeds)


def tags_page(shared: str, groups: Sequence[TagGroup]) -> Page:
    counts = [(g.tag, len(g.articles)) for g in groups]
    fingerprint = _hash(shared, "tags", *(f"{t.slug}\0{t.name}\0{n}" for t, n in counts))
    return Page("tags/index.html", fingerprint, "site/tags.html",
                {"root": "../", "path": "tags/", "tags": counts})


def subscribe_page(shared: str, groups: Sequence[TagGroup],
                   cadences: Sequence[tuple[str, str]] = ()) -> Page:
    """The form: the topics (tags), the cadences on offer, a time zone and an hour."""
    tags = [g.tag for g in groups]
    zones = zone_names()
    fingerprint = _hash(shared, "subscribe", *(f"{t.slug}\0{t.name}" for t in tags),
                        *(f"{n}\0{label}" for n, label in cadences), *zones)
    return Page("subscribe/index.html", fingerprint, "site/subscribe.html",
                {"root": "../", "path": "subscribe/", "tags": tags, "cadences": cadences,
                 "zones": zones, "hours": range(24)})


def digest_pages(shared: str, digests: Sequence[DigestCopy],
                 published: Sequence[Article] = ()) -> Iterator[Page]:
    """A page for each sent digest, and a list of them, newest first.

    A digest's page shows the articles it held that are still published; one
    taken down since is left out, and the page says how many are.
    """
    listed = sorted(digests, key=lambda d: (d.date, d.digest_id), reverse=True)
    by_id = {article.id: article for article in published}
    for digest in listed:
        if not is_digest_id(digest.digest_id):
            raise OutputError(f"digest id {digest.digest_id!r} cannot name a file",
                              hint="digest ids are made of letters, digits, '-' and '_'")
        path = f"digests/{digest.digest_id}.html"
        if not digest.article_ids:
            data = digest.web_html.encode()
            yield Page(path, hashlib.sha256(data).hexdigest(), data=data)
            continue
        held = [by_id[i] for i in digest.article_ids if i in by_id]
        fingerprint = _hash(shared, "digest", digest.digest_id, digest.title,
                            digest.date.isoformat(), str(len(digest.article_ids)),
                            *(a.fingerprint for a in held))
        yield Page(path, fingerprint, "site/digest.html",
                   {"root": "../", "path": path, "digest": digest, "articles": held,
                    "withdrawn": len(digest.article_ids) - len(held)})
    fingerprint = _hash(shared, "digests",
                        *(f"{d.digest_id}\0{d.title}\0{d.date.isoformat()}" for d in listed))
    yield Page("digests/index.html", fingerprint, "site/digests.html",
               {"root": "../", "path": "digests/", "digests": listed})


def asset_bytes(env: jinja2.Environment, name: str) -> bytes:
    """A theme file copied as is (the site's own copy first)."""
    loader = env.loader
    assert loader is not None
    try:
        source, _, _ = loader.get_source(env, f"site/{name}")
    except jinja2.TemplateNotFound:
        raise OutputError(f"theme file 'site/{name}' not found",
                          hint="restore it in templates/site/ or delete your copy to use the "
                          "default theme's") from None
    return source.encode()


def render(env: jinja2.Environment, pages: Iterable[Page]) -> Iterator[OutputFile]:
    """The bytes of each page; a template mistake raises a `TemplateError` naming file and line."""
    templates: dict[str, jinja2.Template] = {}
    for page in pages:
        if page.data is not None:
            yield OutputFile(page.path, page.data)
            continue
        template = templates.get(page.template)
        if template is None:
            template = templates[page.template] = theme.get_template(env, page.template)
        with processing(page.path):
            data = theme.render(template, **(page.context or {})).encode()
        yield OutputFile(page.path, data)


@jinja2.pass_context
def _relative_url(context: jinja2.runtime.Context, target: str = "") -> str:
    """`url(article.path)` in a template: the link from the page being rendered to `target`."""
    return (context["root"] + target) or "./"


def _root(path: str) -> str:
    """From a page in folder `path` (e.g. "2026/11/ferry/") back to the site root."""
    return "../" * path.count("/")


def _page_folder(folder: str, number: int) -> str | None:
    if number < 1:
        return None
    return folder if number == 1 else f"{folder}page/{number}/"


def _neighbour(article: Article | None) -> tuple[str, str]:
    return (article.title, article.path) if article else ("", "")


def _hash(*parts: str) -> str:
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()


def _check_unique(pages: Sequence[Page], published: Sequence[Article]) -> None:
    """An article whose permalink lands on one of the archive's own pages would replace it."""
    owners: dict[str, Page] = {}
    by_page = {a.path + "index.html": a for a in published}
    problems = []
    for page in pages:
        if owners.setdefault(page.path, page) is not page:
            article = by_page.get(page.path)
            problems.append(Problem(
                f"the article's page {page.path!r} would replace one of the archive's own pages",
                path=article.source if article else None,
                hint="change the `permalink` setting or the article's slug",
            ))
    if problems:
        raise ContentError(problems, summary=f"{len(problems)} page(s) collide; nothing was "
                           "written")
