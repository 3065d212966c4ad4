"""What the last successful build was made from, so an unchanged site is not rebuilt.

The signature covers every input of a build: the settings, each article's
bytes (through its cache key), the templates, the static files, the saved
digest copies and this program's own version. The published set also depends
on the clock, so the state remembers when the next scheduled article comes due;
past that moment the build runs in full even if no file changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from publisher.atomic import atomic_write
from publisher.errors import Problem

STATE_NAME = "build-state.json"
STATE_FORMAT = 2


@dataclass(frozen=True, slots=True)
class BuildState:
    inputs: str
    built_at: datetime  # the build's clock (`--now`): its output holds from then
    next_change: datetime | None  # when the next future-dated article comes due
    articles: int
    drafts: int
    scheduled: int
    warnings: tuple[Problem, ...] = ()

    def covers(self, inputs: str, now: datetime) -> bool:
        """True when a build from `inputs` at `now` would give exactly the last build's output."""
        return self.inputs == inputs and self.built_at <= now and (
            self.next_change is None or now < self.next_change)


def signature(parts: Iterable[str]) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def folder_listing(folder: Path) -> Iterable[str]:
    """Path, size and modification time of every file below `folder` (not their bytes)."""
    if not folder.is_dir():
        return
    for current, dirs, files in sorted(os.walk(folder)):
        dirs.sort()
        for name in sorted(files):
            with contextlib.suppress(OSError):
                stat = os.stat(os.path.join(current, name))
                yield f"{current}/{name}:{stat.st_size}:{stat.st_mtime_ns}"


def read(state_dir: Path) -> BuildState | None:
    try:
        data = json.loads((state_dir / STATE_NAME).read_text("utf-8"))
        if data.pop("format") != STATE_FORMAT:
            return None
        change = data.pop("next_change")
        warnings = tuple(Problem(**w) for w in data.pop("warnings"))
        return BuildState(built_at=datetime.fromisoformat(data.pop("built_at")),
                          next_change=datetime.fromisoformat(change) if change else None,
                          warnings=warnings, **data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def write(state_dir: Path, state: BuildState) -> None:
    data = {
        "format": STATE_FORMAT,
        "inputs": state.inputs,
        "built_at": state.built_at.isoformat(),
        "next_change": state.next_change.isoformat() if state.next_change else None,
        "articles": state.articles,
        "drafts": state.drafts,
        "scheduled": state.scheduled,
        "warnings": [asdict(w) for w in state.warnings],
    }
    atomic_write(state_dir / STATE_NAME, json.dumps(data, indent=1).encode())


def forget(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STATE_NAME).unlink()
