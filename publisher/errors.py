"""One exception hierarchy for every mistake a user can make.

Library code raises these; only the command line turns them into messages and
exit codes. Each error says what it concerns (a file, a line, a key, an address)
and how to fix it, so that a message never needs a traceback to be understood.
"""

from __future__ import annotations

from collections.abc import Iterable
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
