"""An exclusive lock on a file, held for the life of a `with` block.

The kernel releases it when the process dies, so a crashed run never leaves a
lock behind that a person must remove by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


class LockBusy(Exception):
    """Another process holds the lock and the caller asked not to wait."""


@contextlib.contextmanager
def file_lock(path: Path, *, wait: bool = True, shared: bool = False) -> Iterator[None]:
    """Exclusive, or `shared` with other shared holders (readers of a lock, not writers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            fcntl.flock(fd, mode | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockBusy(str(path)) from None
        yield
    finally:
        os.close(fd)
