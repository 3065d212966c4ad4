"""Which articles go into a digest: the new ones, once each, newest first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from datetime import datetime

from publisher.models import Article
from publisher.text import slugify


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
