"""Each article's feed entry rendered once per format, however many documents show it.

An article appears in the site's feed or one of its archives and again in each
of its tags' (a cold build of 10,000 articles with two tags each renders some
30,000 entries per format for 10,000 distinct ones). An entry depends only on
the article, whether feeds carry the full text, and the site's author, so it is
kept, in a bounded memo, under exactly those. The build hands documents out in
the order of their articles' dates, so the entries a document needs are the
recent ones.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from publisher.models import Article, Site

# Entries per format. At 10,000 articles with two of 30 tags each, 13,100 are made for the
# 31,500 the documents show (10,000 distinct); 2,048 would make 10,700. An entry is kept as
# its written bytes, about 7 KB for an 850-word article in full: some 7 MB per format.
SIZE = 1024

T = TypeVar("T")


def entry_key(site: Site, article: Article, full: bool) -> Hashable:
    """Everything an entry is made from: the article as shown (its fingerprint), the mode
    and the author who signs an article that names none."""
    shown: Hashable = (article.id, article.fingerprint) if article.fingerprint else article
    return (shown, full, site.author)


class Memo(Generic[T]):
    """A small least-recently-used map of one thread (`memo.get` finds that thread's own)."""

    def __init__(self, size: int | None = None) -> None:
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._size = size or SIZE

    def get(self, key: Hashable) -> T | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: Hashable, item: T) -> None:
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


_local = threading.local()


def of_thread(name: str) -> Memo[Any]:
    """This thread's memo called `name` (one per feed format)."""
    memos: dict[str, Memo[Any]] = _local.__dict__.setdefault("memos", {})
    return memos.setdefault(name, Memo())


def forget() -> None:
    """Drop this thread's memos: a long-running `publisher run` builds on several threads of
    its pool, and each would otherwise keep its last build's entries (and their documents)."""
    _local.__dict__.pop("memos", None)
