"""No cyclic garbage collection while a build runs.

A build makes millions of objects that live until it ends (articles, pages,
entries) and few reference cycles; the collector, woken every few hundred
allocations, walks them again and again for nothing (about a tenth of a
one-article rebuild of a large site). Paused builds may overlap on the threads
of `publisher run`: the collector resumes when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """Hold the collector off for the duration; as it was afterwards."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()
