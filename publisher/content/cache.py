"""A cache of parsed articles keyed on their bytes, so an unchanged site rebuilds in a blink.

Parsing is pure: the same bytes, path and site settings give the same `Article`.
The key is a hash of all three, so the cache can never return a stale article;
it is only ever a shortcut. A damaged cache file is simply started afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from publisher.errors import Problem
from publisher.models import Article

Entry = tuple[Article, tuple[Problem, ...]]  # an article and the warnings its file gave
Encoded = bytes  # an `Entry` as the cache stores it (`encode`)
Store = Callable[[str, Encoded], None]  # keeps one encoded entry (`ArticleCache.put`)

FORMAT = "6"  # bump when Article, the rendering or a module a pickle names changes


def article_key(source: str, raw: bytes, context: str) -> str:
    digest = hashlib.blake2b(raw, digest_size=20)
    digest.update(b"\0" + source.encode() + b"\0" + context.encode() + FORMAT.encode())
    return digest.hexdigest()


def encode(entry: Entry) -> Encoded:
    """An entry as stored: a worker process that parsed the article encodes it, so the build
    that stores it need not."""
    return pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: Encoded) -> Entry:
    entry: Entry = pickle.loads(data)  # noqa: S301 - our own file, our own workers
    return entry


class ArticleCache:
    """SQLite file of pickled articles and their warnings; only this program writes it."""

    def __init__(self, path: Path | None, *, readonly: bool = False) -> None:
        self._db: sqlite3.Connection | None = None
        self._readonly = readonly
        if path is None or (readonly and not path.is_file()):
            return
        if readonly:
            with contextlib.suppress(sqlite3.Error):
                self._db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open(path)
        except (OSError, sqlite3.Error):
            with contextlib.suppress(OSError):
                path.unlink()
            with contextlib.suppress(OSError, sqlite3.Error):
                self._db = self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=30)
        # Only builds write it, one at a time (they hold the build lock), and losing it
        # costs only a slower build: a rollback journal writes each page once (WAL writes
        # it twice), and nothing is flushed to disk.
        db.execute("PRAGMA journal_mode=TRUNCATE")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("CREATE TABLE IF NOT EXISTS article (key TEXT PRIMARY KEY, data BLOB NOT NULL)")
        return db

    def get_many(self, keys: Iterable[str]) -> dict[str, Entry]:
        if self._db is None:
            return {}
        wanted = set(keys)
        found: dict[str, Entry] = {}
        try:
            for key, data in self._db.execute("SELECT key, data FROM article"):
                if key in wanted:
                    with contextlib.suppress(Exception):
                        found[key] = decode(data)
        except sqlite3.Error:
            return {}
        return found

    def put(self, key: str, data: Encoded) -> None:
        """Store one encoded entry in the transaction that `replace_all` commits (a build
        that fails before then stores none of them)."""
        if self._db is None or self._readonly:
            return
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("INSERT OR REPLACE INTO article VALUES (?, ?)", (key, data))

    def replace_all(self, entries: Mapping[str, Entry | Encoded],
                    keep: Iterable[str] | None = None) -> None:
        """Store new entries (some already encoded) and, given `keep`, forget every other key."""
        if self._db is None or self._readonly:
            return
        try:
            with self._db:
                if keep is not None:
                    kept = set(keep) | set(entries)
                    stale = [(k,) for (k,) in self._db.execute("SELECT key FROM article")
                             if k not in kept]
                    self._db.executemany("DELETE FROM article WHERE key = ?", stale)
                rows = ((k, e if isinstance(e, bytes) else encode(e))
                        for k, e in entries.items())  # a generator: never all pickles at once
                self._db.executemany("INSERT OR REPLACE INTO article VALUES (?, ?)", rows)
        except sqlite3.Error:
            return

    def __enter__(self) -> ArticleCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
