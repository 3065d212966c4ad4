"""Who may be on the list: an address checked and normalised, a name and tags tidied.

Addresses are checked with `email-validator` (syntax only unless
`check_deliverability` asks for a DNS look-up) and normalised: surrounding
white space removed, the domain lower-cased (and an IDNA domain shown in
Unicode), the local part kept exactly as written, since a few mail systems
still tell `Ann` from `ann`. Two addresses that differ only in case are one
subscriber all the same (`publisher.store.address_key`): nobody wants two copies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from publisher.errors import SubscriberError
from publisher.models import Subscriber
from publisher.store.database import Store


def normalise_address(text: str, *, check_deliverability: bool = False) -> str:
    """The address as it is stored, or `SubscriberError` saying what is wrong with it."""
    candidate = text.strip()
    try:
        checked = validate_email(candidate, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise SubscriberError(f"{quoted(candidate)} is not a valid address: {_reason(exc)}",
                              hint="write it as name@example.org") from None
    return checked.normalized


def normalise_name(text: str) -> str:
    """A name on one line: it goes into a `To:` header, where a line break would be a hole."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def parse_tags(text: str | Iterable[str]) -> tuple[str, ...]:
    """Tags from "a;b", "a, b" or a list: trimmed, lower-case, each once, in order."""
    parts = re.split(r"[;,]", text) if isinstance(text, str) else \
        [p for item in text for p in re.split(r"[;,]", item)]
    tags = (" ".join(part.split()).lower() for part in parts)
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def add_subscriber(store: Store, email: str, *, name: str = "", tags: Iterable[str] = (),
                   now: datetime) -> tuple[Subscriber, bool]:
    """Validate and add one address; a known address is left alone (`created` False)."""
    return store.add_subscriber(normalise_address(email), normalise_name(name),
                                parse_tags(tags), now=now)


def quoted(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _reason(exc: EmailNotValidError) -> str:
    message = str(exc).strip().rstrip(".")
    return message[:1].lower() + message[1:]
