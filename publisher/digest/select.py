"""Which articles go into a digest: the new ones, once each, newest first."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence, Set
from datetime import datetime, timedelta

from publisher.errors import ConfigError, Problem
from publisher.models import Article
from publisher.text import slugify

_PERIOD = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def choose_articles(
    published: Iterable[Article],
    already_sent: Set[str],
    *,
    since: datetime | None,
    tags: Sequence[str] = (),
    max_items: int,
) -> list[Article]:
    """Articles not yet in a digest of this schedule, newest first, at most `max_items`.

    `published` holds what readers may see now (no drafts, nothing scheduled later).
    `since` is given only for a schedule's first digest, so that a new list starts
    with the last period's articles rather than the whole archive. `tags` are slugs
    (names are accepted and slugified); an article matches if it has any of them.
    """
    wanted = {slugify(tag) for tag in tags}
    chosen = [
        article
        for article in published
        if article.id not in already_sent
        and (since is None or article.date >= since)
        and (not wanted or any(tag.slug in wanted for tag in article.tags))
    ]
    chosen.sort(key=lambda a: (a.date, a.id), reverse=True)
    return chosen[:max(max_items, 0)]


def parse_period(text: str, *, key: str = "email.period") -> timedelta:
    """'90m', '24h', '7d' or '2w' as a timedelta; `key` names the setting in a message."""
    match = _PERIOD.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ConfigError([Problem(
            f"{text!r} is not a period", key=key,
            hint="write a whole number followed by m, h, d or w, e.g. '7d', '24h', '90m', '2w'",
        )])
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
