"""Write an article's id into its front matter, touching nothing else in the file."""

from __future__ import annotations

import json
import re

_CLOSE = re.compile(rb"^(---|\.\.\.)[ \t]*\r?$", re.MULTILINE)


def insert_id(raw: bytes, article_id: str) -> bytes:
    """Add `id: "..."` as the last front-matter line; BOM and line endings are kept."""
    newline = b"\r\n" if b"\r\n" in raw[:4096] else b"\n"
    first_break = raw.index(b"\n") + 1
    close = _CLOSE.search(raw, first_break)
    if close is None:  # the loader has already checked; this is a guard, not a path
        raise ValueError("front matter is not closed")
    line = b"id: " + json.dumps(article_id, ensure_ascii=False).encode() + newline
    return raw[: close.start()] + line + raw[close.start():]
