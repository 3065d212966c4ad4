"""Read every article in `content/` into `Article`s, or report every problem at once.

Nothing is written here: the loader only reads. Articles whose bytes have not
changed come from the cache; the others are parsed on every core.
"""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from publisher.content import characters, frontmatter, markup
from publisher.content.cache import Encoded, Entry, Store, article_key, decode, encode
from publisher.content.stamps import Stamp, stamp_of, unchanged_key
from publisher.errors import ContentError, Problem, processing
from publisher.models import Article, Author, LoadedContent, PendingId, Tag
from publisher.text import plural, slugify

ID_NAMESPACE = uuid.UUID("6f1c1d0e-4c4b-5b8e-9a57-2f0d3c1e7a10")
PARALLEL_THRESHOLD = 200  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True, slots=True)
class ParseContext:
    """The settings that change how an article renders; part of the cache key."""

    base_url: str
    permalink: str
    timezone: str

    def fingerprint(self) -> str:
        return f"{self.base_url}\n{self.permalink}\n{self.timezone}"


@dataclass(frozen=True, slots=True)
class _Parsed:
    source: str
    key: str
    article: Article | None
    problems: tuple[Problem, ...]
    # (article, problems) as the cache stores them, encoded by the worker that parsed them
    encoded: Encoded | None = None
    stored: bool = False  # in the cache already


def discover(content_path: Path, root: Path) -> list[tuple[str, str]]:
    """Every `*.md` below `content_path` (hidden files and folders skipped), sorted.

    Each is named by its path relative to the site root, with "/" separators, and
    given with its path on disk. Plain strings: at 10,000 files pathlib's objects
    cost more than reading the files.
    """
    base = str(content_path.resolve())
    try:
        prefix = Path(base).relative_to(root.resolve()).as_posix() + "/"
    except ValueError:  # content kept outside the site folder
        prefix = Path(base).as_posix() + "/"
    prefix = "" if prefix == "./" else prefix
    found: list[tuple[str, str]] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        relative = os.path.relpath(folder, base)
        inner = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        for name in files:
            if name.endswith(".md") and not name.startswith((".", "_")):
                found.append((prefix + inner + name, os.path.join(folder, name)))
    return sorted(found)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """An article file's bytes, and the cache key they give in this site's settings."""

    source: str
    raw: bytes | None  # None: unchanged since its stamp was taken, so not read (see `stamps`)
    key: str
    stamp: Stamp = (0, 0, 0, 0)  # size, times and inode when it was read
    problem: Problem | None = None  # why the file could not be read at all
    path: str = ""  # where it is on disk


def scan(content_path: Path, root: Path, context: ParseContext,
         known: Mapping[str, tuple[Stamp, str]] | None = None) -> list[SourceFile]:
    """Read every article file and key it; cheap enough to do on every build.

    A file whose stamp is the one `known` remembers is keyed without being read.
    """
    fingerprint = context.fingerprint()
    files = []
    for source, path in discover(content_path, root):
        if known and (unread := _unchanged(source, path, known)) is not None:
            files.append(unread)
        else:
            files.append(read_source_file(source, path, fingerprint))
    return files


def _unchanged(source: str, path: str, known: Mapping[str, tuple[Stamp, str]]
               ) -> SourceFile | None:
    try:
        info = os.stat(path)
    except OSError:
        return None  # reading it says why
    stamp = stamp_of(info)
    key = unchanged_key(known, source, stamp)
    return SourceFile(source, None, key, stamp, path=path) if key else None


def read_source_file(source: str, path: str, fingerprint: str) -> SourceFile:
    """One article file read and keyed, or the problem that keeps it from being read."""
    read = read_article_file(source, path)
    if isinstance(read, Problem):
        return SourceFile(printable(source), b"", "", problem=read, path=path)
    raw, stamp = read
    return SourceFile(source, raw, article_key(source, raw, fingerprint), stamp, path=path)


def read_uncached(files: Sequence[SourceFile], cached: Mapping[str, Entry],
                  context: ParseContext) -> list[SourceFile]:
    """Read the files that were keyed by their stamp but that the cache does not hold."""
    fingerprint = context.fingerprint()
    return [read_source_file(f.source, f.path, fingerprint)
            if f.raw is None and f.key not in cached else f for f in files]


def read_article_file(source: str, path: str) -> tuple[bytes, Stamp] | Problem:
    """An article file's bytes and stamp, or why it cannot be an article."""
    if not source.isprintable() or not _encodable(source):
        return Problem("the file name is not valid UTF-8 or holds a control character",
                       path=printable(source), hint="rename the file")
    try:
        # O_NONBLOCK: a named pipe given the name of an article must not hang the build
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return Problem("not a regular file", path=source, hint="delete it or rename "
                               "it so that it does not end in .md")
            return handle.read(), stamp_of(info)
    except OSError as exc:
        return Problem(f"cannot be read: {exc.strerror or exc}", path=source,
                       hint="check that the file exists (a link may point nowhere) and that "
                       "it is readable")


def _encodable(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:  # bytes that were not UTF-8, kept as surrogates by os
        return False
    return True


def printable(name: str) -> str:
    """A file name as it can be shown: bytes that are not UTF-8 become U+FFFD."""
    shown = os.fsencode(name).decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() else "\ufffd" for c in shown)


def load_content(files: Sequence[SourceFile], context: ParseContext,
                 cached: Mapping[str, Entry], store: Store | None = None
                 ) -> tuple[LoadedContent, dict[str, Entry | Encoded]]:
    """Parse what the cache does not have; raise `ContentError` listing every problem.

    `files` are as `read_uncached` left them: every one the cache lacks has been read.
    Returns the content and the newly parsed entries, for the caller to cache; those a
    worker process encoded go to `store` as they arrive instead, when it is given.
    """
    todo = [(f.source, f.raw, f.key) for f in files
            if f.key not in cached and not f.problem and f.raw is not None]
    parsed = {p.source: p for p in _parse_all(todo, context, store)}
    articles: list[Article] = []
    problems: list[Problem] = [f.problem for f in files if f.problem]
    for file in files:
        if file.problem:
            continue
        one = parsed.get(file.source)
        article, found = (one.article, one.problems) if one else cached[file.key]
        problems.extend(found)
        if article is not None:
            articles.append(article)
    problems.extend(_duplicates(articles))
    if any(not p.warning for p in problems):
        raise ContentError(problems, summary=_summary(problems))
    articles.sort(key=lambda a: (a.date, a.id), reverse=True)
    fresh: dict[str, Entry | Encoded] = {p.key: p.encoded or (p.article, p.problems)
                                         for p in parsed.values()
                                         if p.article is not None and not p.stored}
    return LoadedContent(
        articles=tuple(articles),
        pending_ids=tuple(PendingId(a.source, a.id) for a in articles if a.id_pending),
        warnings=tuple(p for p in problems if p.warning),
    ), fresh


def derive_id(source: str, fields: frontmatter.FrontMatter) -> str:
    """An id for an article that has none yet; the build then writes it into the file.

    It is derived rather than random so that two machines building the same
    checkout agree; once written, edits to the title, date or path no longer matter.
    """
    seed = f"{source}\n{fields.date.isoformat()}\n{fields.title}"
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, seed)}"


_DUPLICATE_HINTS = {
    "id": "a copied article keeps the id of its original: delete the `id:` line in the copy "
          "and the next build assigns a new one",
    "slug": "give one of the two articles another title or a `slug:` of its own",
    "URL": "change the slug or the date of one of them",
}


def _duplicates(articles: Iterable[Article]) -> list[Problem]:
    """Two articles with one id, slug or URL would overwrite each other: name both files."""
    problems: list[Problem] = []
    seen: dict[str, dict[str, Article]] = {"id": {}, "slug": {}, "URL": {}}
    for article in articles:
        for what, value in (("id", article.id), ("slug", article.slug), ("URL", article.url)):
            other = seen[what].setdefault(value, article)
            if other is article or (what == "URL" and other.slug == article.slug):
                continue  # a shared slug already explains a shared URL
            problems.append(Problem(
                f"duplicate {what} {value!r}: {other.source} has the same one",
                path=article.source, hint=_DUPLICATE_HINTS[what],
            ))
    return problems


def _summary(problems: list[Problem]) -> str:
    errors = [p for p in problems if not p.warning]
    files = {p.path for p in errors}
    return (
        f"{plural(len(errors), 'problem')} in {plural(len(files), 'file')}; nothing was written"
    )


def _parse_all(todo: list[tuple[str, bytes, str]], context: ParseContext,
               store: Store | None = None) -> list[_Parsed]:
    if len(todo) < PARALLEL_THRESHOLD or (os.cpu_count() or 1) < 2:
        return [_parse_one(item, context) for item in todo]
    workers = min(os.cpu_count() or 1, 8)
    chunk = max(1, len(todo) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [_decoded(p, store) for p in pool.map(_parse_encoded, todo,
                                                     [context] * len(todo), chunksize=chunk)]


def _parse_encoded(item: tuple[str, bytes, str], context: ParseContext) -> _Parsed:
    """In a worker: the article parsed and encoded once, for the build and for its cache
    (sent back as it is, it would be encoded for the trip and again for the cache)."""
    parsed = _parse_one(item, context)
    if parsed.article is None:
        return parsed
    return _Parsed(parsed.source, parsed.key, None, (),
                   encode((parsed.article, parsed.problems)))


def _decoded(parsed: _Parsed, store: Store | None) -> _Parsed:
    """The article a worker sent; its encoded bytes stored at once, when they can be (kept
    until the end, they were as many megabytes again as the articles themselves)."""
    if parsed.encoded is None:
        return parsed
    article, problems = decode(parsed.encoded)
    if store is not None:
        store(parsed.key, parsed.encoded)
        return _Parsed(parsed.source, parsed.key, article, problems, stored=True)
    return _Parsed(parsed.source, parsed.key, article, problems, parsed.encoded)


def _parse_one(item: tuple[str, bytes, str], context: ParseContext) -> _Parsed:
    with processing(item[0]):
        return _parse_file(item, context)


def _parse_file(item: tuple[str, bytes, str], context: ParseContext) -> _Parsed:
    source, raw, key = item
    text, problems = frontmatter.decode(raw, source)
    if text is None:
        return _Parsed(source, key, None, tuple(problems))
    fields, problems = frontmatter.parse(text, source, ZoneInfo(context.timezone))
    if fields is None:
        return _Parsed(source, key, None, tuple(problems))
    article, found = build_article(source, fields, context)
    problems += found
    if any(not p.warning for p in found):
        return _Parsed(source, key, None, tuple(problems))
    return _Parsed(source, key, article, tuple(problems))


def build_article(source: str, fields: frontmatter.FrontMatter, context: ParseContext
                  ) -> tuple[Article, list[Problem]]:
    """Turn validated front matter and Markdown into a fully resolved `Article`, and the
    problems that only its rendered text shows."""
    local = fields.date.astimezone(ZoneInfo(context.timezone))
    path = context.permalink.format(
        year=f"{local.year:04d}", month=f"{local.month:02d}", day=f"{local.day:02d}",
        slug=fields.slug,
    )
    url = context.base_url + path
    content_html, problems = characters.rendered(markup.markdown_to_html(fields.body, url),
                                                 fields.body, source, fields.body_line)
    if fields.summary:
        summary_html, more = characters.rendered(
            markup.inline_markdown_to_html(fields.summary, url), fields.summary, source, None,
            key="summary")
        problems += more
    else:
        summary_html = markup.first_paragraph(content_html)
    author = Author(**fields.author) if fields.author else None
    article = Article(
        source=source,
        id=fields.id or derive_id(source, fields),
        title=fields.title,
        slug=fields.slug,
        path=path,
        url=url,
        date=fields.date,
        updated=fields.updated or fields.date,
        summary_html=summary_html,
        summary_text=markup.html_to_text(summary_html),
        content_html=content_html,
        tags=tuple(Tag(name, slugify(name)) for name in fields.tags),
        author=author,
        image=markup.absolute_url(fields.image, url) if fields.image else None,
        draft=fields.draft,
        id_pending=fields.id is None,
    )
    return replace(article, fingerprint=rendered_fingerprint(article)), problems


def rendered_fingerprint(article: Article) -> str:
    """A hash of everything a renderer can show of the article.

    Outputs are keyed on this rather than on the file's bytes, so writing the id
    into the front matter, or editing a comment, re-renders nothing. Each shown
    field is hashed as its text (the rest as its `repr`), behind its length.
    """
    digest = hashlib.blake2b(digest_size=16)
    for name in _SHOWN_FIELDS:
        value = getattr(article, name)
        data = value.encode("utf-8", "surrogatepass") if type(value) is str \
            else repr(value).encode("utf-8", "surrogatepass")
        digest.update(b"%d:" % len(data))
        digest.update(data)
    return digest.hexdigest()


# Every field of an article but where it was read from and what the build keeps of it.
_SHOWN_FIELDS = tuple(f.name for f in fields(Article)
                      if f.name not in ("source", "fingerprint", "id_pending"))
