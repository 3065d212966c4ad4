"""How mail is handed over: a `Transport` (an outbox folder, SMTP, …) and the dispatcher.

`TRANSPORTS` names each transport and the function that makes it from a
`TransportSetup` (the `[delivery]` values, the site folder, a secret reader);
adding one is a module and a line here, plus its keys in `[delivery]`. A
factory reads its secrets at once, so a missing password is a clear error
before anything is sent or recorded. Nothing here reads the configuration or
knows the concrete store.
"""

from __future__ import annotations

from collections.abc import Callable

from publisher.delivery.outbox import open_outbox
from publisher.delivery.smtp import open_smtp
from publisher.delivery.transport import (
    PermanentFailure,
    SendFailure,
    TemporaryFailure,
    Transport,
    TransportSetup,
    UncertainFailure,
)

__all__ = ["TRANSPORTS", "PermanentFailure", "SendFailure", "TemporaryFailure", "Transport",
           "TransportSetup", "UncertainFailure", "make_transport"]

TRANSPORTS: dict[str, Callable[[TransportSetup], Transport]] = {
    "outbox": open_outbox,
    "smtp": open_smtp,
}


def make_transport(setup: TransportSetup) -> Transport:
    """The transport `[delivery] transport` names, ready to be entered."""
    return TRANSPORTS[str(setup.values["transport"])](setup)
