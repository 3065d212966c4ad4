"""The front-matter keys an article may have, each read and checked by a small function.

`FIELDS` maps a key to its reader, in the order they are read: a reader takes
the value as YAML gave it (None when the key is absent) and a `Check`, which
reports problems at the key's line and shows the fields read before it (the
slug defaults to the title's). Adding a key is one function and one line here,
plus its place in `FrontMatter`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any

from publisher.errors import Problem
from publisher.text import one_line, slugify

DATE_HINT = "write a date as 2026-11-03, 2026-11-03 09:30 or 2026-11-03T09:30:00+01:00"
_SLUG_OK = re.compile(r"^[\w][\w-]*$")


@dataclass
class Check:
    """What a reader may consult and where it reports: one file's front matter."""

    source: str
    header: str  # the YAML text, for line numbers
    zone: tzinfo  # naive dates are read in the site's timezone
    fields: dict[str, Any] = field(default_factory=dict)  # the fields read so far
    problems: list[Problem] = field(default_factory=list)
    key: str = ""  # the key being read

    def problem(self, message: str, hint: str | None = None, *, key: str | None = None) -> None:
        key = key or self.key
        self.problems.append(Problem(message, path=self.source, line=self.line_of(key) or 1,
                                     key=key, hint=hint))

    def line_of(self, key: str) -> int | None:
        match = re.search(rf"^{re.escape(key)}\s*:", self.header, re.MULTILINE)
        return self.header.count("\n", 0, match.start()) + 2 if match else None


Reader = Callable[[Any, Check], Any]


def text_of(value: Any) -> str:
    """A scalar as one line of text (titles end up in email headers); "" for a mapping or list."""
    if value is None or isinstance(value, dict | list):
        return ""
    return one_line(str(value))


def _title(value: Any, check: Check) -> str:
    title = text_of(value)
    if not title:
        check.problem("missing or empty title", "add a line 'title: ...' to the front matter")
    return title


def _date(value: Any, check: Check) -> datetime | None:
    if value is None:
        if check.key == "date":  # `updated` may be left out
            check.problem("missing date", DATE_HINT)
        return None
    parsed = parse_date(value, check.zone)
    if parsed is None:
        check.problem(f"cannot read {check.key} {str(value)!r}", DATE_HINT)
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


def _slug(value: Any, check: Check) -> str:
    """The slug as written, else made from the title."""
    if value is not None:
        slug = str(value).strip()
        if not _SLUG_OK.match(slug):
            check.problem(f"slug {slug!r} is not usable in a URL",
                          "use lowercase letters, digits and hyphens, e.g. 'ferry-fares'")
        return slug
    title = check.fields.get("title")
    if not title:
        return ""  # the title's own problem says it all
    slug = slugify(title)
    if not slug:
        check.problem("cannot make a URL slug from this title", "add 'slug: ...'", key="title")
    return slug


def _tags(value: Any, check: Check) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or any(isinstance(t, dict | list) for t in value):
        check.problem("tags must be a list, e.g. [transport, council]")
        return ()
    seen: dict[str, str] = {}
    for tag in value:
        name = " ".join(str(tag).split())
        if name and slugify(name) and slugify(name) not in seen:
            seen[slugify(name)] = name
        elif name and not slugify(name):
            check.problem(f"tag {name!r} has no letters or digits")
    return tuple(seen.values())


def _author(value: Any, check: Check) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return {"name": text_of(value)}
    if isinstance(value, dict) and text_of(value.get("name")):
        unknown = set(map(str, value)) - {"name", "email", "url"}
        if unknown:
            check.problem(f"unknown author field {sorted(unknown)[0]!r}", "use name, email, url")
        return {k: text_of(v) for k, v in value.items() if k in ("name", "email", "url") and v}
    check.problem("author must be a name, or a mapping with name (and email, url)")
    return None


def _draft(value: Any, check: Check) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        check.problem("draft must be true or false")
    return bool(value)


def _summary(value: Any, check: Check) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        check.problem("summary must be text")
    return str(value).strip()


def _image(value: Any, check: Check) -> str | None:
    if value is not None and not isinstance(value, str):
        check.problem("image must be a URL or a path")
    return value if isinstance(value, str) else None


def _id(value: Any, check: Check) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list) or not str(value).strip():
        check.problem("id must be a non-empty string",
                      "remove the line to let the build assign one")
    return str(value).strip()


FIELDS: dict[str, Reader] = {
    "title": _title,
    "date": _date,
    "updated": _date,
    "slug": _slug,
    "tags": _tags,
    "author": _author,
    "draft": _draft,
    "summary": _summary,
    "image": _image,
    "id": _id,
}
KNOWN_KEYS = tuple(FIELDS)
