"""Small pieces of the archive pages: dates in the site's timezone, and article HTML fit for a page.

An article's HTML is shared by feeds, pages and email, so it is written without
knowing where it will sit. On a page it sits under the article's own `<h1>`: its
headings are renumbered to follow on from it without gaps, every table scrolls
inside its own box instead of widening a phone's screen, and an image the author
left without alternative text is marked decorative rather than read out by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup

from publisher.text import long_date

_HEADING = re.compile(r"<(/?)h([1-6])(?=[\s>])")
_TABLE_OPEN = re.compile(r"<table(?=[\s>])")
_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt=)(?=[\s/>])")
TABLE_BOX = '<div class="table-scroll" role="region" aria-label="Table" tabindex="0">'


def date_iso(moment: datetime, zone: ZoneInfo) -> str:
    """The machine-readable form for `<time datetime>`, with the site's offset."""
    return moment.astimezone(zone).isoformat()


def date_filters(timezone: str) -> dict[str, Callable[[datetime], str]]:
    """The Jinja filters `date_label` and `date_iso`, bound to the site's timezone."""
    zone = ZoneInfo(timezone)
    return {
        "date_label": lambda moment: long_date(moment, zone),
        "date_iso": lambda moment: date_iso(moment, zone),
    }


def page_body(fragment: str, parent_level: int = 1) -> Markup:
    """Article HTML (already sanitized) made ready to sit under a heading of `parent_level`."""
    html = nest_headings(fragment, parent_level)
    if "<table" in html:
        html = _TABLE_OPEN.sub(TABLE_BOX + "<table", html).replace("</table>", "</table></div>")
    if "<img" in html:
        html = _IMG_WITHOUT_ALT.sub('<img alt=""', html)
    return Markup(html)  # noqa: S704 - the fragment was sanitized when the article was read


def nest_headings(fragment: str, parent_level: int = 1) -> str:
    """Renumber headings to start just below `parent_level` and never skip a level.

    The levels an author used keep their order (an `h2` stays above an `h3`), so
    a page that starts its sections with `#` or with `###` reads the same as one
    that starts them with `##`. Levels deeper than six stay at six.
    """
    if "<h" not in fragment:
        return fragment
    found = [int(level) for closing, level in _HEADING.findall(fragment) if not closing]
    rank = {level: index for index, level in enumerate(sorted(set(found)))}
    wanted: list[int] = []
    for level in found:
        previous = wanted[-1] if wanted else parent_level
        wanted.append(min(parent_level + 1 + rank[level], previous + 1, 6))
    if wanted == found:
        return fragment  # the usual case: nothing to change, and no second pass
    levels = iter(wanted)
    current = [parent_level]

    def renumber(match: re.Match[str]) -> str:
        if match.group(1):
            return f"</h{current[0]}"
        current[0] = next(levels)
        return f"<h{current[0]}"

    return _HEADING.sub(renumber, fragment)
