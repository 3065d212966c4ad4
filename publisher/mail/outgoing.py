"""The transport a site's settings choose: the bridge from `[delivery]` to `publisher.delivery`."""

from __future__ import annotations

from publisher.config import Settings
from publisher.delivery import Transport, TransportSetup, make_transport


def open_transport(settings: Settings, *, concurrency: int | None = None) -> Transport:
    """The transport `[delivery] transport` names; its secrets are read from the environment now.

    `concurrency` overrides `[delivery] concurrency` (the web service needs one connection).
    """
    options = settings.delivery.model_dump()
    if concurrency is not None:
        options["concurrency"] = concurrency
    return make_transport(TransportSetup(options, settings.root.resolve(), settings.secret))
