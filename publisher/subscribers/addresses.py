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
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email

from publisher.errors import SubscriberError
from publisher.models import Subscriber
from publisher.text import is_plain_address, one_line

if TYPE_CHECKING:  # the build checks addresses and zones without opening any store
    from publisher.store.database import Store


def normalise_address(text: str, *, check_deliverability: bool = False) -> str:
    """The address as it is stored, or `SubscriberError` saying what is wrong with it."""
    candidate = text.strip()
    try:
        checked = validate_email(candidate, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise SubscriberError(f"{quoted(candidate)} is not a valid address: {_reason(exc)}",
                              hint="write it as name@example.org") from None
    if not is_plain_address(checked.normalized):
        # Valid by RFC 5322, yet a strict parser of the To: header would decode it into
        # another address (`=?utf-8?q?...?=`) or split it: never put one on the list.
        why = "it is shaped like an encoded word (=?…?=), which mail programs decode into " \
            "another text" if "=?" in candidate else "it holds a character that a mail " \
            "header would read as markup"
        raise SubscriberError(f"{quoted(candidate)} is not a valid address: {why}",
                              hint="write it as name@example.org")
    return checked.normalized


def normalise_name(text: str) -> str:
    """A name on one line: it goes into a `To:` header, where a line break would be a hole."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def parse_tags(text: str | Iterable[str]) -> tuple[str, ...]:
    """Tags from "a;b", "a, b" or a list: trimmed, lower-case, each once, in order.

    Control characters become spaces: a tag is compared as a slug, and a database
    (PostgreSQL) refuses a NUL.
    """
    parts = re.split(r"[;,]", text) if isinstance(text, str) else \
        [p for item in text for p in re.split(r"[;,]", item)]
    tags = (one_line(part).lower() for part in parts)
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def add_subscriber(store: Store, email: str, *, name: str = "", tags: Iterable[str] = (),
                   now: datetime) -> tuple[Subscriber, bool]:
    """Validate and add one address; a known address is left alone (`created` False)."""
    return store.add_subscriber(normalise_address(email), normalise_name(name),
                                parse_tags(tags), now=now)


def quoted(text: str) -> str:
    """`text` in double quotes, a control character shown as an escape (\\r, \\x00)."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return '"' + shown.replace('"', '\\"') + '"'


def _reason(exc: EmailNotValidError) -> str:
    message = str(exc).strip().rstrip(".")
    return message[:1].lower() + message[1:]
