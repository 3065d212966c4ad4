"""One mail connection for the whole service, opened at the first confirmation and kept.

Opening a transport per request cost a TCP connection, TLS and a login for each
of `[delivery] concurrency` connections, for one message; the service now keeps
one connection and hands each message over on it, one at a time. A connection
the server closed while idle is noticed at the start of the next message (before
the server has accepted anything) and opened again, once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from publisher.delivery.transport import TemporaryFailure, Transport
from publisher.errors import DeliveryError

log = logging.getLogger("publisher.web")


class SharedMailer:
    def __init__(self, factory: Callable[[], Transport]) -> None:
        self.factory = factory
        self._transport: Transport | None = None
        self._lock = threading.Lock()

    def send(self, sender: str, recipient: str, message: bytes) -> str:
        """Hand one message over; the transport's `SendFailure` or `DeliveryError` if not."""
        with self._lock:
            for attempt in (1, 2):
                transport = self._open()
                try:
                    return transport.send(sender, recipient, message)
                except TemporaryFailure as failure:
                    if not failure.dropped or attempt == 2:
                        raise
                    log.info("the mail connection was closed; opening it again")
                except DeliveryError:
                    self._close()
                    raise
            raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._close()

    def _open(self) -> Transport:
        if self._transport is None:
            transport = self.factory()
            transport.__enter__()
            self._transport = transport
        return self._transport

    def _close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            try:
                transport.__exit__(None, None, None)
            except (DeliveryError, OSError) as exc:
                log.info("closing the mail connection: %s", exc)
