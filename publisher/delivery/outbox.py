"""The default transport: every message becomes a file in a Maildir folder (`outbox/`).

It makes a fresh site work without a mail server: open the folder with any mail
client (mutt -f outbox, Thunderbird, Evolution...) to read what was "sent".
`mailbox.Maildir` writes each message into `tmp/` and renames it into `new/`,
so a reader never sees half a message. Line endings are stored as LF, as
Maildir tools expect of files on Unix; CRLF is only the form on the wire.
"""

from __future__ import annotations

import mailbox
from pathlib import Path
from types import TracebackType

from publisher.delivery.transport import TransportSetup
from publisher.errors import DeliveryError


def open_outbox(setup: TransportSetup) -> OutboxTransport:
    """The transport `transport = "outbox"` asks for: `outbox_dir`, read against the site."""
    return OutboxTransport((setup.root / str(setup.values["outbox_dir"])).resolve())


class OutboxTransport:
    """Writes each message into a Maildir; one writer at a time."""

    concurrency = 1

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._box: mailbox.Maildir | None = None

    def __enter__(self) -> OutboxTransport:
        try:
            self._box = mailbox.Maildir(self.folder, create=True)
        except OSError as exc:
            raise DeliveryError(f"cannot open the outbox: {exc.strerror or exc}",
                                path=self.folder, hint="make the folder writable, or set "
                                "[delivery] outbox_dir in publisher.toml") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._box = None

    def send(self, sender: str, recipient: str, message: bytes) -> str:
        if self._box is None:
            raise RuntimeError("the outbox is not open; use it in a `with` block")
        try:
            key = self._box.add(message.replace(b"\r\n", b"\n"))
        except OSError as exc:
            raise DeliveryError(f"cannot write to the outbox: {exc.strerror or exc}",
                                path=self.folder, hint="check the free space and the "
                                "folder's permissions") from None
        return f"250 queued in {self.folder.name}/new/{key}"
