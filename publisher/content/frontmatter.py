"""Split an article into YAML front matter and Markdown body, and validate the fields.

Every problem is returned, not raised, so that the loader can report all the
problems of all the files in one run. Line numbers count from the top of the
file, the opening `---` being line 1.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import yaml

from publisher.content.fields import FIELDS, KNOWN_KEYS, Check
from publisher.errors import Problem

try:  # the C loader is several times faster; PyYAML ships it in its wheels
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader

_FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)
_CLOSE = re.compile(r"^(---|\.\.\.)[ \t]*$", re.MULTILINE)


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
    """Each key through its reader in `FIELDS`; unknown keys are warnings."""
    check = Check(source, header, zone)
    for key in data:
        if str(key) not in KNOWN_KEYS:
            close = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
            check.problems.append(Problem(
                "unknown front-matter key (ignored)", path=source, line=check.line_of(str(key)),
                key=str(key), warning=True,
                hint=f"did you mean {close[0]!r}?" if close
                else f"known keys: {', '.join(KNOWN_KEYS)}",
            ))
    for key, read in FIELDS.items():
        check.key = key
        check.fields[key] = read(data.get(key), check)
    fields = check.fields
    if any(not p.warning for p in check.problems) or fields["date"] is None:
        return None, check.problems
    return FrontMatter(**fields, body=body, body_line=body_line), check.problems


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
