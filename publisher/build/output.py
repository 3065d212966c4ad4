"""Write the published site: only what changed, each file atomically.

Renderers return bytes; this module decides what reaches the disk. Each new
version of a file goes to a hidden temporary file beside it as soon as it is
rendered (so a large build never holds the whole site in memory), and only
`commit()` renames them into place: a build that fails before then removes its
temporary files and leaves the previous output exactly as it was. A manifest
in the state folder records, for every file the build owns, the fingerprint of
what it was made from and the hash of its bytes. A job whose fingerprint has not
changed is not even rendered; a file whose bytes have not changed is not
rewritten (its modification time, and so its HTTP validators, stay put); a file
no longer produced is removed. Files the build does not own are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from publisher.atomic import atomic_write, temp_name
from publisher.errors import OutputError, errno_hint
from publisher.models import OutputFile

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Entry:
    fingerprint: str
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int


@dataclass(frozen=True, slots=True)
class _Written:
    temp: str  # the hidden temporary file, renamed over the target at commit
    size: int
    mtime_ns: int  # kept by the rename: the manifest needs no second stat


@dataclass(frozen=True, slots=True)
class Staged:
    """A new version of a file, written to a temporary file (or already on disk as is)."""

    fingerprint: str
    sha256: str
    temp: Future[_Written] | _Written | None  # None: the file on disk holds these bytes


class _TempFiles:
    """Writes temporary files on a few threads.

    Creating a file, and for a new article its folder, waits on the disk; several
    at once roughly halve a cold build's writing time. Folders already made are
    remembered, so each is created once.
    """

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="publisher-write")
        self._folders: set[str] = set()
        self._submitted: list[Future[_Written]] = []

    def submit(self, target: str, data: bytes) -> Future[_Written]:
        future = self._pool.submit(self.write, target, data)
        self._submitted.append(future)
        return future

    def drain(self) -> None:
        """Wait until no write is in flight (before the process forks)."""
        wait(self._submitted)
        self._submitted.clear()

    def write(self, target: str, data: bytes) -> _Written:
        folder = os.path.dirname(target)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        temp = temp_name(target)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # left by a killed run of a process with our number
            os.unlink(temp)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            _write_all(fd, data)  # a nearly full disk takes part of a write without an error
            info = os.fstat(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp)  # a full disk must not keep what the failed write made
            raise
        os.close(fd)
        return _Written(temp, info.st_size, info.st_mtime_ns)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class OutputWriter:
    """Collects a build's files, then commits them in one go; a context manager that
    removes the temporary files if the build fails before `commit()`."""

    def __init__(self, output: Path, state: Path) -> None:
        self.output = output
        self._prefix = str(output) + os.sep
        self._manifest_path = state / MANIFEST_NAME
        self._old = _load_manifest(self._manifest_path)
        self._kept: dict[str, Entry] = {}
        self._staged: dict[str, Staged] = {}
        self._output_existed = output.exists()
        self._temp_files = _TempFiles()

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.abort()

    def abort(self) -> None:
        """Forget everything staged and not committed, removing its temporary files and the
        folders made for them (also for the writes that failed)."""
        for path, staged in self._staged.items():
            remove_temp(staged)
            _prune_empty_dirs((self.output / path).parent, self.output)
        self._staged.clear()
        self._temp_files.close()
        if not self._output_existed:
            with contextlib.suppress(OSError):
                self.output.rmdir()  # only if the failed build left it empty

    def is_fresh(self, paths: Sequence[str], fingerprint: str) -> bool:
        """True when every path was made from this fingerprint and is still on disk as made."""
        for path in paths:
            entry = self._old.get(path)
            if entry is None or entry.fingerprint != fingerprint or not self._on_disk(path, entry):
                return False
        return True

    def intact(self) -> bool:
        """True when every file of the last build is still on disk as it was written."""
        return bool(self._old) and all(self._on_disk(p, e) for p, e in self._old.items())

    def on_disk(self) -> list[tuple[str, int, int]]:
        """Each file of the output as the last commit left it: path, size and time."""
        return [(path, e.size, e.mtime_ns) for path, e in sorted(self._old.items())]

    def produced_before(self) -> set[str]:
        """The files the last build made."""
        return set(self._old)

    def keep(self, paths: Iterable[str]) -> None:
        """Carry files over unchanged (after `is_fresh` said they are)."""
        for path in paths:
            self._kept[path] = self._old[path]

    def put(self, files: Iterable[OutputFile], fingerprint: str) -> None:
        """Stage new versions; bytes equal to what is on disk are only recorded."""
        for file in files:
            _check_path(file.path)
            digest = _sha(file.data)
            temp = None
            if not self._same(file.path, self._old.get(file.path), digest, file.data):
                temp = self._temp_files.submit(self._prefix + file.path, file.data)
            previous = self._staged.pop(file.path, None)
            if previous is not None and (written := _result(previous)) is not None:
                os.unlink(written.temp)
            self._staged[file.path] = Staged(fingerprint, digest, temp)

    def stage_now(self, file: OutputFile, fingerprint: str) -> Staged:
        """Write a new version right away, in this thread or process; see `adopt`."""
        _check_path(file.path)
        digest = _sha(file.data)
        if self._same(file.path, self._old.get(file.path), digest, file.data):
            return Staged(fingerprint, digest, None)
        try:
            return Staged(fingerprint, digest,
                          self._temp_files.write(self._prefix + file.path, file.data))
        except OSError as exc:
            raise _output_error(exc, self.output / file.path) from None

    def adopt(self, path: str, staged: Staged) -> None:
        """Take over a version that `stage_now` wrote (in a worker process)."""
        self._staged[path] = staged

    def quiet(self) -> None:
        """No write in flight: safe to fork worker processes."""
        self._temp_files.drain()

    def produced(self) -> set[str]:
        return set(self._kept) | set(self._staged)

    def changed(self, path: str) -> bool:
        """Whether committing will change the bytes of `path`."""
        staged = self._staged.get(path)
        return staged is not None and staged.temp is not None

    def commit(self) -> WriteResult:
        """Rename what changed into place, remove what is no longer produced, save the manifest."""
        self._wait_for_temp_files()
        manifest = dict(self._kept)
        written: list[str] = []
        target = self.output
        try:
            for path, staged in sorted(self._staged.items()):
                target = self.output / path
                if staged.temp is None:  # the same bytes are on disk already
                    info = os.stat(target)
                    size, mtime = info.st_size, info.st_mtime_ns
                else:
                    new = _result(staged)
                    assert new is not None  # _wait_for_temp_files raised otherwise
                    os.replace(new.temp, target)
                    written.append(path)
                    size, mtime = new.size, new.mtime_ns
                manifest[path] = Entry(staged.fingerprint, staged.sha256, size, mtime)
            target = self.output
            removed = self._remove_stale(set(manifest))
        except OSError as exc:
            # Every file is whole (old or new); record the new ones, then report.
            _save_manifest(self._manifest_path, {**self._old, **manifest})
            raise _output_error(exc, target) from None
        finally:
            self._staged = {p: s for p, s in self._staged.items() if p not in manifest}
        if written or removed or manifest != self._old:
            _save_manifest(self._manifest_path, manifest)
        self._old = manifest
        return WriteResult(tuple(written), tuple(removed), len(manifest) - len(written))

    def _wait_for_temp_files(self) -> None:
        """Let every write finish; if one failed, nothing is renamed and the error is told."""
        self._temp_files.close()
        for path, staged in sorted(self._staged.items()):
            if isinstance(staged.temp, Future) and (error := staged.temp.exception()):
                assert isinstance(error, OSError), error
                raise _output_error(error, self.output / path)

    def _remove_stale(self, produced: set[str]) -> list[str]:
        removed = []
        for path in sorted(set(self._old) - produced):
            target = self.output / path
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
                removed.append(path)
            _prune_empty_dirs(target.parent, self.output)
        return removed

    def _same(self, path: str, old: Entry | None, digest: str, data: bytes) -> bool:
        """Whether the file on disk already holds exactly `data`."""
        if old is not None:
            return old.sha256 == digest and self._on_disk(path, old)
        if not self._output_existed:
            return False  # a first build: nothing to compare with
        try:  # no record (first build, or a lost manifest): compare the bytes themselves
            return (self.output / path).read_bytes() == data
        except OSError:
            return False

    def _on_disk(self, path: str, entry: Entry) -> bool:
        try:
            stat = os.stat(self._prefix + path)
        except OSError:
            return False
        return stat.st_size == entry.size and stat.st_mtime_ns == entry.mtime_ns


def remove_temp(staged: Staged) -> None:
    """Delete the temporary file of a version that will not be committed."""
    written = _result(staged)
    if written is not None:
        with contextlib.suppress(OSError):
            os.unlink(written.temp)


def _result(staged: Staged) -> _Written | None:
    """The temporary file a staged version was written to, if the write happened."""
    if isinstance(staged.temp, Future):
        return None if staged.temp.exception() is not None else staged.temp.result()
    return staged.temp


def _output_error(exc: OSError, target: Path) -> OutputError:
    return OutputError(f"cannot write the output: {exc.strerror or exc}", path=target,
                       hint=errno_hint(exc))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_path(path: str) -> None:
    problem = output_path_problem(path)
    if problem:
        raise OutputError(f"cannot write {path!r} into the output folder: {problem}")


NAME_MAX = 255  # bytes in one file name, on every file system a site is likely built on


def output_path_problem(path: str) -> str | None:
    """Why `path` (relative, "/" separators) cannot be a file of the output folder, if so."""
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in path:
        return "it would lie outside the folder"
    longest = max(parts, key=lambda p: len(p.encode(errors="surrogateescape")))
    if len(longest.encode(errors="surrogateescape")) > NAME_MAX:
        return f"the name {longest[:40]!r}… is longer than the {NAME_MAX} bytes a file name has"
    return None


def _prune_empty_dirs(folder: Path, stop: Path) -> None:
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _load_manifest(path: Path) -> dict[str, Entry]:
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("format") != MANIFEST_FORMAT:
            return {}
        return {p: Entry(*e) for p, e in data["files"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _save_manifest(path: Path, entries: dict[str, Entry]) -> None:
    files = {p: [e.fingerprint, e.sha256, e.size, e.mtime_ns] for p, e in sorted(entries.items())}
    data = json.dumps({"format": MANIFEST_FORMAT, "files": files}, separators=(",", ":"))
    atomic_write(path, data.encode())
