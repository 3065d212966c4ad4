"""The digest pipeline run as `publisher digest` runs it, for tests that send."""

from __future__ import annotations

from publisher import send
from publisher.config import Settings
from publisher.mail.outgoing import open_transport
from publisher.models import Clock, DeliveryReport
from publisher.send import DigestRun
from publisher.store.database import Store


def send_digest(settings: Settings, clock: Clock, *, dry_run: bool = False,
                **options: object) -> DeliveryReport | None:
    """As `publisher digest send` runs it: its own store and transport, the articles read once."""
    transport = None if dry_run else open_transport(settings)
    with Store.open(settings.store_url) as store:
        run = DigestRun.of(settings, store, clock, readonly=dry_run)
        if transport is None:
            return send.dry_run(run, **options)  # type: ignore[arg-type]
        return send.send_digest(run, transport, **options)  # type: ignore[arg-type]


def preview_digest(settings: Settings, clock: Clock, **options: object) -> send.Preview | None:
    with Store.open(settings.store_url) as store:
        return send.preview_digest(DigestRun.of(settings, store, clock, readonly=True),
                                   **options)  # type: ignore[arg-type]


def send_test_copy(settings: Settings, clock: Clock, **options: object
                   ) -> tuple[str, str] | None:
    transport = open_transport(settings)
    with Store.open(settings.store_url) as store:
        return send.send_test_copy(DigestRun.of(settings, store, clock, readonly=True),
                                   transport, **options)  # type: ignore[arg-type]
