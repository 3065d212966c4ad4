"""What a killed build leaves behind, and how the next build clears it.

A build writes each new file to a hidden temporary file beside its target and
renames it at the end; a build killed with SIGKILL (or by a power cut) cannot
remove them, and a forked render worker whose build died would go on writing.
So workers die with their build, temporary files carry the number of the
process that writes them, and a build that finds the previous one did not
finish removes every temporary file of that pattern whose writer is gone, and
the empty folders it left. Nothing else is touched: a file of another name,
or one whose writer is still running, stays.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from publisher.atomic import is_running, writer_of

CLEAN_MARK = "clean"  # in the state folder: the last build ended and cleaned up after itself
_PR_SET_PDEATHSIG = 1


@contextlib.contextmanager
def cleaned(state: Path, output: Path, inputs: Iterable[Path], keep: Iterable[str] = ()
            ) -> Iterator[None]:
    """Clear the debris of a build that did not finish, then mark this one as under way.

    `keep` are the output files of the last finished build: their folders are never
    pruned. `inputs` (the content folder, where ids are written) only lose temporary
    files. The mark is set again when the build ends, whether it failed or not; only
    a build that was killed leaves it unset.
    """
    mark = state / CLEAN_MARK
    if not mark.exists():
        sweep(output, {os.path.dirname(p) for p in keep}, prune=True)
        for folder in inputs:
            sweep(folder)
    with contextlib.suppress(FileNotFoundError):
        mark.unlink()
    try:
        yield
    except BaseException:
        # A failed build has removed its own temporary files; the folders made for them
        # (by forked workers too) go as well.
        sweep(output, {os.path.dirname(p) for p in keep}, prune=True)
        raise
    finally:
        with contextlib.suppress(OSError):
            state.mkdir(parents=True, exist_ok=True)
            mark.touch()


def sweep(folder: Path, kept_folders: Iterable[str] = (), *, prune: bool = False) -> int:
    """Remove the temporary files below `folder` whose writer is gone and, with `prune`, the
    empty folders no file of the last build lives in; returns how many files went."""
    removed = 0
    kept = set(kept_folders)
    if not folder.is_dir():
        return 0
    for here, _, files in os.walk(folder, topdown=False):
        for name in files:
            pid = writer_of(name)
            if pid is not None and not is_running(pid):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(here, name))
                    removed += 1
        relative = os.path.relpath(here, folder)
        if prune and relative != "." and relative.replace(os.sep, "/") not in kept:
            with contextlib.suppress(OSError):
                os.rmdir(here)  # only if empty
    return removed


def die_with_parent(parent: int) -> None:
    """In a forked worker: be killed when the build dies, and stop at once if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes  # in the worker only: a no-change build never starts one

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def parent_gone(parent: int) -> bool:
    """Whether the build that forked this worker has died (checked before each write)."""
    return os.getppid() != parent
