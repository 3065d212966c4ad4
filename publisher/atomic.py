"""Replace a file in one step, so a reader or a crash never sees half of it."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

# `.name.<pid>.tmp` (a build's output) or `.name.<pid>.<8 random>.tmp` (`write_temp`):
# the writer's number lets a later run tell the file of a writer that was killed.
_TEMP = re.compile(r"\.(.+?)\.(\d+)(?:\.[a-z0-9_]{8})?\.tmp")


def atomic_write(path: Path, data: bytes, *, durable: bool = False, mode: int | None = None
                 ) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    `durable` also flushes the data to disk first: for files a person wrote
    (articles), not for output that a build can make again.
    """
    tmp = write_temp(path, data, durable=durable, mode=mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_temp(path: Path, data: bytes, *, durable: bool = False, mode: int | None = None
               ) -> str:
    """Write `data` to a new hidden file beside `path` and return its name, for a later rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else _default_mode(path))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_new(path: Path, data: bytes) -> None:
    """Create `path` with `data`, atomically, failing with FileExistsError if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode(path))
        os.link(tmp, path)  # fails if the name is taken, unlike rename
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def temp_name(target: str, pid: int | None = None) -> str:
    """The temporary file a build writes a new version of `target` to: `.name.<pid>.tmp`."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{os.getpid() if pid is None else pid}.tmp")


def writer_of(name: str) -> int | None:
    """The process that wrote a temporary file of ours (`temp_name`, `write_temp`)."""
    match = _TEMP.fullmatch(name)
    return int(match.group(2)) if match else None


def is_running(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, which writes nothing, does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process
    try:  # on Linux, a killed worker nobody has reaped yet is a zombie: gone all the same
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _read_umask()  # read once: os.umask() is process-wide and not thread-safe


def _default_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_UMASK
