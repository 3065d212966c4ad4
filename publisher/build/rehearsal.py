"""A build that writes nothing: what `publisher check` runs to know that `build` would succeed.

`DryRun` is an `OutputWriter` whose files go nowhere. The check renders every
feed and page the build would render, through the same stages, and asks of
each path what the build's writer asks (it stays inside the output folder, its
name fits a file system, no file stands where its folder must be). What the
last build made from the same inputs is not rendered again: the same
fingerprint rendered without an error then.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from publisher.build.output import OutputWriter, Staged, output_path_problem
from publisher.errors import OutputError
from publisher.models import OutputFile


class DryRun(OutputWriter):
    """Renders are checked and dropped; nothing is written, renamed or removed."""

    def __init__(self, output: Path, state: Path) -> None:
        super().__init__(output, state)
        self._folders_seen: dict[str, str | None] = {}

    def put(self, files: Iterable[OutputFile], fingerprint: str) -> None:
        for file in files:
            self._check(file.path)

    def stage_now(self, file: OutputFile, fingerprint: str) -> Staged:
        self._check(file.path)
        return Staged(fingerprint, "", None)

    def adopt(self, path: str, staged: Staged) -> None:
        """Nothing to take over: `stage_now` wrote nothing."""

    def commit(self) -> None:  # type: ignore[override]
        raise AssertionError("a rehearsal is never committed")

    def _check(self, path: str) -> None:
        problem = output_path_problem(path) or self._blocked(path)
        if problem:
            raise OutputError(f"cannot write {path!r} into the output folder: {problem}",
                              path=self.output, hint="rename what stands in the way, or "
                              "change what the build makes there")

    def _blocked(self, path: str) -> str | None:
        """A file on disk where the build needs a folder, or a folder where it needs a file."""
        if os.path.isdir(os.path.join(self.output, path)):
            return "a folder of that name is already there"
        folder = os.path.dirname(path)
        while folder:
            if folder not in self._folders_seen:
                target = os.path.join(self.output, folder)
                blocked = os.path.lexists(target) and not os.path.isdir(target)
                self._folders_seen[folder] = f"{folder!r} is a file, not a folder" \
                    if blocked else None
            if self._folders_seen[folder]:
                return self._folders_seen[folder]
            folder = os.path.dirname(folder)
        return None
