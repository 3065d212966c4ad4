"""Which article files are unchanged since the last build, told without reading them.

A file whose size, modification time, inode and change time are what they were
when its bytes were last hashed still holds those bytes, so its cache key is
reused and the file is not read at all: an unchanged site of 10,000 articles is
recognised from its directory entries. The change time is the guard a person
cannot set by hand (`touch -d`, `cp -p` and `rsync -t` set only the
modification time, and every write or rename moves the change time).

A file written within `RACY_NS` of the moment it was stamped could be written
again in the same clock tick without its stamp changing (git's "racy" index
problem), so such a file is not remembered and is read again next time. Any
doubt about the index file means it is ignored: it is only ever a shortcut.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from publisher.atomic import atomic_write

INDEX_NAME = "article-stamps.json"
INDEX_FORMAT = 1
RACY_NS = 2_000_000_000  # the coarsest common timestamp (FAT's two seconds)

Stamp = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns


def stamp_of(info: os.stat_result) -> Stamp:
    """What changes when a file is written or replaced: its size, times and inode."""
    return (info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)


def read_index(state_dir: Path, context: str, *, name: str = INDEX_NAME
               ) -> dict[str, tuple[Stamp, str]]:
    """Each remembered file's stamp and cache key; empty if the settings changed since.

    (The deploy keeps its files' MD5s the same way, under another `name`.)
    """
    try:
        data = json.loads((state_dir / name).read_bytes())
        if data["format"] != INDEX_FORMAT or data["context"] != context:
            return {}
        return {source: ((size, mtime, inode, ctime), key)
                for source, (size, mtime, inode, ctime, key) in data["files"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def write_index(state_dir: Path, context: str, files: Iterable[tuple[str, Stamp, str]],
                started_ns: int, *, name: str = INDEX_NAME) -> None:
    """Remember the stamp and key of each file hashed, except those written too recently."""
    trusted = {source: [*stamp, key] for source, stamp, key in files
               if key and started_ns - max(stamp[1], stamp[3]) > RACY_NS}
    data = {"format": INDEX_FORMAT, "context": context, "files": trusted}
    with contextlib.suppress(OSError):
        atomic_write(state_dir / name, json.dumps(data, separators=(",", ":")).encode())


def unchanged_key(known: Mapping[str, tuple[Stamp, str]], source: str, stamp: Stamp) -> str:
    """The cache key of `source` if its stamp is the one remembered, else ""."""
    entry = known.get(source)
    return entry[1] if entry is not None and entry[0] == stamp else ""


def now_ns() -> int:
    """The wall clock a file's times are compared with (the filesystem's clock)."""
    return time.time_ns()
