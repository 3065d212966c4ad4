"""What the dispatcher needs from a mail system, and the three ways a hand-over can fail.

A transport is opened once per run (`with transport:`), which is when it
connects, logs in and fails loudly if it cannot: before anything is recorded.
`send()` then hands over one message for one recipient and returns the server's
reply, or raises:

- `TemporaryFailure`: a 4xx reply, or a connection dropped or timed out before
  the message data was all sent; the message may succeed later (`dropped` says
  the connection went away, so an immediate retry on a fresh one is worth it);
- `UncertainFailure`: the connection was lost or timed out after the message
  data was sent: the server may have accepted it, so it must not be resent at once;
- `PermanentFailure`: a 5xx reply for this recipient;
- `publisher.errors.DeliveryError`: nothing more can be sent in this run (the
  server cannot be reached, the login or TLS fails, the sender is refused).

`concurrency` says how many `send()` calls the transport takes at once, from as
many threads; the dispatcher never runs more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable


class SendFailure(Exception):
    """One message for one recipient was not accepted; `reply` is what the server said."""

    def __init__(self, reply: str, *, code: int | None = None) -> None:
        super().__init__(reply)
        self.reply = reply
        self.code = code


class TemporaryFailure(SendFailure):
    """Try again later: a 4xx reply, a dropped connection or a timeout."""

    def __init__(self, reply: str, *, code: int | None = None, dropped: bool = False) -> None:
        super().__init__(reply, code=code)
        self.dropped = dropped


class UncertainFailure(SendFailure):
    """No answer after the message data: it may or may not have been accepted."""


class PermanentFailure(SendFailure):
    """A 5xx reply: whose problem it is, `publisher.delivery.replies` says."""


@runtime_checkable
class Transport(Protocol):
    """Hands finished messages (CRLF bytes) to a mail system."""

    concurrency: int

    def __enter__(self) -> Transport: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def send(self, sender: str, recipient: str, message: bytes) -> str:
        """Hand over one message; return the server's reply (e.g. "250 2.0.0 queued")."""
        ...


@dataclass(frozen=True, slots=True)
class TransportSetup:
    """What a transport is made from: plain values, never the site's whole settings."""

    values: Mapping[str, Any]  # the `[delivery]` table, its defaults filled in
    root: Path  # the site folder: relative folders are read against it
    secret: Callable[[str, str], str]  # (variable, what it is for) -> its value, or a clear error
