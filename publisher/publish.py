"""The orchestrator: the one place that knows the order of the stages.

Read everything, validate everything, then render, then write. A problem found
at any point before the write leaves the previous output exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path

import jinja2

from publisher import __version__, theme
from publisher.build import archives, fanout, feeds, gc_pause, icons, orphans, quick
from publisher.build import pages as archive
from publisher.build import state as buildstate
from publisher.build.feeds import memo
from publisher.build.output import OutputWriter
from publisher.build.rehearsal import DryRun
from publisher.build.web_copies import load_web_copies
from publisher.config import CONFIG_NAME, Settings, input_folders, require_content_folder
from publisher.content.cache import ArticleCache, Entry
from publisher.content.ids import write_pending_ids
from publisher.content.load import (
    ParseContext,
    SourceFile,
    discover,
    load_content,
    read_uncached,
    scan,
)
from publisher.content.stamps import Stamp, now_ns, read_index, stamp_of, write_index
from publisher.errors import (
    ConfigError,
    ContentError,
    Problem,
    PublisherError,
    TemplateError,
    errno_hint,
    processing,
)
from publisher.lock import file_lock
from publisher.models import Article, BuildReport, Clock, LoadedContent, OutputFile, Site
from publisher.text import plural

CACHE_NAME = "articles.sqlite"
FEED_FORMAT = "2"  # bump when the feed renderers change what they write
FEED_STYLESHEET = "feed.css"  # written by the site stage; shows a feed as a page in a browser


def parse_context(settings: Settings) -> ParseContext:
    return ParseContext(settings.base_url, settings.permalink, settings.timezone)


@dataclass(frozen=True, slots=True)
class Source:
    """Every article, read and parsed once: what a digest run and its build share."""

    keys: Mapping[str, str]  # each article file's cache key
    stamps: tuple[tuple[str, Stamp], ...]  # each file's stamp when it was read
    content: LoadedContent

    def still_current(self, settings: Settings) -> bool:
        """True when no article file was added, removed or written since it was read."""
        found = discover(settings.content_path, settings.root)
        if [source for source, _ in found] != [source for source, _ in self.stamps]:
            return False
        try:
            return all(stamp_of(os.stat(path)) == stamp
                       for (_, path), (_, stamp) in zip(found, self.stamps, strict=True))
        except OSError:
            return False


def read_source(settings: Settings, *, strict: bool = False, readonly: bool = False
                ) -> Source:
    """Read and validate every article; with `strict`, warnings count as errors."""
    require_content_folder(settings)
    context = parse_context(settings)
    started = now_ns()
    files = scan(settings.content_path, settings.root, context,
                 read_index(settings.state_path, context.fingerprint()))
    with ArticleCache(settings.state_path / CACHE_NAME, readonly=readonly) as cache:
        cached = cache.get_many(f.key for f in files)
        files = read_uncached(files, cached, context)
        loaded, fresh = load_content(files, context, cached)
        cache.replace_all(fresh, keep=[f.key for f in files])
    if not readonly:
        _remember_stamps(settings, context, _stamps(files), started)
    _refuse_warnings_if_strict(loaded.warnings, strict)
    return Source({f.source: f.key for f in files}, tuple((f.source, f.stamp) for f in files),
                  loaded)


def load(settings: Settings, *, strict: bool = False, readonly: bool = False) -> LoadedContent:
    """Every article, validated (`read_source` without the keys)."""
    return read_source(settings, strict=strict, readonly=readonly).content


def build(settings: Settings, clock: Clock, *, strict: bool = False,
          source: Source | None = None) -> BuildReport:
    """Publish the site: feeds, the archive's pages and static files into the output folder.

    `source` is the content already read by the caller (a digest run); if any article
    changed since, it is read afresh.
    """
    require_content_folder(settings)
    with gc_pause.building() as loaded_all, file_lock(settings.state_path / "build.lock"), \
            OutputWriter(settings.output_path, settings.state_path) as writer, \
            orphans.cleaned(settings.state_path, settings.output_path, [settings.content_path],
                            writer.produced_before()):
        context = parse_context(settings)
        if source is not None and not source.still_current(settings):
            source = None
        started = now_ns()
        inputs = quick.watch([settings.root / CONFIG_NAME],
                             [*input_folders(settings).values(), theme.default_theme_path()])
        files = [] if source is not None else scan(
            settings.content_path, settings.root, context,
            read_index(settings.state_path, context.fingerprint()))
        digests = load_web_copies(settings.path(settings.digests_dir), settings.root)
        site = settings.site()
        pages = _page_options(settings, site, compiled=True)
        keys = dict(source.keys) if source is not None else {f.source: f.key for f in files}
        now = clock()
        previous = buildstate.read(settings.state_path)
        if previous and previous.covers(_inputs(settings, keys, pages), now) and writer.intact():
            _refuse_warnings_if_strict(previous.warnings, strict)
            if any(f.raw is not None for f in files):  # read this time: not next time
                _remember_stamps(settings, context, _stamps(files), started)
            unchanged = BuildReport(previous.articles, previous.drafts, previous.scheduled,
                                    unchanged=len(writer.produced_before()),
                                    warnings=previous.warnings)
            quick.remember(settings.root, started, inputs, settings.output_path,
                           settings.output_dir, writer.on_disk(), unchanged, now,
                           previous.next_change)
            return unchanged
        with ArticleCache(settings.state_path / CACHE_NAME) as cache:
            cached: Mapping[str, Entry] = {}
            if source is None:
                cached = cache.get_many(keys.values())
                files = read_uncached(files, cached, context)
                keys = {f.source: f.key for f in files}
                loaded, fresh = load_content(files, context, cached, cache.put)
            else:
                loaded, fresh = source.content, {}
            stamps = _stamps(files)
            del files  # the articles' bytes are no longer needed
            _refuse_warnings_if_strict(loaded.warnings, strict)
            # Every article is valid: give the new ones their permanent ids now, while
            # the disk is quiet (each write is flushed), before the output is rendered.
            new_keys, entries = write_pending_ids(settings.root, loaded, context.fingerprint())
            keys.update(new_keys)
            if source is None:  # (a file just given its id is read afresh next time)
                _remember_stamps(settings, context,
                                 [s for s in stamps if s[0] not in new_keys], started)
            cache.replace_all({**fresh, **entries}, keep=keys.values())
            del fresh, entries, cached  # (encoded, the new articles: tens of megabytes)
            loaded_all()
            published = loaded.published(now)
            icon = icons.read_icon(pages.env, settings.root)
            _stage_all_feeds(writer, settings, site, published)
            # A file of the site's own static/ (its robots.txt, its favicon.ico) wins.
            static = static_files(settings.path(settings.static_dir))
            # The icons are drawn while the pages render (Pillow lets other threads run).
            _stage_pages(writer, pages, published, digests, set(static),
                         alongside=partial(_stage_icons, writer, icon, set(static)))
            _stage_static(writer, static)
        changed_feeds = tuple(p for p in sorted(writer.produced()) if feeds.is_feed(p)
                              and not archives.is_archive(p) and writer.changed(p))
        result = writer.commit()
        report = BuildReport(
            articles=len(published),
            drafts=sum(1 for a in loaded.articles if a.draft),
            scheduled=sum(1 for a in loaded.articles if not a.draft and a.date > now),
            written=result.written,
            removed=result.removed,
            unchanged=result.unchanged,
            ids_assigned=tuple(sorted(p.source for p in loaded.pending_ids)),
            warnings=loaded.warnings,
            changed_feeds=changed_feeds,
        )
        remembered = _remember(settings, keys, pages, loaded, now, report)
        quick.remember(settings.root, started, inputs, settings.output_path, settings.output_dir,
                       writer.on_disk(), report, now, remembered.next_change)
    return report


def _stamps(files: Sequence[SourceFile]) -> list[tuple[str, Stamp, str]]:
    return [(f.source, f.stamp, f.key) for f in files if not f.problem]


def _remember_stamps(settings: Settings, context: ParseContext,
                     stamps: Sequence[tuple[str, Stamp, str]], started: int) -> None:
    write_index(settings.state_path, context.fingerprint(), stamps, started)


def _inputs(settings: Settings, keys: dict[str, str], pages: PageStage) -> str:
    """The signature of everything a build reads."""
    return buildstate.signature([
        __version__, FEED_FORMAT, archive.SITE_FORMAT, repr(settings), pages.templates,
        repr(pages.options.cadences),  # the subscribe form offers them
        *keys.values(),
        *buildstate.folder_listing(settings.path(settings.static_dir)),
        *buildstate.folder_listing(settings.path(settings.digests_dir)),
    ])


def _remember(settings: Settings, keys: dict[str, str], pages: PageStage,
              loaded: LoadedContent, now: datetime, report: BuildReport
              ) -> buildstate.BuildState:
    upcoming = [a.date for a in loaded.articles if not a.draft and a.date > now]
    state = buildstate.BuildState(
        _inputs(settings, keys, pages), now, min(upcoming, default=None),
        report.articles, report.drafts, report.scheduled, report.warnings,
    )
    buildstate.write(settings.state_path, state)
    return state


def _refuse_warnings_if_strict(warnings: Sequence[Problem], strict: bool) -> None:
    if strict and warnings:
        problems = [replace(w, warning=False) for w in warnings]
        raise ContentError(problems, summary=f"{len(problems)} warning(s) with --strict; "
                           "nothing was written")


def feed_plan(settings: Settings, site: Site, published: Sequence[Article]
              ) -> Iterator[tuple[feeds.FeedSpec, Sequence[Article]]]:
    """Which feed documents to write and what goes in each: the site's, then one per tag,
    each with its archives."""
    limit = settings.feeds.items
    full = settings.feeds.content == "full"
    spec = feeds.FeedSpec(site.title, site.description, "", "", full, FEED_STYLESHEET)
    yield from archives.documents(spec, published, limit, limit)
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
        yield from archives.documents(spec, group.articles, limit, limit)


def _feed_fingerprint(site: Site, spec: feeds.FeedSpec, items: Sequence[Article]) -> str:
    digest = hashlib.sha256(f"{FEED_FORMAT}\0{site!r}\0{spec!r}".encode())
    for article in items:
        digest.update(f"\0{article.id}\0{article.fingerprint}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class PageStage:
    """The archive's options and templates, prepared once per build."""

    options: archive.SiteOptions
    env: jinja2.Environment
    templates: str  # fingerprint of the site templates


def _cadences(settings: Settings) -> tuple[tuple[str, str], ...]:
    """The digests readers may choose, for the subscribe form. A schedule file with a
    mistake offers none: `check` and `tick` report it, and the build goes on."""
    from publisher.schedule.files import load_schedules

    try:
        schedules = load_schedules(settings)
    except ConfigError:
        return ()
    return tuple((s.name, s.label or s.name) for s in schedules
                 if s.action == "digest" and s.choosable)


TEMPLATES_CACHE = "templates"  # compiled templates, in the state folder


def _page_options(settings: Settings, site: Site, *, compiled: bool = False) -> PageStage:
    """The pages' options and templates; `compiled` keeps the compiled templates in the
    state folder (a build does; `check` writes nothing)."""
    options = archive.SiteOptions(site, settings.service_url, tag_feeds=settings.feeds.tag_feeds,
                                  per_page=settings.pages.per_page,
                                  cadences=_cadences(settings))
    env = archive.environment(options, settings.path(settings.templates_dir))
    # The templates were read (and fingerprinted) for this build: checking each one's time
    # again on every page (Jinja's default) cost two `stat` calls a page.
    env.auto_reload = False
    if compiled:
        env.bytecode_cache = theme.CompiledTemplates(settings.state_path / TEMPLATES_CACHE)
    return PageStage(options, env, theme.fingerprint(env, "site/"))


def _stage_pages(writer: OutputWriter, pages: PageStage, published: Sequence[Article],
                 digests: Sequence[archive.DigestCopy], taken: set[str],
                 alongside: Callable[[], None] | None = None) -> None:
    """Render only the pages whose fingerprint changed; a template error stops the build here.
    `alongside` is done while they render."""
    stale = []
    for page in archive.plan(pages.options, pages.env, published, digests):
        if page.path in taken:
            continue
        if writer.is_fresh([page.path], page.fingerprint):
            writer.keep([page.path])
        else:
            stale.append(page)
    fanout.stage_pages(writer, pages.env, stale, alongside=alongside)


def _stage_icons(writer: OutputWriter, icon: icons.Icon, taken: set[str]) -> None:
    paths = [p for p in icons.PATHS if p not in taken]
    fingerprint = f"{icon.fingerprint}\0{paths}"
    if writer.is_fresh(paths, fingerprint):
        writer.keep(paths)
    else:
        writer.put([f for f in icons.icon_files(icon) if f.path in paths], fingerprint)


def static_files(static: Path) -> dict[str, Path]:
    """The files of `static/` by their path in the output (hidden ones left out)."""
    found: dict[str, Path] = {}
    if not static.is_dir():
        return found
    for folder, dirs, files in os.walk(static):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                source = Path(folder, name)
                found[source.relative_to(static).as_posix()] = source
    return found


def _stage_static(writer: OutputWriter, files: Mapping[str, Path]) -> None:
    """Copy `static/` as is; a file is re-read only when its size or time changed."""
    for relative, source in files.items():
        try:
            stat = source.stat()
            fingerprint = f"static\0{stat.st_size}\0{stat.st_mtime_ns}"
            if writer.is_fresh([relative], fingerprint):
                writer.keep([relative])
            else:
                writer.put([_static_file(relative, source)], fingerprint)
        except OSError as exc:
            raise ContentError([Problem(f"cannot be read: {exc.strerror or exc}",
                                        path=str(source), hint=errno_hint(exc))]) from None


def _static_file(relative: str, source: Path) -> OutputFile:
    return OutputFile(relative, source.read_bytes())


def check(settings: Settings, clock: Clock, *, strict: bool = False) -> tuple[LoadedContent,
                                                                               list[Problem]]:
    """Validate the whole site without writing anything: `build` succeeds when this passes.

    Schedules, articles and templates are read as `build`, `tick` and `digest send`
    read them; then every feed and page the build would write is rendered and
    dropped (see `build.rehearsal`). All problems are reported together.
    """
    from publisher.schedule.files import load_schedules  # imported here: builds never need it

    problems: list[Problem] = []
    try:
        load_schedules(settings)
    except ConfigError as exc:
        problems.extend(exc.problems)
    loaded = None
    try:
        loaded = load(settings, strict=strict, readonly=True)
    except ContentError as exc:
        problems.extend(exc.problems)
    try:
        icons.read_icon(theme.environment(settings.path(settings.templates_dir)), settings.root)
    except ContentError as exc:
        problems.extend(exc.problems)
    problems += template_problems(settings)
    if loaded is not None and not any(not p.warning for p in problems):
        problems += _rehearse(settings, loaded, clock())
    if any(not p.warning for p in problems) or loaded is None:
        raise ContentError(problems, summary=_count(problems))
    return loaded, list(loaded.warnings)


def template_problems(settings: Settings) -> list[Problem]:
    """Every template of the site and the theme, compiled."""
    from publisher.digest.render import email_environment

    site = settings.site()
    envs = [(_page_options(settings, site).env, "site/"),
            (email_environment(settings.path(settings.templates_dir), settings.zone), "email/")]
    problems: list[Problem] = []
    for env, prefix in envs:
        for name in sorted(n for n in env.list_templates() if n.startswith(prefix)):
            if not name.endswith((".html", ".txt", ".xsl", ".xml")):
                continue
            try:
                theme.get_template(env, name)
            except TemplateError as exc:
                problems.extend(exc.problems)
    return problems


def _rehearse(settings: Settings, loaded: LoadedContent, now: datetime) -> list[Problem]:
    """Render what the build would, writing nothing; each stage reports its first problem."""
    site = settings.site()
    published = loaded.published(now)
    problems: list[Problem] = []
    try:
        digests = load_web_copies(settings.path(settings.digests_dir), settings.root)
    except ContentError as exc:
        return exc.problems
    pages = _page_options(settings, site)
    with DryRun(settings.output_path, settings.state_path) as writer:
        static = static_files(settings.path(settings.static_dir))
        stages: list[Callable[[], None]] = [
            partial(_stage_all_feeds, writer, settings, site, published),
            partial(_stage_pages, writer, pages, published, digests, set(static)),
            partial(_stage_static, writer, static),
            partial(_rehearse_digest, settings, site, published)]
        for stage in stages:
            try:
                stage()
            except PublisherError as exc:
                problems.extend(exc.problems)
    return problems


def _stage_all_feeds(writer: OutputWriter, settings: Settings, site: Site,
                     published: Sequence[Article]) -> None:
    """Every feed and feed archive whose articles changed, rendered on every core when many
    did (a cold build of a large archive renders hundreds of archive documents)."""
    stale: list[tuple[feeds.FeedSpec, Sequence[Article], str]] = []
    for spec, items in feed_plan(settings, site, published):
        paths = feeds.feed_paths(spec.folder + spec.page)
        fingerprint = _feed_fingerprint(site, spec, items)
        if writer.is_fresh(paths, fingerprint):
            writer.keep(paths)
        else:
            stale.append((spec, items, fingerprint))
    # In the order of their newest article: the documents that show one article (the site's
    # archive and its tags') come near each other, and its entry is rendered once for all.
    stale.sort(key=lambda s: s[1][0].date if s[1] else s[0].empty_date)

    def produce(indices: Sequence[int]) -> Iterator[tuple[int, OutputFile, str]]:
        for index in indices:
            spec, items, fingerprint = stale[index]
            with processing(f"the feeds of {spec.folder + spec.page or 'the site'}"):
                files = feeds.render_feeds(site, items, spec)
            for file in files:
                yield index, file, fingerprint

    try:
        fanout.stage_all(writer, len(stale), produce, fanout.FEED_SETS_MIN)
    finally:
        memo.forget()


def _rehearse_digest(settings: Settings, site: Site, published: Sequence[Article]) -> None:
    """Render the digest the newest articles would make, as `digest send` would render it."""
    from publisher.digest.render import RenderOptions, render_digest
    from publisher.models import Digest, make_digest_id

    if not published:
        return
    newest = published[0].date
    digest = Digest(make_digest_id("check", newest), "check", newest, newest,
                    tuple(a.id for a in published[:settings.email.max_items]))
    options = RenderOptions(site, settings.zone, settings.email.subject, CONFIG_NAME,
                            settings.service_url, settings.path(settings.templates_dir))
    render_digest(options, digest, published[:settings.email.max_items])


def _count(problems: Sequence[Problem]) -> str:
    errors = sum(1 for p in problems if not p.warning)
    return f"{plural(errors, 'problem')} found; nothing was written"
