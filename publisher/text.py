"""Text rules that every wing shares: slugs, one-line values, counts and dates for people.

Each rule is written once, here, so that a tag slugged by the loader, the store
and the subscribe form is the same slug, and a title cleaned for a feed is the
same title cleaned for an email header.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime, timedelta, tzinfo
from urllib.parse import urlsplit

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
SLUG_LENGTH = 80

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SHORT = (("w", timedelta(weeks=1)), ("d", timedelta(days=1)), ("h", timedelta(hours=1)),
          ("m", timedelta(minutes=1)))
# An addr-spec that cannot break out of a header field: no white space, no brackets or
# quotes, no second "@", no control character, and not shaped like an encoded word.
_ADDRESS_PART = r"[^\s<>\"(),;:\\@\[\]\x00-\x1f\x7f]+"
_PLAIN_ADDRESS = re.compile(_ADDRESS_PART + "@" + _ADDRESS_PART)
# What XML 1.0 cannot carry (its `Char` production leaves them out): the C0 controls but
# tab, LF and CR, lone surrogates, U+FFFE and U+FFFF. lxml refuses a string holding one, and
# a page or JSON Feed cannot be encoded with a surrogate, so none may reach an output.
XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL_NAMES = {"\x00": "NUL", "\x08": "BACKSPACE", "\x0b": "VERTICAL TAB",
                  "\x0c": "FORM FEED", "\x1b": "ESCAPE", "\x7f": "DELETE", "\x85": "NEXT LINE",
                  "\x1a": "SUBSTITUTE, the end-of-file mark of old DOS editors"}
SLUG_BYTES = 200  # a slug names a folder: well under the 255 bytes a file name may have
MAX_DURATION = timedelta(days=36_525)  # a hundred years: anything longer is a typing slip
DURATION_HINT = "write a whole number followed by m, h, d or w, e.g. '15m', '6h', '1d', '2w'"


def slugify(text: str) -> str:
    """Lowercase words joined by hyphens; accents and apostrophes dropped, other scripts kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c) and c not in "'’")
    words = re.split(r"[\W_]+", stripped.lower())
    slug = "-".join(w for w in words if w)[:SLUG_LENGTH]
    while len(slug.encode()) > SLUG_BYTES:  # only letters of four bytes each come this far
        slug = slug[:-1]
    return slug.strip("-")


def one_line(text: str) -> str:
    """Control characters and line breaks become spaces; runs of white space become one.

    Titles and names end up in header fields, where a line break would open a hole.
    """
    return " ".join(_CONTROL.sub(" ", text).split())


def plain_title(text: str) -> str:
    """A title as plain text: markup tags dropped, character references read, one line.

    Feed readers show a title as text, and validators flag one that looks like HTML
    (`<em>…</em>`, `&amp;`), so "<em>Hamlet</em> &amp; friends" is "Hamlet & friends".
    """
    return one_line(html.unescape(_TAG.sub("", text)))


RIGHT_TO_LEFT = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "ks", "ku", "nqo", "ps", "sd",
                           "syr", "ug", "ur", "yi"})


def direction(language: str) -> str:
    """"rtl" for a language written right to left (by its primary subtag), else "ltr"."""
    return "rtl" if language.split("-")[0].lower() in RIGHT_TO_LEFT else "ltr"


def plural(count: int, word: str) -> str:
    """"1 article", "1,024 articles"."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def long_date(moment: datetime, zone: tzinfo) -> str:
    """"2 November 2026": the day as it was in `zone` (the site's timezone)."""
    local = moment.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def parse_duration(text: str) -> timedelta:
    """'15m', '6h', '1d' or '2w' as a timedelta; ValueError if it is not one, zero, or huge.

    The one grammar of every duration a user writes: `[email] period`, a schedule's
    `every` and `catch_up`.
    """
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration; {DURATION_HINT}")
    number, unit = int(match.group(1)), _UNITS[match.group(2)]
    if number > MAX_DURATION // timedelta(**{unit: 1}):
        raise ValueError(f"{text!r} is longer than a hundred years; {DURATION_HINT}")
    return timedelta(**{unit: number})


def format_duration(span: timedelta) -> str:
    """The shortest way to write `span` in the units of `parse_duration`: 90 min is '90m'."""
    for unit, size in _SHORT:
        if span % size == timedelta(0):
            return f"{span // size}{unit}"
    return f"{int(span.total_seconds())}s"


def is_plain_address(value: str) -> bool:
    """True for `name@example.org`; False for anything that could not stand alone in a header.

    The one rule for addresses the site itself sends from (`[email]`, `[author]`) and
    the last check before any address reaches a header field.
    """
    return _PLAIN_ADDRESS.fullmatch(value) is not None and "=?" not in value


def character_name(char: str) -> str:
    """"U+000C (FORM FEED)": a character a person cannot see, named so they can find it."""
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "")
    if not name:
        kinds = {"Cc": "a control character", "Cs": "half of a UTF-16 surrogate pair",
                 "Cn": "not a character"}
        name = kinds.get(unicodedata.category(char), "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def position(text: str, index: int) -> tuple[int, int]:
    """The 0-based line and 1-based column of `text[index]` (lines end in "\\n")."""
    line = text.count("\n", 0, index)
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def xml_unsafe(text: str) -> str | None:
    """The first character of `text` that XML 1.0 cannot carry, if there is one."""
    match = XML_UNSAFE.search(text)
    return match.group() if match else None


def url_problem(value: str, *, relative: bool = False) -> str | None:
    """What keeps `value` from being an http(s) URL (or, with `relative`, a path), if anything.

    The one rule for URLs a user writes: the site's `base_url`, hubs, an author's
    page, an article's image.
    """
    if not value.strip():
        return "it is empty"
    bad = re.search(r"[\s\x00-\x1f\x7f<>\"\\]", value)
    if bad:
        return f"it holds {character_name(bad.group())}" if bad.group() != " " else \
            "it holds a space (write %20)"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return f"it cannot be read as a URL ({exc})"
    if relative and not parts.scheme:
        return None  # a path, or a URL without its scheme ("//cdn.example.org/a.png")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an absolute http(s) URL"
    return None
