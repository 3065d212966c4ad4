"""How a digest is sent: a `Transport` (an outbox folder or SMTP) and the dispatcher.

`make_transport(settings)` picks the configured one; for SMTP with a username
it reads the password from the environment now, so a missing secret is a
clear error before anything is sent or recorded.
"""

from __future__ import annotations

from publisher.config import Settings
from publisher.delivery.outbox import OutboxTransport
from publisher.delivery.smtp import SMTPTransport
from publisher.delivery.transport import (
    PermanentFailure,
    SendFailure,
    TemporaryFailure,
    Transport,
)

__all__ = ["PermanentFailure", "SendFailure", "TemporaryFailure", "Transport",
           "make_transport"]


def make_transport(settings: Settings) -> Transport:
    """The transport `[delivery] transport` names, ready to be entered."""
    delivery = settings.delivery
    if delivery.transport == "outbox":
        return OutboxTransport(settings.path(delivery.outbox_dir))
    password = None
    if delivery.username:
        password = settings.secret(delivery.password_env,
                                   f"the SMTP password of {delivery.username}")
    return SMTPTransport(delivery, password)
