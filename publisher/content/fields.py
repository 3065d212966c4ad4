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
from datetime import UTC, date, datetime, time, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any

from publisher.content.characters import left_out, suspect, text_problems
from publisher.errors import Problem
from publisher.text import (
    SLUG_BYTES,
    XML_UNSAFE,
    character_name,
    is_plain_address,
    one_line,
    slugify,
    url_problem,
)

DATE_HINT = "write a date as 2026-11-03, 2026-11-03 09:30 or 2026-11-03T09:30:00+01:00"
_SLUG_OK = re.compile(r"[\w][\w-]*")
MAX_TAGS = 100  # each tag is a page and a set of feeds that lists the article with all its tags
MAX_TAG_CHARS = 100


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

    def text(self, value: Any) -> str:
        """A scalar as one line of text, its odd characters reported at the key's line."""
        text = text_of(value)
        if text and suspect(str(value)):  # the line is looked up only when it is needed
            self.problems.extend(text_problems(str(value), self.source,
                                               self.line_of(self.key) or 1, key=self.key))
        return text

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
    title = check.text(value)
    if not title:
        check.problem("missing or empty title", "add a line 'title: ...' to the front matter")
    return title


def _date(value: Any, check: Check) -> datetime | None:
    if value is None:
        if check.key == "date":  # `updated` may be left out
            check.problem("missing date", DATE_HINT)
        return None
    try:
        return parse_date(value, check.zone)
    except ValueError as exc:
        reason = f": {exc}" if str(exc) else ""
        check.problem(f"cannot read {check.key} {str(value)!r}{reason}", DATE_HINT)
    return None


def parse_date(value: Any, zone: tzinfo) -> datetime:
    """Read a YAML date, datetime or string; a naive value is read in the site's zone.

    ValueError says what is wrong when it can ("day is out of range for month").
    """
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        result = _date_text(value.strip())
    else:
        raise ValueError("")
    aware = result.replace(tzinfo=zone) if result.tzinfo is None else result
    try:  # every output shows it in UTC or in the site's zone: both must exist
        aware.astimezone(UTC), aware.astimezone(zone)
    except (OverflowError, ValueError):
        raise ValueError("it is too close to the ends of the calendar") from None
    return aware


def _date_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        reason = "" if str(exc).startswith("Invalid isoformat") else str(exc)
        if reason.startswith("offset must be"):
            reason = "a time zone offset is less than 24 hours, e.g. +01:00"
    try:
        return parsedate_to_datetime(text)  # RFC 2822, as in exports from older systems
    except (TypeError, ValueError, IndexError, OverflowError):
        raise ValueError(reason) from None


def _slug(value: Any, check: Check) -> str:
    """The slug as written, else made from the title."""
    if value is not None:
        slug = str(value).strip()
        if not _SLUG_OK.fullmatch(slug):
            check.problem(f"slug {slug!r} is not usable in a URL",
                          "use lowercase letters, digits and hyphens, e.g. 'ferry-fares'")
        elif len(slug.encode()) > SLUG_BYTES:
            check.problem(f"the slug is {len(slug.encode())} bytes long; a folder name may "
                          f"have at most {SLUG_BYTES}", "shorten it to a few words")
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
        name = check.text(tag) if tag is not None else ""
        slug = slugify(name)
        if name and not _tag_problem(name, slug, check) and slug not in seen:
            seen[slug] = name
    if len(seen) > MAX_TAGS:
        check.problem(f"{len(seen):,} tags; an article may have at most {MAX_TAGS}",
                      "keep the tags readers follow; each tag is a page and a feed of its own")
        return ()
    return tuple(seen.values())


def _tag_problem(name: str, slug: str, check: Check) -> bool:
    """Report what keeps `name` from being a tag, if anything."""
    if not slug:
        check.problem(f"tag {name!r} has no letters or digits")
    elif "<" in name or ">" in name:
        check.problem(f"tag {name!r} holds markup", "write the tag as plain text")
    elif len(name) > MAX_TAG_CHARS:
        check.problem(f"a tag of {len(name):,} characters; at most {MAX_TAG_CHARS}",
                      "a tag is a short label, e.g. 'transport'")
    else:
        return False
    return True


def _author(value: Any, check: Check) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return {"name": check.text(value)}
    if isinstance(value, dict) and text_of(value.get("name")):
        unknown = set(map(str, value)) - {"name", "email", "url"}
        if unknown:
            check.problem(f"unknown author field {sorted(unknown)[0]!r}", "use name, email, url")
        author = {k: check.text(v) for k, v in value.items()
                  if k in ("name", "email", "url") and v}
        _author_links(author, check)
        return author
    check.problem("author must be a name, or a mapping with name (and email, url)")
    return None


def _author_links(author: dict[str, str], check: Check) -> None:
    """An author's email and page go into every feed: they must be an address and a URL."""
    if "email" in author and not is_plain_address(author["email"]):
        check.problem(f"author email {author['email']!r} is not an email address",
                      "write a plain address such as desk@example.org")
    reason = url_problem(author["url"]) if "url" in author else None
    if reason:
        check.problem(f"author url {author['url']!r} is not a link: {reason}",
                      "write an absolute URL such as https://example.org/about/")


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
    summary = str(value).strip()
    if suspect(summary):
        check.problems.extend(text_problems(summary, check.source,
                                            check.line_of("summary") or 1, key="summary"))
    return left_out(summary)


def _image(value: Any, check: Check) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        reason: str | None = "it is not text"
    elif _scheme(value) not in ("", "http", "https"):
        reason = "only http and https images are shown"
    else:
        reason = url_problem(value, relative=True)
    if reason:
        check.problem(f"image {str(value)!r} is not a URL or a path: {reason}",
                      "write a path such as images/ferry.jpg or a URL such as "
                      "https://example.org/ferry.jpg")
        return None
    return str(value).strip()


def _scheme(value: str) -> str:
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", value.strip())
    return match.group(1).lower() if match else ""


def _id(value: Any, check: Check) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if isinstance(value, dict | list) or not text:
        check.problem("id must be a non-empty string",
                      "remove the line to let the build assign one")
    elif (bad := XML_UNSAFE.search(text) or re.search(r"[\x00-\x1f\x7f]", text)):
        check.problem(f"the id holds {character_name(bad.group())}; an id is written "
                      "exactly, and no feed could carry this one",
                      "remove the line to let the build assign one, or delete the character")
    return text


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
TEXT_KEYS = ("title", "slug", "tags", "author", "summary", "image", "id")  # read as written
