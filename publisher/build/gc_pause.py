"""The cyclic garbage collector, held off while a build loads its articles.

A build makes its articles (thousands of them, each a few strings, and no
reference cycles) in one burst, and the collector, woken every few hundred
allocations, walked them again and again for nothing: about a tenth of a
one-article rebuild of a large site. Once they are loaded they are frozen
(`gc.freeze`): they live until the build ends, no collection walks them again,
and none in a forked worker process touches them, which would copy their
memory into the worker. The collector runs again while pages and feeds are
rendered, whose garbage it is there for.

Builds may overlap on the threads of `publisher run`: the collector resumes when
no build is loading, and the frozen objects are given back when no build is left.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_loading = 0  # builds loading their articles now
_frozen = 0  # builds past that
_was_enabled = False


@contextmanager
def building() -> Iterator[Callable[[], None]]:
    """The collector off until the build calls the function given (its articles loaded),
    which freezes them and turns it back on; everything as it was when the build ends."""
    global _loading, _was_enabled
    with _lock:
        if _loading == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _loading += 1
    frozen = False

    def loaded() -> None:
        global _frozen
        nonlocal frozen
        with _lock:
            if frozen:
                return
            gc.freeze()
            _frozen += 1
            _stop_loading()
            frozen = True

    try:
        yield loaded
    finally:
        with _lock:
            if frozen:
                _thaw()
            else:
                _stop_loading()


def _stop_loading() -> None:
    global _loading
    _loading -= 1
    if _loading == 0 and _was_enabled:
        gc.enable()


def _thaw() -> None:
    global _frozen
    _frozen -= 1
    if _frozen == 0:
        gc.unfreeze()
