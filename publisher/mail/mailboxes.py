"""Where returned mail is read from: a Maildir folder, an mbox file, `.eml` files, standard input.

Each source yields `Incoming` messages: the raw bytes, a label for reports
(the file, or `file.mbox#3`), and a way to mark the message handled. Only a
Maildir message is ever marked (moved from `new/` to `cur/` with the Seen
flag, as mail clients do, so that the next run skips it); nothing is ever
deleted, and a message that could not be matched is left exactly where it was.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from publisher.errors import PublisherError
from publisher.mail.reports import MAX_BYTES


@dataclass(frozen=True, slots=True)
class Incoming:
    label: str
    raw: bytes
    mark_handled: Callable[[], None]


def _nothing() -> None:
    return None


def read_source(path: str, stdin: Callable[[], bytes]) -> Iterator[Incoming]:
    """The messages of one PATH argument: "-" (standard input), a Maildir, an mbox or a file."""
    if path == "-":
        yield Incoming("<stdin>", stdin(), _nothing)
        return
    where = Path(path)
    if where.is_dir():
        if not all((where / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise PublisherError(f"{path} is a folder but not a Maildir (no cur/, new/, tmp/)",
                                 hint="give a Maildir folder, an mbox file or .eml files")
        yield from _maildir(where)
        return
    try:
        with where.open("rb") as file:
            head = file.read(5)
    except OSError as exc:
        raise PublisherError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head == b"From ":
        yield from _mbox(where)
    else:
        yield Incoming(path, _read(where), _nothing)


def _maildir(folder: Path) -> Iterator[Incoming]:
    """New messages, and those in cur/ not yet flagged Seen."""
    for sub in ("new", "cur"):
        for entry in sorted((folder / sub).iterdir()):
            info = entry.name.partition(":2,")[2]
            if entry.name.startswith(".") or "S" in info:
                continue
            yield Incoming(f"{folder}/{sub}/{entry.name}", _read(entry), _seen(folder, entry))


def _seen(folder: Path, entry: Path) -> Callable[[], None]:
    def mark() -> None:
        base, _, flags = entry.name.partition(":2,")
        target = folder / "cur" / f"{base}:2,{''.join(sorted(set(flags + 'S')))}"
        with contextlib.suppress(FileNotFoundError):  # another run took it meanwhile
            os.replace(entry, target)

    return mark


def _mbox(path: Path) -> Iterator[Incoming]:
    box = mailbox.mbox(path, create=False)
    try:
        for number, key in enumerate(box.keys(), start=1):
            raw = box.get_bytes(key)
            yield Incoming(f"{path}#{number}", raw, _nothing)
    finally:
        box.close()


def _read(path: Path) -> bytes:
    """A message file's bytes; one too large to be a report is cut (and then refused)."""
    try:
        with path.open("rb") as file:
            return file.read(MAX_BYTES + 1)
    except OSError:
        return b""  # vanished or unreadable: reported as empty
