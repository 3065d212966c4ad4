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

from publisher.content import characters, yaml_quirks
from publisher.content.fields import FIELDS, KNOWN_KEYS, TEXT_KEYS, Check
from publisher.errors import Problem
from publisher.text import character_name

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


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode(raw: bytes, source: str) -> tuple[str | None, list[Problem]]:
    """Decode UTF-8 (a BOM is fine) and normalise line endings (CRLF and CR alike)."""
    if raw.startswith(_UTF16_BOMS) or raw[:200].count(b"\x00") > len(raw[:200]) // 4:
        return None, [Problem("the file is in UTF-16, not UTF-8", path=source, line=1,
                              hint="save it again as UTF-8 (in Notepad: Save as, Encoding "
                              "UTF-8)")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        prefix = raw[: exc.start]
        line = prefix.count(b"\n") + 1 if b"\n" in raw else prefix.count(b"\r") + 1
        column = exc.start - max(prefix.rfind(b"\n"), prefix.rfind(b"\r"))
        return None, [
            Problem(
                f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at column {column} "
                f"(offset {exc.start})",
                path=source, line=line,
                hint="save the file with UTF-8 encoding; a file saved as Windows-1252 or "
                "Latin-1 can be converted with `iconv -f windows-1252 -t utf-8`",
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
        document = yaml_quirks.load(header)
    except yaml_quirks.YAMLError as exc:
        return None, [_yaml_problem(exc, source, header)]
    except RecursionError:
        return None, [Problem("the front matter is nested too deeply to read", path=source,
                              line=2, hint="front matter holds a few plain keys and values")]
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        return None, [
            Problem(
                f"the front matter must be a mapping of keys to values, not a {_kind(data)}",
                path=source, line=2,
                hint="write one 'key: value' per line, e.g. 'title: Ferry fares rise'",
            )
        ]
    for key in TEXT_KEYS:
        if key in data:
            data[key] = yaml_quirks.text_as_written(data[key], document.written.get(key))
    problems = [_duplicate_problem(d, source) for d in document.duplicates]
    if characters.suspect(body):
        problems += characters.text_problems(body, source, body_line)
        body = characters.left_out(body)
    fields, found = _validate(data, header, body, body_line, source, zone)
    problems += found
    return (None if any(not p.warning for p in problems) else fields), problems


def _duplicate_problem(duplicate: yaml_quirks.Duplicate, source: str) -> Problem:
    first = duplicate.first_line + 2  # the YAML text starts on the file's second line
    return Problem(f"duplicate key {duplicate.key!r}: also on line {first}; the value on "
                   f"line {duplicate.line + 2} is the one used", path=source,
                   line=duplicate.line + 2, key=duplicate.key, warning=True,
                   hint="delete one of the two lines")


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


def _yaml_problem(exc: yaml_quirks.YAMLError, source: str, header: str) -> Problem:
    # The context mark (where an unclosed bracket or quote began) is the line to fix;
    # the problem mark is where the parser gave up, often a line later.
    mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
    line = mark.line + 2 if mark is not None else None
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"broken YAML in the front matter: {what}" + (f" ({context})" if context else "")
    hint = "quote values that contain ':' or start with a special character, and close " \
        "every bracket and quote"
    breaks = [c for c in ("\x85", "\u2028", "\u2029") if c in header]
    if breaks:
        hint = f"the front matter holds {character_name(breaks[0])}, which YAML reads as the " \
            "end of a line: delete it"
    return Problem(message, path=source, line=line, hint=hint)


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )
