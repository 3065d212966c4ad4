"""Turn plain-text articles from the old site into Markdown articles with front matter.

The old site exported each article as plain text: the title on the first line,
then blocks separated by one or more blank lines, and at the end a navigation
footer ("Previous", "Previous", a title, "Next", "Next", a title) that belongs to
the old site, not to the article, and is dropped.

The title is the first line that is not blank; a file whose first line is
longer than MAX_TITLE_CHARS, or has no letter or digit, has no title line and
is refused, as is a file with nothing after its title.

How a block is read:
- A block of one line is a heading (`## ...`) when it is short (at most
  MAX_HEADING_WORDS words and MAX_HEADING_CHARS characters), holds a letter,
  does not start with a lowercase letter, and does not end like a sentence or a
  clause: '.', '!', ':', ';', ',' or '…', looked for before any closing quote or
  bracket, so `He said so.”` is a paragraph. A question mark is a heading's
  ending too ("What Comes Next?"). Everything else is a paragraph.
- The line right after the title follows the same rule: a sub-title such as
  "A Harbour Service Rebuilt From the Keel Up" becomes the first `##` heading, and a
  first line that reads as a sentence becomes the lead paragraph. One rule for every
  line is easier to predict than a special case for the second one.
- A block of several lines is one paragraph whose lines were wrapped; its lines
  are joined with spaces. Headings are only ever single-line blocks, because the
  first line of wrapped prose often looks like a short heading.

The Markdown keeps the author's text: curly quotes and any other UTF-8 pass
through, and only the characters that would change the rendered text are
escaped (`*`, `` ` ``, `[`, `~`, a backslash, `_` unless inside a word, `<`
before a tag, `&` before an entity, and a paragraph start that would open a
list, a quote, a heading or a rule), so the file stays readable.

The date is the one given, else the file's modification time in the site's
timezone, to the second. The article's id is written into the front matter at
once, derived the way the build derives a missing one, so it never changes
after the import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Literal

import yaml

from publisher.atomic import write_new
from publisher.config import Settings
from publisher.content import characters, frontmatter
from publisher.content.ids import insert_id
from publisher.content.load import derive_id
from publisher.errors import ImporterError, Problem
from publisher.text import slugify

MAX_TITLE_CHARS = 200
MAX_HEADING_WORDS = 12
MAX_HEADING_CHARS = 100
FOOTER_WORDS = ("next", "previous")  # the old site's footer, read from the end
LAYOUT_HINT = "the first line is the title; the text follows it after a blank line"

_CLOSERS = "\"'”’»)]"
_CLAUSE_END = ".!:;,…"
_INLINE_SPECIAL = re.compile(
    r"[\\`*\[~]"  # escapes, code, emphasis, links and images, strikethrough
    r"|<(?=[A-Za-z/!?])"  # raw HTML and autolinks
    r"|&(?=#?\w+;)"  # entity references such as &amp;
    r"|(?<![^\W_])_|_(?![^\W_])"  # '_' that is not inside a word
)
_BLOCK_START = re.compile(
    r"^(?:#{1,6}(?=\s|$)|>|[-+](?=\s|$)|(?=(?:-[ \t]*){3,}$))"  # heading, quote, list, rule
)
_ORDERED_START = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_CLOSING_HASHES = re.compile(r"(\s)(#+)$")

Kind = Literal["heading", "paragraph"]


@dataclass(frozen=True, slots=True)
class Block:
    kind: Kind
    text: str  # the author's text on one line, not yet escaped


@dataclass(frozen=True, slots=True)
class PlainArticle:
    """What a plain-text file says, before it becomes Markdown."""

    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What the command line can set for every file of one import."""

    date: datetime | None = None  # aware; None means each file's modification time
    tags: tuple[str, ...] = ()
    draft: bool = False


@dataclass(frozen=True, slots=True)
class Imported:
    source: Path  # the plain-text file, as given
    target: str  # the new article, relative to the site root
    title: str
    left_out: int = 0  # invisible control characters that no feed could carry


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: tuple[Imported, ...]
    problems: tuple[Problem, ...]


# --- reading plain text -------------------------------------------------------------


def parse_text(text: str, source: str) -> PlainArticle:
    """Split decoded text (LF line endings) into title and blocks, or raise ImporterError."""
    lines = [line.strip() for line in text.split("\n")]
    if not any(lines):
        message = "the file is empty" if not text else "the file holds only white space"
        raise ImporterError(message, path=source, hint=LAYOUT_HINT)
    title_line = next(number for number, line in enumerate(lines, start=1) if line)
    title = " ".join(lines[title_line - 1].split())
    _check_title(title, title_line, source)
    body = _without_footer(lines[title_line:])
    blocks = tuple(_block(group) for group in _groups(body))
    if not blocks:
        raise ImporterError("there is no text after the title", path=source, line=title_line,
                            hint=LAYOUT_HINT)
    return PlainArticle(title, blocks)


def _check_title(title: str, line: int, source: str) -> None:
    """A first line too long or without letters means the file has no title line."""
    if len(title) > MAX_TITLE_CHARS:
        raise ImporterError(
            f"no title line: the first line is {len(title)} characters long, "
            f"and a title has at most {MAX_TITLE_CHARS}",
            path=source, line=line, hint=LAYOUT_HINT,
        )
    if not slugify(title):
        raise ImporterError(
            f"no title line: the first line {title!r} has no letters or digits",
            path=source, line=line, hint=LAYOUT_HINT,
        )


def _without_footer(lines: list[str]) -> list[str]:
    """Drop the old site's "Previous / Previous / title / Next / Next / title" footer.

    Either half may be missing (the first and the newest article had only one),
    but each must be complete, so a heading "Next" over a paragraph stays.
    """
    filled = [i for i, line in enumerate(lines) if line]
    end = len(filled)
    for word in FOOTER_WORDS:
        if end >= 3 and all(lines[filled[k]].casefold() == word for k in (end - 3, end - 2)):
            end -= 3
    if end == len(filled):
        return lines
    return lines[: filled[end - 1] + 1] if end else []


def _groups(lines: Iterable[str]) -> Iterable[list[str]]:
    """Runs of non-blank lines; any number of blank lines separates two blocks."""
    group: list[str] = []
    for line in lines:
        if line:
            group.append(line)
        elif group:
            yield group
            group = []
    if group:
        yield group


def _block(group: list[str]) -> Block:
    text = " ".join(" ".join(group).split())
    kind: Kind = "heading" if len(group) == 1 and is_heading(text) else "paragraph"
    return Block(kind, text)


def is_heading(line: str) -> bool:
    """Short, not lowercase at the start, and not ended like a sentence ('?' is fine)."""
    core = line.rstrip(_CLOSERS)
    return (
        len(line.split()) <= MAX_HEADING_WORDS
        and len(line) <= MAX_HEADING_CHARS
        and any(c.isalpha() for c in line)
        and not line[0].islower()
        and bool(core)
        and core[-1] not in _CLAUSE_END
    )


# --- writing Markdown ---------------------------------------------------------------


def escape_inline(text: str) -> str:
    """Backslash only the characters that Markdown would read as markup."""
    return _INLINE_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def render_block(block: Block) -> str:
    """One block as Markdown, escaped so that it renders as the author's text."""
    text = escape_inline(block.text)
    if block.kind == "heading":
        return "## " + _CLOSING_HASHES.sub(r"\1\\\2", text)
    text = _ORDERED_START.sub(r"\1\\\2", text)
    return "\\" + text if _BLOCK_START.match(text) else text


class _FrontMatterDumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML has no types
    """Dates as ISO 8601 with a 'T', and lists on one line: `tags: [Transit, Council]`."""


_FrontMatterDumper.add_representer(
    datetime,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:timestamp",
                                                  value.isoformat()),
)
_FrontMatterDumper.add_representer(
    list,
    lambda dumper, value: dumper.represent_sequence("tag:yaml.org,2002:seq", value,
                                                    flow_style=True),
)


def front_matter(title: str, date: datetime, tags: Sequence[str] = (), draft: bool = False
                 ) -> str:
    """YAML front matter; PyYAML does the quoting, so any title survives a round trip."""
    data: dict[str, object] = {"title": title, "date": date}
    if tags:
        data["tags"] = list(tags)
    if draft:
        data["draft"] = True
    dumped = yaml.dump(data, Dumper=_FrontMatterDumper, sort_keys=False, allow_unicode=True,
                       width=10_000)
    return f"---\n{dumped}---\n"


def to_markdown(article: PlainArticle, *, date: datetime, source: str,
                tags: Sequence[str] = (), draft: bool = False) -> str:
    """The whole article file, with its permanent id; `source` is its path in the site.

    The text is read back with the loader before the id is added: what we
    write is proved to load, and the id is the one the build would derive.
    """
    body = "\n\n".join(render_block(block) for block in article.blocks)
    text = f"{front_matter(article.title, date, tags, draft)}\n{body}\n"
    fields, problems = frontmatter.parse(text, source, UTC)
    if fields is None:
        reasons = "; ".join(p.message for p in problems if not p.warning)
        raise ImporterError(f"the article made from this file would not load: {reasons}",
                            path=source)
    return insert_id(text.encode(), derive_id(source, fields)).decode()


# --- importing files ----------------------------------------------------------------


def import_files(files: Sequence[Path], settings: Settings, options: ImportOptions
                 ) -> ImportReport:
    """Import every file it can; the problems of the others are reported, not raised.

    Nothing existing is ever overwritten: a taken file name is a problem of the
    file being imported, and the other files still go in.
    """
    imported: list[Imported] = []
    problems: list[Problem] = []
    for path in files:
        try:
            imported.append(import_file(path, settings, options, imported))
        except ImporterError as exc:
            problems.append(exc.problem)
    return ImportReport(tuple(imported), tuple(problems))


def import_file(path: Path, settings: Settings, options: ImportOptions,
                earlier: Sequence[Imported] = ()) -> Imported:
    """Read, convert and write one file; `earlier` are the files of this run already done."""
    label = str(path)
    text = _read_text(path)
    article = parse_text(characters.left_out(text), label)
    date = (options.date or _modified(path, settings.zone)).replace(microsecond=0)
    target = settings.content_path / f"{slugify(article.title)}.md"
    relative = site_relative(target, settings.root)
    markdown = to_markdown(article, date=date, source=relative, tags=options.tags,
                           draft=options.draft)
    _write(target, markdown.encode(), label, relative, earlier)
    return Imported(path, relative, article.title, characters.control_count(text))


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImporterError(f"cannot read the file: {exc.strerror or exc}", path=path,
                            hint="check the file name") from None
    text, problems = frontmatter.decode(raw, str(path))
    if text is None:
        problem = problems[0]
        raise ImporterError(problem.message, path=path, line=problem.line, hint=problem.hint)
    broken = [p for p in characters.text_problems(text, str(path), 1) if not p.warning]
    if broken:  # U+FFFE and the like are no text: the file needs a look before it comes in
        raise ImporterError(broken[0].message, path=path, line=broken[0].line,
                            hint=broken[0].hint)
    return text


def _modified(path: Path, zone: tzinfo) -> datetime:
    """The file's modification time in the site's zone: the best guess of its date."""
    return datetime.fromtimestamp(path.stat().st_mtime, tz=zone)


def _write(target: Path, data: bytes, label: str, relative: str,
           earlier: Sequence[Imported]) -> None:
    try:
        write_new(target, data)
    except FileExistsError:
        raise _taken(label, relative, earlier) from None
    except OSError as exc:
        raise ImporterError(f"cannot write {relative}: {exc.strerror or exc}", path=label,
                            hint="make the content folder writable") from None


def _taken(label: str, relative: str, earlier: Sequence[Imported]) -> ImporterError:
    """Name both files, and say whether the other one came from this very run."""
    twin = next((done for done in earlier if done.target == relative), None)
    if twin is not None:
        return ImporterError(
            f"{relative} was just imported from {twin.source}, whose title has the same "
            "slug; it was not overwritten",
            path=label, hint="change the title on the first line of one of the two files",
        )
    return ImporterError(
        f"{relative} already exists; it was not overwritten", path=label,
        hint=f"to import again, rename or delete {relative}, or change the title on the "
        "first line of this file",
    )


def site_relative(path: Path, root: Path) -> str:
    """The path as the loader names it (relative to the site root, '/' separators)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
