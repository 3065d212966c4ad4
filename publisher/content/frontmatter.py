"""Split an article into YAML front matter and Markdown body, and validate the fields.

Every problem is returned, not raised, so that the loader can report all the
problems of all the files in one run. Line numbers count from the top of the
file, the opening `---` being line 1.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any

import yaml

from publisher.errors import Problem
from publisher.text import one_line, slugify

try:  # the C loader is several times faster; PyYAML ships it in its wheels
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]

KNOWN_KEYS = (
    "title", "date", "updated", "slug", "summary", "tags", "author", "draft", "image", "id",
)
DATE_HINT = "write a date as 2026-11-03, 2026-11-03 09:30 or 2026-11-03T09:30:00+01:00"
_FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)
_CLOSE = re.compile(r"^(---|\.\.\.)[ \t]*$", re.MULTILINE)
_SLUG_OK = re.compile(r"^[\w][\w-]*$")


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """The validated fields of one article, before rendering."""

    title: str
    date: datetime
    updated: datetime | None
    slug: str
    summary: str | None
    tags: tuple[str, ...]
    author: dict[str, str] | None
    draft: bool
    image: str | None
    id: str | None
    body: str
    body_line: int  # line of the file on which the Markdown body starts


def decode(raw: bytes, source: str) -> tuple[str | None, list[Problem]]:
    """Decode UTF-8 (a BOM is fine) and normalise line endings."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        prefix = raw[: exc.start]
        line = len(prefix.splitlines()) + (not prefix or prefix.endswith((b"\n", b"\r")))
        return None, [
            Problem(
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                path=source, line=line,
                hint="save the file with UTF-8 encoding",
            )
        ]
    return text.replace("\r\n", "\n").replace("\r", "\n"), []


def split(text: str, source: str) -> tuple[str, str, int] | Problem:
    """Return (yaml, body, body_line) or the problem that prevents splitting."""
    if not text.strip():
        return Problem("the file is empty", path=source,
                       hint="add front matter (title, date) and the article text, or delete it")
    if not _FENCE.match(text):
        return Problem(
            "no front matter: the file must start with a line '---'",
            path=source, line=1,
            hint="begin with '---', then 'title: ...' and 'date: ...' lines, then '---'",
        )
    start = text.index("\n") + 1 if "\n" in text else len(text)
    close = _CLOSE.search(text, start)
    if close is None:
        return Problem("the front matter is not closed", path=source, line=1,
                       hint="end the front matter with a line '---'")
    header = text[start : close.start()]
    body_start = close.end() + 1
    body_line = text.count("\n", 0, min(body_start, len(text))) + 1
    return header, text[body_start:], body_line


def parse(text: str, source: str, zone: tzinfo) -> tuple[FrontMatter | None, list[Problem]]:
    """Parse and validate; returns the fields, or None with the problems found."""
    parts = split(text, source)
    if isinstance(parts, Problem):
        return None, [parts]
    header, body, body_line = parts
    try:
        data = yaml.load(header, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(exc, source)]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [
            Problem(
                f"the front matter must be a mapping of keys to values, not a {_kind(data)}",
                path=source, line=2,
                hint="write one 'key: value' per line, e.g. 'title: Ferry fares rise'",
            )
        ]
    return _validate(data, header, body, body_line, source, zone)


def _validate(
    data: dict[Any, Any], header: str, body: str, body_line: int, source: str, zone: tzinfo
) -> tuple[FrontMatter | None, list[Problem]]:
    problems: list[Problem] = []

    def line_of(key: str) -> int | None:
        match = re.search(rf"^{re.escape(key)}\s*:", header, re.MULTILINE)
        return header.count("\n", 0, match.start()) + 2 if match else None

    def problem(key: str, message: str, hint: str | None = None) -> None:
        problems.append(Problem(message, path=source, line=line_of(key) or 1, key=key, hint=hint))

    for key in data:
        if str(key) not in KNOWN_KEYS:
            close = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
            problems.append(Problem(
                "unknown front-matter key (ignored)", path=source, line=line_of(str(key)),
                key=str(key), warning=True,
                hint=f"did you mean {close[0]!r}?" if close
                else f"known keys: {', '.join(KNOWN_KEYS)}",
            ))

    title = _one_line(data.get("title"))
    if not title:
        problem("title", "missing or empty title", "add a line 'title: ...' to the front matter")

    published = _date(data, "date", zone, problem, required=True)
    updated = _date(data, "updated", zone, problem, required=False)

    slug = data.get("slug")
    if slug is not None:
        slug = str(slug).strip()
        if not _SLUG_OK.match(slug):
            problem("slug", f"slug {slug!r} is not usable in a URL",
                    "use lowercase letters, digits and hyphens, e.g. 'ferry-fares'")
    elif title:
        slug = slugify(title)
        if not slug:
            problem("title", "cannot make a URL slug from this title", "add 'slug: ...'")

    tags = _tags(data.get("tags"), problem)
    author = _author(data.get("author"), problem)
    draft = data.get("draft", False)
    if not isinstance(draft, bool):
        problem("draft", "draft must be true or false")
    summary = data.get("summary")
    if summary is not None and not isinstance(summary, str | int | float):
        problem("summary", "summary must be text")
    image = data.get("image")
    if image is not None and not isinstance(image, str):
        problem("image", "image must be a URL or a path")
    ident = data.get("id")
    if ident is not None and (isinstance(ident, dict | list) or not str(ident).strip()):
        problem("id", "id must be a non-empty string",
                "remove the line to let the build assign one")

    if any(not p.warning for p in problems) or published is None or not title or not slug:
        return None, problems
    return FrontMatter(
        title=title, date=published, updated=updated, slug=str(slug),
        summary=str(summary).strip() if summary is not None else None,
        tags=tags, author=author, draft=bool(draft), image=image,
        id=str(ident).strip() if ident is not None else None,
        body=body, body_line=body_line,
    ), problems


def _one_line(value: Any) -> str:
    """A scalar as one line of text (titles end up in email headers); "" for a mapping or list."""
    if value is None or isinstance(value, dict | list):
        return ""
    return one_line(str(value))


def _date(data: dict[Any, Any], key: str, zone: tzinfo, problem: Any, *, required: bool
          ) -> datetime | None:
    value = data.get(key)
    if value is None:
        if required:
            problem(key, f"missing {key}", DATE_HINT)
        return None
    parsed = parse_date(value, zone)
    if parsed is None:
        problem(key, f"cannot read {key} {str(value)!r}", DATE_HINT)
    return parsed


def parse_date(value: Any, zone: tzinfo) -> datetime | None:
    """Read a YAML date, datetime or string; a naive value is read in the site's zone."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            result = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                result = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
    else:
        return None
    return result.replace(tzinfo=zone) if result.tzinfo is None else result


def _tags(value: Any, problem: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or any(isinstance(t, dict | list) for t in value):
        problem("tags", "tags must be a list, e.g. [transport, council]")
        return ()
    seen: dict[str, str] = {}
    for tag in value:
        name = " ".join(str(tag).split())
        if name and slugify(name) and slugify(name) not in seen:
            seen[slugify(name)] = name
        elif name and not slugify(name):
            problem("tags", f"tag {name!r} has no letters or digits")
    return tuple(seen.values())


def _author(value: Any, problem: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return {"name": _one_line(value)}
    if isinstance(value, dict) and _one_line(value.get("name")):
        unknown = set(map(str, value)) - {"name", "email", "url"}
        if unknown:
            problem("author", f"unknown author field {sorted(unknown)[0]!r}",
                    "use name, email, url")
        return {k: _one_line(v) for k, v in value.items() if k in ("name", "email", "url") and v}
    problem("author", "author must be a name, or a mapping with name (and email, url)")
    return None


def _yaml_problem(exc: yaml.YAMLError, source: str) -> Problem:
    # The context mark (where an unclosed bracket or quote began) is the line to fix;
    # the problem mark is where the parser gave up, often a line later.
    mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
    line = mark.line + 2 if mark is not None else None
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"broken YAML in the front matter: {what}" + (f" ({context})" if context else "")
    return Problem(message, path=source, line=line,
                   hint="quote values that contain ':' or start with a special character, "
                   "and close every bracket and quote")


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )
