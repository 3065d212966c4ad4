"""Each reader's own articles in a digest readers choose as their cadence, rendered once per set.

A reader who changes cadence must never miss an article nor get one twice, so
the articles of their message are worked out from what they received, not from
the schedule: every article of the digest's pool that matches their topics,
that none of their messages held, and that was not yet in the pool of the last
digest they received (that one could already have held it; for a first
message: dated within the schedule's period). Newest first; beyond
`max_items`, the rest is left to a link to the site (and counts as sent).

Readers with the same articles share one rendering (and its premailer pass);
each message is spliced from it as usual. The set is recorded on the reader's
ledger row when it is claimed, so a retry sends the same articles.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from publisher.delivery.ledger import Message
from publisher.digest.message import Envelope, MessageTemplate
from publisher.digest.render import RenderOptions, email_environment, render_digest
from publisher.models import Article, Digest, Subscriber

RENDERINGS_KEPT = 256  # distinct article sets kept rendered at once
OWED_KEPT = 4096  # distinct (topics, history) whose articles are kept worked out


class History(Protocol):
    """What a reader received before; `publisher.store.readersets.ReaderHistory`."""

    @property
    def received(self) -> Set[str]: ...

    @property
    def last_pool(self) -> Set[str] | None: ...


class Reader(Protocol):
    """A reader as the ledger has them; `publisher.store.readersets.ReaderState`."""

    @property
    def article_set(self) -> int | None: ...  # their row's set, fixed at its first claim

    @property
    def history(self) -> History: ...


class Readers(Protocol):
    """What tailoring asks the store; `publisher.store.Store` answers."""

    def readers_page(self, digest_id: str, subscriber_ids: Sequence[int], *,
                     since: datetime | None = None) -> Mapping[int, Reader]: ...

    def article_set_for(self, digest_id: str, article_ids: Sequence[str], shown: int) -> int: ...

    def article_set(self, set_id: int) -> tuple[tuple[str, ...], int]: ...


def owed_articles(pool: Sequence[Article], topics: Sequence[str], history: History, *,
                  since: datetime) -> list[Article]:
    """A reader's articles out of `pool` (see the module's docstring), newest first."""
    wanted = set(topics)
    last = history.last_pool
    chosen = [a for a in pool
              if a.id not in history.received
              and (not wanted or any(tag.slug in wanted for tag in a.tags))
              and (a.id not in last if last is not None else a.date >= since)]
    chosen.sort(key=lambda a: (a.date, a.id), reverse=True)
    return chosen


@dataclass(frozen=True, slots=True)
class Tailoring:
    """One chosen-cadence digest: its pool of articles and how to render and sign."""

    digest: Digest
    pool: tuple[Article, ...]
    since: datetime  # how far back a reader's first message reaches
    max_items: int
    horizon: datetime  # the oldest article date in the pool: older history cannot matter
    options: RenderOptions
    envelope: Envelope
    links: Callable[[Subscriber], tuple[str, str]]  # (unsubscribe, preferences) tokens


class Tailor:
    """Makes each reader's message; safe to call from the dispatcher's threads.

    The dispatcher hands it each page of readers before their messages (`prepare`), so
    the ledger is asked about a page in a few queries, not a few per reader; a reader
    met outside a prepared page is looked up alone. What a page says is used once per
    reader: a retry in a later walk is looked up again, and finds its row's set.
    """

    def __init__(self, store: Readers, tailoring: Tailoring) -> None:
        self.store, self.t = store, tailoring
        self.by_id = {a.id: a for a in tailoring.pool}
        self._templates: OrderedDict[tuple[str, ...], MessageTemplate] = OrderedDict()
        self._set_ids: dict[tuple[str, ...], int] = {}
        self._owed_by: dict[tuple[tuple[str, ...], History], tuple[tuple[str, ...], int, int]
                            | None] = {}
        self._lock = threading.Lock()
        self._rendering: dict[tuple[str, ...], threading.Lock] = {}  # sets being rendered
        self._env = email_environment(tailoring.options.templates, tailoring.options.zone)
        # the last two pages prepared: a thread may still be on the last reader of one
        # while another prepares the next
        self._pages: deque[dict[int, Reader]] = deque(maxlen=2)
        self.renderings = 0  # how many distinct sets were rendered (for the benchmark)

    def __call__(self, subscriber: Subscriber) -> Message:
        reader = self._reader(subscriber.id)
        set_id = reader.article_set
        if set_id is not None:  # a retry: the articles of the first attempt
            ids, shown = self.store.article_set(set_id)
        else:
            chosen = self._owed(subscriber.tags, reader.history)
            if chosen is None:
                return Message(None)
            ids, shown, set_id = chosen
        unsubscribe, preferences = self.t.links(subscriber)
        message = self.template(ids, shown).build(subscriber.id, subscriber.email,
                                                  subscriber.name, unsubscribe, preferences)
        return Message(message, set_id)

    def prepare(self, page: Sequence[Subscriber]) -> None:
        """Read what the ledger says of a page of readers, before their messages."""
        found = dict(self.store.readers_page(self.t.digest.id, [s.id for s in page],
                                             since=self.t.horizon))
        with self._lock:
            self._pages.append(found)

    def _reader(self, subscriber_id: int) -> Reader:
        with self._lock:
            for page in reversed(self._pages):
                found = page.pop(subscriber_id, None)
                if found is not None:
                    return found
        return self.store.readers_page(self.t.digest.id, [subscriber_id],
                                       since=self.t.horizon)[subscriber_id]

    def _owed(self, topics: tuple[str, ...], history: History
              ) -> tuple[tuple[str, ...], int, int] | None:
        """A reader's articles, how many are listed and the stored set's id; None: nothing new.

        Worked out once for each distinct (topics, history): most readers share theirs."""
        key = (topics, history)
        with self._lock:
            if key in self._owed_by:
                return self._owed_by[key]
        owed = owed_articles(self.t.pool, topics, history, since=self.t.since)
        found = None
        if owed:
            ids, shown = tuple(a.id for a in owed), min(len(owed), self.t.max_items)
            found = (ids, shown, self._set_id(ids, shown))
        with self._lock:
            if len(self._owed_by) >= OWED_KEPT:
                self._owed_by.clear()
            self._owed_by[key] = found
        return found

    def _set_id(self, ids: tuple[str, ...], shown: int) -> int:
        """The stored set's id, asked of the store once per distinct set."""
        key = (*ids, str(shown))
        with self._lock:
            found = self._set_ids.get(key)
        if found is None:
            found = self.store.article_set_for(self.t.digest.id, ids, shown)
            with self._lock:
                self._set_ids[key] = found
        return found

    def template(self, ids: tuple[str, ...], shown: int) -> MessageTemplate:
        """The message template of one article set, rendered on first use.

        Rendering takes milliseconds: it holds only its set's lock, so the other threads
        go on sending the sets already rendered, and a thread wanting the same set waits
        for that one rendering."""
        key = (*ids[:shown], str(len(ids) - shown))
        with self._lock:
            found = self._templates.get(key)
            if found is not None:
                self._templates.move_to_end(key)
                return found
            rendering = self._rendering.setdefault(key, threading.Lock())
        with rendering:
            with self._lock:
                found = self._templates.get(key)
            if found is not None:
                return found
            articles = [self.by_id[i] for i in ids[:shown] if i in self.by_id]
            digest = replace(self.t.digest, article_ids=tuple(a.id for a in articles))
            rendered = render_digest(self.t.options, digest, articles, more=len(ids) - shown,
                                     env=self._env, cache_css=True).rendered
            template = MessageTemplate(self.t.envelope, digest, rendered)
            with self._lock:
                self.renderings += 1
                self._templates[key] = template
                if len(self._templates) > RENDERINGS_KEPT:
                    self._templates.popitem(last=False)
                del self._rendering[key]
            return template
