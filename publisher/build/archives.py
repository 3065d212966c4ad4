"""Feed history (RFC 5005, "Archived Feeds"): every article in exactly one archive document.

A feed's subscription document holds its newest articles; its archive
documents together hold all of them. While every article fits in the
subscription document, there are no archives and it says it is complete
(`fh:complete`, RFC 5005 section 2). Archives are numbered from the oldest:
`archive/1/` holds the first `size` articles ever published (by date, then
id), `archive/2/` the next `size`, and so on; the newest one is partly full (or
empty, the moment the one before it fills up).

A full archive never changes again as new articles are published, so readers
and caches may keep it for good: its entries are fixed, and so are its links —
`prev-archive` to the one before, `next-archive` to the one after (which exists
from the moment this one is full), `current` to the subscription document.
Editing, deleting or back-dating an article changes the archive that holds it
(and, for the last two, those after it). JSON Feed has no archives: its pages
are the same documents, chained from the newest by `next_url`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from publisher.build.feeds import FeedSpec, last_updated
from publisher.models import Article

FOLDER = "archive/"


def page_of(number: int) -> str:
    return f"{FOLDER}{number}/"


def is_archive(path: str) -> bool:
    """True for a file of an archive document (never pinged to WebSub hubs)."""
    return f"/{FOLDER}" in f"/{path}"


def documents(spec: FeedSpec, published: Sequence[Article], latest: int, size: int
              ) -> Iterator[tuple[FeedSpec, Sequence[Article]]]:
    """The subscription document of `spec` (the newest `latest` articles), then its archives.

    `published` is newest first, as everywhere else.
    """
    chunks = split(published, size)
    newest = len(chunks)
    if not chunks:
        yield replace(spec, complete=len(published) <= latest), published[:latest]
        return
    yield replace(spec, links=(("prev-archive", page_of(newest)),)), published[:latest]
    for number, chunk in enumerate(chunks, start=1):
        archive_links = [("current", "")]
        if number > 1:
            archive_links.append(("prev-archive", page_of(number - 1)))
        if number < newest:
            archive_links.append(("next-archive", page_of(number + 1)))
        # An empty archive (the one after a full one) is as recent as the one before it.
        empty_date = last_updated(chunks[number - 2]) if number > 1 else spec.empty_date
        yield replace(spec, page=page_of(number), links=tuple(archive_links),
                      empty_date=empty_date), chunk


def split(published: Sequence[Article], size: int) -> list[tuple[Article, ...]]:
    """The archives' articles, oldest archive first, each newest first.

    With n ≥ `size` articles there are n // size + 1 archives (none for fewer): the
    last one holds the n % size newest articles, and is empty right after the one
    before it filled up, so that a full archive's `next-archive` link exists from
    the start.
    """
    if len(published) < size:
        return []
    oldest_first = list(reversed(published))
    count = len(oldest_first) // size + 1
    return [tuple(reversed(oldest_first[n * size:(n + 1) * size])) for n in range(count)]
