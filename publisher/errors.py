"""One exception hierarchy for every mistake a user can make.

Library code raises these; only the command line turns them into messages and
exit codes. Each error says what it concerns (a file, a line, a key, an address)
and how to fix it, so that a message never needs a traceback to be understood.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from publisher.text import plural


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, located as precisely as we know."""

    message: str
    path: str | None = None
    line: int | None = None
    key: str | None = None
    hint: str | None = None
    warning: bool = False

    def location(self) -> str:
        parts = []
        if self.path:
            parts.append(self.path if self.line is None else f"{self.path}:{self.line}")
        if self.key:
            parts.append(self.key)
        return ": ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class PublisherError(Exception):
    """Base of every error meant for the user rather than for a developer."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = Problem(
            message, str(path) if path is not None else None, line, key, hint
        )
        super().__init__(str(self.problem))

    @property
    def problems(self) -> list[Problem]:
        return [self.problem]


class ProblemsError(PublisherError):
    """Several problems found in one pass, reported together."""

    def __init__(self, problems: Iterable[Problem], summary: str = "") -> None:
        self._problems = list(problems)
        errors = sum(1 for p in self._problems if not p.warning)
        head = summary or f"{plural(errors, 'problem')} found"
        Exception.__init__(self, head + "\n" + "\n".join(str(p) for p in self._problems))
        self.summary = head

    @property
    def problems(self) -> list[Problem]:
        return self._problems


class ConfigError(ProblemsError):
    """`publisher.toml` or a schedule file is not valid."""


class ContentError(ProblemsError):
    """One or more articles cannot be published."""


class TemplateError(PublisherError):
    """A Jinja2 template is broken or refers to something that does not exist."""


class ImporterError(PublisherError):
    """A plain-text article cannot be imported."""


class StoreError(PublisherError):
    """The database cannot be opened or is in an unexpected state."""


class SubscriberError(PublisherError):
    """A subscriber address or a subscriber file is not acceptable."""


class TokenError(PublisherError):
    """A signed link is malformed, altered, made for another purpose or expired."""


class DeliveryError(PublisherError):
    """Mail could not be handed to the transport (server down, login refused...)."""


class ScheduleError(PublisherError):
    """A scheduled job could not run."""


class OutputError(PublisherError):
    """The output folder cannot be written."""


class DeployError(PublisherError):
    """The output cannot be uploaded (no credentials, no bucket, refused, unreachable)."""


NOTE = "while processing "  # how `processing` names the input in an exception's notes


@contextlib.contextmanager
def processing(what: str) -> Iterator[None]:
    """Name the input being worked on in any unexpected error raised inside.

    A `PublisherError` already says what it concerns; anything else is a bug, and
    the command line reports it in one line naming the innermost input noted here.
    """
    try:
        yield
    except PublisherError:
        raise
    except Exception as exc:
        exc.add_note(NOTE + what)
        raise


def input_of(exc: BaseException) -> str | None:
    """The innermost input `processing` noted on `exc`, if any."""
    notes = [n for n in getattr(exc, "__notes__", ()) if n.startswith(NOTE)]
    return notes[0].removeprefix(NOTE) if notes else None


_ERRNO_HINTS = {
    errno.ENOSPC: "the disk is full: free some space and run it again",
    errno.EDQUOT: "the disk quota is used up: free some space and run it again",
    errno.EACCES: "check the permissions: the file or its folder is not writable by you",
    errno.EPERM: "check the permissions: the file or its folder is not writable by you",
    errno.EROFS: "the file system is mounted read-only",
    errno.ENAMETOOLONG: "the name is longer than the file system allows: shorten it",
    errno.ENOTDIR: "a file stands where a folder is needed: move it away",
    errno.EISDIR: "a folder stands where a file is needed: move it away",
    errno.EEXIST: "something of that name is already there: move it away",
    errno.ENOENT: "a folder on the way does not exist (was it moved or unmounted?)",
    errno.EMFILE: "too many files are open: raise the limit (ulimit -n)",
    errno.EIO: "the disk reported an input/output error: check it",
    errno.EFBIG: "the file is larger than this process may write: see `ulimit -f`",
}


def errno_hint(exc: OSError) -> str:
    """What to do about a failing file operation, chosen by what the system said."""
    return _ERRNO_HINTS.get(exc.errno or 0, "check that the folder exists and is writable, and "
                            "that the disk has space")
