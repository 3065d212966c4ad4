"""Write derived ids into the articles that have none, touching nothing else in them.

An id written into the front matter survives every later edit of the title,
date, slug, path or base URL; see `publisher.content.derive_id`.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from publisher.atomic import atomic_write
from publisher.content.cache import Entry, article_key
from publisher.errors import OutputError
from publisher.models import LoadedContent

_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n|$)")  # a line and its end, however it is written
_CLOSE = re.compile(rb"(---|\.\.\.)[ \t]*")
_WRITERS = 8  # each write ends in an fsync: overlapping them hides the disk's latency


def insert_id(raw: bytes, article_id: str) -> bytes:
    """Add `id: "..."` as the last front-matter line; BOM and line endings are kept.

    Lines may end in LF, CRLF or a lone CR (old Mac editors), as the loader reads them.
    """
    lines = _LINE.finditer(raw)
    first = next(lines)
    newline = first.group()[len(first.group().rstrip(b"\r\n")):] or b"\n"
    for line in lines:
        text = line.group().rstrip(b"\r\n")
        if _CLOSE.fullmatch(text):
            entry = b"id: " + json.dumps(article_id, ensure_ascii=False).encode() + newline
            return raw[: line.start()] + entry + raw[line.start():]
        if not line.group():
            break
    raise ValueError("front matter is not closed")  # the loader has checked: a guard only


def write_pending_ids(root: Path, loaded: LoadedContent, context: str
                      ) -> tuple[dict[str, str], dict[str, Entry]]:
    """Write every pending id; return each changed file's new cache key, and its cache entry."""
    if not loaded.pending_ids:
        return {}, {}
    articles = {a.source: a for a in loaded.articles}
    updated: dict[str, bytes] = {}
    try:
        for pending in loaded.pending_ids:
            updated[pending.source] = insert_id((root / pending.source).read_bytes(), pending.id)
        with ThreadPoolExecutor(_WRITERS) as pool:
            list(pool.map(lambda item: atomic_write(root / item[0], item[1], durable=True),
                          updated.items()))
    except OSError as exc:
        raise OutputError(
            f"cannot write the article's id into it: {exc.strerror or exc}", path=exc.filename,
            hint="make the content folder writable, or add an `id:` line to the front matter "
            "yourself",
        ) from None
    keys: dict[str, str] = {}
    entries: dict[str, Entry] = {}
    for source, raw in updated.items():
        keys[source] = article_key(source, raw, context)
        warnings = tuple(w for w in loaded.warnings if w.path == source)
        entries[keys[source]] = (replace(articles[source], id_pending=False), warnings)
    return keys, entries
