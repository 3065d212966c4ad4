"""The orchestrator: the one place that knows the order of the stages.

Read everything, validate everything, then render, then write. A problem found
at any point before the write leaves the previous output exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from publisher import feeds
from publisher import site as archive
from publisher.atomic import atomic_write
from publisher.cache import ArticleCache, article_key
from publisher.config import Settings
from publisher.content import ParseContext, load_content
from publisher.digest_archive import load_web_copies
from publisher.errors import ContentError, OutputError, Problem
from publisher.idwriter import insert_id
from publisher.lock import file_lock
from publisher.models import Article, BuildReport, Clock, LoadedContent, OutputFile, Site
from publisher.output import OutputWriter

FEED_FORMAT = "1"  # bump when the feed renderers change what they write
FEED_STYLESHEET = "feed.xsl"  # written by the site stage; shows a feed as a page in a browser


def parse_context(settings: Settings) -> ParseContext:
    return ParseContext(settings.base_url, settings.permalink, settings.timezone)


def load(settings: Settings, *, strict: bool = False, readonly: bool = False) -> LoadedContent:
    """Read and validate every article; with `strict`, warnings count as errors."""
    article_cache = ArticleCache(settings.state_path / "articles.sqlite", readonly=readonly)
    try:
        loaded = load_content(settings.content_path, settings.root, parse_context(settings),
                              article_cache)
    finally:
        article_cache.close()
    if strict and loaded.warnings:
        problems = [replace(w, warning=False) for w in loaded.warnings]
        raise ContentError(problems, summary=f"{len(problems)} warning(s) with --strict; "
                           "nothing was written")
    return loaded


def build(settings: Settings, clock: Clock, *, strict: bool = False) -> BuildReport:
    """Publish the site: feeds, the archive's pages and static files into the output folder."""
    with file_lock(settings.state_path / "build.lock"):
        loaded = load(settings, strict=strict)
        now = clock()
        published = loaded.published(now)
        writer = OutputWriter(settings.output_path, settings.state_path)
        site = settings.site()
        for spec, items in feed_plan(settings, site, published):
            _stage_feeds(writer, site, spec, items)
        digests = load_web_copies(settings.path(settings.digests_dir), settings.root)
        _stage_pages(writer, settings, site, published, digests)
        _stage_static(writer, settings.path(settings.static_dir))
        assigned = _write_pending_ids(settings, loaded)
        changed_feeds = tuple(p for p in sorted(writer.produced()) if _is_feed(p)
                              and writer.changed(p))
        result = writer.commit()
    return BuildReport(
        articles=len(published),
        drafts=sum(1 for a in loaded.articles if a.draft),
        scheduled=sum(1 for a in loaded.articles if not a.draft and a.date > now),
        written=result.written,
        removed=result.removed,
        unchanged=result.unchanged,
        ids_assigned=assigned,
        warnings=loaded.warnings,
        changed_feeds=changed_feeds,
    )


def feed_plan(settings: Settings, site: Site, published: Sequence[Article]
              ) -> Iterator[tuple[feeds.FeedSpec, Sequence[Article]]]:
    """Which feeds to write and what goes in each: the site's, then one per tag."""
    limit = settings.feeds.items
    full = settings.feeds.content == "full"
    yield (feeds.FeedSpec(site.title, site.description, "", "", full, FEED_STYLESHEET),
           published[:limit])
    if not settings.feeds.tag_feeds:
        return
    for group in archive.group_by_tag(published):
        spec = feeds.FeedSpec(
            title=f"{site.title}: {group.tag.name}",
            description=f"Articles tagged “{group.tag.name}” in {site.title}",
            folder=f"tags/{group.tag.slug}/",
            home_path=f"tags/{group.tag.slug}/",
            full_content=full,
            stylesheet=FEED_STYLESHEET,
        )
        yield spec, group.articles[:limit]


def _stage_feeds(writer: OutputWriter, site: Site, spec: feeds.FeedSpec,
                 items: Sequence[Article]) -> None:
    paths = [spec.folder + name for name in (feeds.RSS_NAME, feeds.ATOM_NAME, feeds.JSON_NAME)]
    digest = hashlib.sha256(f"{FEED_FORMAT}\0{site!r}\0{spec!r}".encode())
    for article in items:
        digest.update(f"\0{article.id}\0{article.fingerprint}".encode())
    fingerprint = digest.hexdigest()
    if writer.is_fresh(paths, fingerprint):
        writer.keep(paths)
    else:
        writer.put(feeds.render_feeds(site, items, spec), fingerprint)


def _stage_pages(writer: OutputWriter, settings: Settings, site: Site,
                 published: Sequence[Article], digests: Sequence[archive.DigestCopy]) -> None:
    """Render only the pages whose fingerprint changed; a template error stops the build here."""
    options = archive.SiteOptions(site, settings.service_url, tag_feeds=settings.feeds.tag_feeds,
                                  per_page=settings.pages.per_page)
    env = archive.environment(options, settings.path(settings.templates_dir))
    stale = []
    for page in archive.plan(options, env, published, digests):
        if writer.is_fresh([page.path], page.fingerprint):
            writer.keep([page.path])
        else:
            stale.append(page)
    for page, file in zip(stale, archive.render(env, stale), strict=True):
        writer.put([file], page.fingerprint)


def _stage_static(writer: OutputWriter, static: Path) -> None:
    """Copy `static/` as is; a file is re-read only when its size or time changed."""
    if not static.is_dir():
        return
    for folder, dirs, files in os.walk(static):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            source = Path(folder, name)
            relative = source.relative_to(static).as_posix()
            stat = source.stat()
            fingerprint = f"static\0{stat.st_size}\0{stat.st_mtime_ns}"
            if writer.is_fresh([relative], fingerprint):
                writer.keep([relative])
            else:
                writer.put([_static_file(relative, source)], fingerprint)


def _static_file(relative: str, source: Path) -> OutputFile:
    return OutputFile(relative, source.read_bytes())


def _is_feed(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in (feeds.RSS_NAME, feeds.ATOM_NAME, feeds.JSON_NAME)


def _write_pending_ids(settings: Settings, loaded: LoadedContent) -> tuple[str, ...]:
    """Write each derived id into its article, so later edits cannot change it."""
    if not loaded.pending_ids:
        return ()
    cache = ArticleCache(settings.state_path / "articles.sqlite")
    fresh: dict[str, tuple[Article, tuple[Problem, ...]]] = {}
    by_source = {a.source: a for a in loaded.articles}
    warnings = {s: tuple(w for w in loaded.warnings if w.path == s) for s in by_source}
    context = parse_context(settings).fingerprint()
    done: list[str] = []
    try:
        for pending in loaded.pending_ids:
            path = settings.root / pending.source
            raw = path.read_bytes()
            updated = insert_id(raw, pending.id)
            atomic_write(path, updated, durable=True)
            key = article_key(pending.source, updated, context)
            article = replace(by_source[pending.source], id_pending=False)
            fresh[key] = (article, warnings[pending.source])
            done.append(pending.source)
    except OSError as exc:
        raise OutputError(
            f"cannot write the article's id into it: {exc.strerror or exc}", path=exc.filename,
            hint="make the content folder writable, or add an `id:` line to the front matter "
            "yourself",
        ) from None
    finally:
        cache.replace_all(fresh)
        cache.close()
    return tuple(done)


def check(settings: Settings, clock: Clock, *, strict: bool = False) -> tuple[LoadedContent,
                                                                               list[Problem]]:
    """Validate the whole site without writing anything to the output."""
    loaded = load(settings, strict=strict, readonly=True)
    return loaded, list(loaded.warnings)
