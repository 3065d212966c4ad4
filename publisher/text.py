"""Text rules that every wing shares: slugs, one-line values, counts and dates for people.

Each rule is written once, here, so that a tag slugged by the loader, the store
and the subscribe form is the same slug, and a title cleaned for a feed is the
same title cleaned for an email header.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, tzinfo

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
SLUG_LENGTH = 80

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def slugify(text: str) -> str:
    """Lowercase words joined by hyphens; accents and apostrophes dropped, other scripts kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c) and c not in "'’")
    words = re.split(r"[\W_]+", stripped.lower())
    return "-".join(w for w in words if w)[:SLUG_LENGTH].strip("-")


def one_line(text: str) -> str:
    """Control characters and line breaks become spaces; runs of white space become one.

    Titles and names end up in header fields, where a line break would open a hole.
    """
    return " ".join(_CONTROL.sub(" ", text).split())


def plural(count: int, word: str) -> str:
    """"1 article", "1,024 articles"."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def long_date(moment: datetime, zone: tzinfo) -> str:
    """"2 November 2026": the day as it was in `zone` (the site's timezone)."""
    local = moment.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"
