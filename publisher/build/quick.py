"""A no-change build told from stamps alone, before the configuration is even parsed.

Most builds change nothing: cron runs `publisher build` every few minutes. Such a
build is answered from this file, with only the standard library imported: the
stamps (size, modification and change time, inode) of every input file and folder
— the configuration, the content, templates, static, digests and schedules folders
and the default theme — and the size and time of every output file, as the last
finished build left them. A folder's stamp moves when an entry is added, removed or
renamed in it, so a new article or template is seen without listing any folder.

Only an exact match answers; any doubt (another site folder, another version, a
build that did not finish, a future-dated article come due, an input written too
recently to trust its stamp) leaves the question to the full build.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from publisher import __version__, state_folder
from publisher.atomic import atomic_write
from publisher.build.orphans import CLEAN_MARK
from publisher.content import stamps
from publisher.errors import Problem
from publisher.models import BuildReport

QUICK_NAME = "build-quick.json"
QUICK_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Watch:
    """Every input path and the digest of their stamps, taken as a build starts."""

    paths: tuple[str, ...]
    digest: str
    newest_ns: int  # the latest modification or change time among them


@dataclass(frozen=True, slots=True)
class Unchanged:
    """A build that would change nothing: what it would report."""

    report: BuildReport
    output_dir: str  # as the configuration names it, for the summary line


def watch(files: Iterable[Path], folders: Iterable[Path]) -> Watch:
    """Stamp `files` and every folder and file below `folders` (a missing one too:
    its creation must show)."""
    paths = [str(path) for path in files]
    for folder in folders:
        paths += _tree(str(folder))
    digest, newest = _input_digest(paths)
    return Watch(tuple(paths), digest, newest)


def remember(root: Path, started_ns: int, inputs: Watch, output: Path, output_dir: str,
             outputs: Sequence[tuple[str, int, int]], report: BuildReport, built_at: datetime,
             next_change: datetime | None) -> None:
    """Keep what a finished build saw, unless an input is too new for its stamp to be
    trusted (it could change again within the same tick of the file system's clock).

    The output holds what is published from `built_at` (the build's clock, `--now`)
    until `next_change`, and the answer is given only between the two."""
    path = state_folder(root) / QUICK_NAME
    if started_ns - inputs.newest_ns <= stamps.RACY_NS or not outputs:
        with contextlib.suppress(OSError):
            path.unlink()
        return
    names = [name for name, _, _ in outputs]
    data = {
        "format": QUICK_FORMAT,
        "version": __version__,
        "root": str(root.resolve()),
        "built_at": built_at.isoformat(),
        "next_change": next_change.isoformat() if next_change else None,
        "report": [report.articles, report.drafts, report.scheduled],
        "warnings": [asdict(w) for w in report.warnings],
        "output_dir": output_dir,
        "inputs": ["\n".join(inputs.paths), inputs.digest],
        "outputs": [str(output) + os.sep, "\n".join(names),
                    _output_digest((size, mtime) for _, size, mtime in outputs)],
    }
    with contextlib.suppress(OSError):
        atomic_write(path, json.dumps(data, separators=(",", ":")).encode())


def unchanged(root: Path, now: datetime, *, strict: bool = False) -> Unchanged | None:
    """What the last build reported, if a build now would find nothing to do; else None."""
    state = state_folder(root)
    try:
        data = json.loads((state / QUICK_NAME).read_bytes())
        if (data["format"] != QUICK_FORMAT or data["version"] != __version__
                or data["root"] != str(root.resolve()) or not (state / CLEAN_MARK).exists()):
            return None
        change = data["next_change"]
        if now < datetime.fromisoformat(data["built_at"]) or (
                change is not None and now >= datetime.fromisoformat(change)):
            return None  # a build for a later moment (`--now`), or an article come due
        warnings = tuple(Problem(**w) for w in data["warnings"])
        if strict and warnings:
            return None  # the full build refuses them, with its own message
        paths, digest = data["inputs"]
        if _input_digest(paths.split("\n"))[0] != digest:
            return None
        prefix, joined, digest = data["outputs"]
        names = joined.split("\n")
        if not _outputs_match(prefix, names, digest):
            return None
        articles, drafts, scheduled = data["report"]
        report = BuildReport(articles, drafts, scheduled, unchanged=len(names),
                             warnings=warnings)
        return Unchanged(report, data["output_dir"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _tree(folder: str) -> list[str]:
    """The folder and everything below it, in a stable order. Hidden folders (a `.git`)
    are left out: no article, static file or schedule is read from one. Hidden files
    are kept."""
    found = [folder]
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        found += [os.path.join(current, name) for name in dirs]
        found += [os.path.join(current, name) for name in sorted(files)]
    return found


def _input_digest(paths: Iterable[str]) -> tuple[str, int]:
    digest = hashlib.blake2b(digest_size=20)
    newest = 0
    for path in paths:
        digest.update(path.encode("utf-8", "surrogateescape"))
        try:
            info = os.stat(path)
        except OSError:
            digest.update(b"\0-\n")
            continue
        digest.update(b"\0%d %d %d %d\n" % (info.st_size, info.st_mtime_ns, info.st_ino,
                                            info.st_ctime_ns))
        newest = max(newest, info.st_mtime_ns, info.st_ctime_ns)
    return digest.hexdigest(), newest


def _output_digest(stamps: Iterable[tuple[int, int]]) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for size, mtime in stamps:
        digest.update(b"%d %d\n" % (size, mtime))
    return digest.hexdigest()


def _outputs_match(prefix: str, names: list[str], expected: str) -> bool:
    """Every output file still has the size and time it was written with."""
    stamps = []
    for name in names:
        try:
            info = os.stat(prefix + name)
        except OSError:
            return False
        stamps.append((info.st_size, info.st_mtime_ns))
    return _output_digest(stamps) == expected
