"""The transport a site's settings choose: the bridge from `[delivery]` to `publisher.delivery`."""

from __future__ import annotations

from publisher.config import Settings
from publisher.delivery import Transport, TransportSetup, make_transport


def open_transport(settings: Settings) -> Transport:
    """The transport `[delivery] transport` names; its secrets are read from the environment now."""
    return make_transport(TransportSetup(settings.delivery.model_dump(), settings.root.resolve(),
                                         settings.secret))
