"""What the command line says when something other than a user's mistake goes wrong.

A file operation the system refused (a full disk, a read-only folder) is said in
one line with the file and what to do. Anything else is a bug: one line naming
the input being processed and the file where the full report was written, never
a stack trace on the terminal.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from publisher import __version__
from publisher.errors import Problem, errno_hint, input_of


def system_problem(exc: OSError) -> Problem:
    """A failing file or network operation, said as the system said it."""
    target = exc.filename if isinstance(exc.filename, str) else None
    return Problem(f"{exc.strerror or exc}", path=target, hint=errno_hint(exc))


def internal_problem(exc: BaseException) -> Problem:
    """One line for a bug, with where its full report went."""
    report = write_report(exc)
    where = input_of(exc)
    doing = f" while processing {where}" if where else ""
    kept = f"the full report is in {report}" if report else "no report could be written"
    return Problem(f"unexpected internal error{doing}: {type(exc).__name__}: "
                   f"{_first_line(exc)}", hint=f"{kept}; please send it with a bug report")


def write_report(exc: BaseException) -> str | None:
    """The traceback and what ran, in a new file of the temporary folder; its path."""
    import platform  # only when something went wrong: every command imports this module
    import tempfile
    import traceback

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    text = "".join([
        f"publisher {__version__}, Python {platform.python_version()} on {platform.platform()}\n",
        f"command: {' '.join(sys.argv)}\n",
        f"working folder: {os.getcwd()}\n\n",
        *traceback.format_exception(exc),
    ])
    try:
        fd, path = tempfile.mkstemp(prefix=f"publisher-error-{stamp}-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(text)
    except OSError:
        return None
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "(no message)"
