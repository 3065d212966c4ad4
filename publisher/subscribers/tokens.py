"""Signed links for one subscriber and one purpose: unsubscribe, confirm and preferences.

An unsubscribe token is `<id>.<signature>` and never expires (a digest read a
year later must still let its reader leave); a confirm token is
`<id>.<unix time>.<signature>` and expires, and so does a preferences token
(the same shape, another purpose): it changes what a reader receives, so an
old forwarded digest should not do that for ever. A digest stamps its
preferences links with its own creation time, so a message is the same bytes
every time it is built. The signature is an HMAC-SHA256
(itsdangerous, with a key derived from the secret and the purpose) over the
subscriber id, the time, and the subscriber's address. The address is not in
the token, so a link names nobody to whoever sees it, and it is bound to the
address all the same: if an id ever comes to belong to another address (a
restored or merged database), old links for it stop working.

A bounce token names a digest as well, and goes into the envelope sender of
that subscriber's message (`bounces+<token>@example.org`, VERP), so a bounce
or a complaint that comes back says whose message it was: `<digest id>.<id>.
<signature>`, the signature 16 characters of lower-case base32 (80 bits), as
some mail systems change the case of an address.

Checking a token therefore needs the subscriber: callers pass a look-up such
as `store.get_subscriber_by_id`. Tokens are URL-safe and about 50 characters,
short enough for a `List-Unsubscribe` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from itsdangerous import Signer

from publisher.errors import TokenError
from publisher.models import Subscriber
from publisher.store.database import address_key

Lookup = Callable[[int], Subscriber | None]
"""Finds a subscriber by id, e.g. `Store.get_subscriber_by_id`."""

_UNSUBSCRIBE = "publisher.unsubscribe"
_BOUNCE = "publisher.bounce"
_DIGEST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
_CONFIRM = "publisher.confirm"
_PREFERENCES = "publisher.preferences"
_NUMBER = re.compile(r"[0-9]{1,19}")


class TokenExpired(TokenError):
    """A genuine confirm token, but older than it may be."""


def unsubscribe_token(secret: str, subscriber: Subscriber) -> str:
    """The token of `subscriber`'s unsubscribe link; the same every time."""
    return f"{subscriber.id}.{_sign(secret, _UNSUBSCRIBE, subscriber, '')}"


def read_unsubscribe_token(secret: str, token: str, find: Lookup) -> Subscriber:
    """The subscriber an unsubscribe token was made for, or `TokenError`."""
    parts = token.strip().split(".")
    if len(parts) != 2 or not _NUMBER.fullmatch(parts[0]):
        raise _invalid()
    subscriber = find(int(parts[0]))
    if subscriber is None or not _verify(secret, _UNSUBSCRIBE, subscriber, "", parts[1]):
        raise _invalid()
    return subscriber


def confirm_token(secret: str, subscriber: Subscriber, *, now: datetime) -> str:
    """The token of the link that confirms a new subscription, stamped with `now`."""
    return _stamped(secret, _CONFIRM, subscriber, now)


def read_confirm_token(secret: str, token: str, find: Lookup, *, max_age: timedelta,
                       now: datetime) -> Subscriber:
    """The subscriber a confirm token was made for; `TokenExpired` once `max_age` has passed."""
    return _read_stamped(secret, _CONFIRM, token, find, max_age, now,
                         TokenExpired("this confirmation link has expired",
                                      hint="subscribe again to receive a new link"))


def preferences_token(secret: str, subscriber: Subscriber, *, issued: datetime) -> str:
    """The token of a reader's preference page link, stamped with `issued`."""
    return _stamped(secret, _PREFERENCES, subscriber, issued)


def read_preferences_token(secret: str, token: str, find: Lookup, *, max_age: timedelta,
                           now: datetime) -> Subscriber:
    """The subscriber a preferences token was made for; `TokenExpired` once it is too old."""
    return _read_stamped(secret, _PREFERENCES, token, find, max_age, now,
                         TokenExpired("this link to your preferences has expired",
                                      hint="use the link in the latest email you received"))


def _stamped(secret: str, purpose: str, subscriber: Subscriber, moment: datetime) -> str:
    stamp = str(int(moment.timestamp()))
    return f"{subscriber.id}.{stamp}.{_sign(secret, purpose, subscriber, stamp)}"


def _read_stamped(secret: str, purpose: str, token: str, find: Lookup, max_age: timedelta,
                  now: datetime, expired: TokenExpired) -> Subscriber:
    parts = token.strip().split(".")
    if len(parts) != 3 or not _NUMBER.fullmatch(parts[0]) or not _NUMBER.fullmatch(parts[1]):
        raise _invalid()
    subscriber = find(int(parts[0]))
    if subscriber is None or not _verify(secret, purpose, subscriber, parts[1], parts[2]):
        raise _invalid()
    if now.timestamp() - int(parts[1]) > max_age.total_seconds():
        raise expired
    return subscriber


def bounce_token(secret: str, digest_id: str, subscriber: Subscriber) -> str:
    """The token of `subscriber`'s return path for `digest_id`; the same every time."""
    return f"{digest_id}.{subscriber.id}.{_short_signature(secret, digest_id, subscriber)}"


def read_bounce_token(secret: str, token: str, find: Lookup) -> tuple[str, Subscriber]:
    """The digest id and subscriber a bounce token was made for, or `TokenError`."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not _DIGEST.match(parts[0]) or not _NUMBER.match(parts[1]):
        raise TokenError("not a return-path token of this site")
    subscriber = find(int(parts[1]))
    if subscriber is None or not hmac.compare_digest(
            _short_signature(secret, parts[0], subscriber), parts[2].lower()):
        raise TokenError("a return-path token whose signature does not match (forged, or "
                         "signed with another secret)")
    return parts[0], subscriber


def _short_signature(secret: str, digest_id: str, subscriber: Subscriber) -> str:
    if not secret:
        raise ValueError("a signing secret must not be empty")
    key = hashlib.sha256(f"{_BOUNCE}\0{secret}".encode()).digest()
    mac = hmac.new(key, _message(subscriber, digest_id).encode(), hashlib.sha256).digest()
    return base64.b32encode(mac[:10]).decode("ascii").lower()


def _signer(secret: str, purpose: str) -> Signer:
    if not secret:
        raise ValueError("a signing secret must not be empty")
    return Signer(secret, salt=purpose, key_derivation="hmac", digest_method=hashlib.sha256)


def _message(subscriber: Subscriber, stamp: str) -> str:
    return f"{subscriber.id}.{stamp}.{address_key(subscriber.email)}"


def _sign(secret: str, purpose: str, subscriber: Subscriber, stamp: str) -> str:
    return _signer(secret, purpose).get_signature(_message(subscriber, stamp)).decode("ascii")


def _verify(secret: str, purpose: str, subscriber: Subscriber, stamp: str, signature: str
            ) -> bool:
    return _signer(secret, purpose).verify_signature(_message(subscriber, stamp), signature)


def _invalid() -> TokenError:
    return TokenError("this link is not valid",
                      hint="it may have been cut short when copied: use the whole link from "
                      "the latest email")
