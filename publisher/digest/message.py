"""Each recipient's MIME message, built by splicing their values into pre-encoded bytes.

A `MessageTemplate` is made once per digest: the header block and both bodies are
encoded (quoted-printable, CRLF) around the recipient placeholders, with a fixed
boundary. `build()` then only encodes a handful of short values — the To field,
the Message-ID, the unsubscribe and preferences tokens, the greeting — and joins bytes, which is
what lets a digest go out at thousands of messages a second.

Each per-recipient value is encoded on its own and set on its own quoted-printable
line(s) between soft line breaks, so no soft break produced for the constant text
can fall inside it, and a token that fits on a line is never split.
"""

from __future__ import annotations

import hashlib
import re
from binascii import b2a_qp
from dataclasses import dataclass
from datetime import tzinfo
from email.utils import format_datetime
from urllib.parse import parse_qsl, quote

from publisher.digest.placeholders import FIELD_OF, PATTERN, greeting, html_escape
from publisher.errors import SubscriberError
from publisher.mail import headers
from publisher.models import Digest, RenderedDigest, is_digest_id
from publisher.text import one_line

_LINK_SLOT = "unsubscribe_link"  # the per-recipient end of the unsubscribe URL
_PREFERENCES_SLOT = "preferences_link"  # and of the preference page's URL
_TO, _MESSAGE_ID, _LIST_UNSUBSCRIBE = 1, 2, 3  # where the per-recipient headers go
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,900}")
_PART = ("--{boundary}\r\nContent-Type: text/{kind}; charset=\"utf-8\"\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n")


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every message of a site says about its sender, as checked when the settings loaded."""

    from_address: str
    from_name: str
    reply_to: str | None
    unsubscribe_mailto: str | None  # "unsubscribe@example.org" or "mailto:...?subject=..."
    list_name: str  # the site's title, shown in List-Id
    host: str  # the site's host in ASCII, for Message-IDs and List-Id
    service_url: str  # where /unsubscribe is answered, ending in "/"
    zone: tzinfo  # the Date header's zone


def qp_inline(data: bytes) -> bytes:
    """Quoted-printable with CRLF that ends on a line break, so the next piece starts a line.

    Unless `data` itself ends with a line break, a soft line break ("=" CRLF) is
    added; every line stays within 76 characters.
    """
    if not data:
        return b""
    encoded = b2a_qp(data)
    if len(encoded) > 75:
        encoded = _limit_lines(encoded)
    if encoded.endswith(b"\n"):
        return encoded.replace(b"\n", b"\r\n")
    start = encoded.rfind(b"\n") + 1
    if len(encoded) - start > 75:  # no room for the soft break's "=": break once more
        cut = _cut(encoded, start + 75)
        encoded = encoded[:cut] + b"=\n" + encoded[cut:]
    return encoded.replace(b"\n", b"\r\n") + b"=\r\n"


def _limit_lines(encoded: bytes) -> bytes:
    """Break lines longer than 76 characters (binascii lets an escaped space at the end of a
    line reach 78)."""
    lines = encoded.split(b"\n")
    if all(len(line) <= 76 for line in lines):
        return encoded
    out = []
    for line in lines:
        while len(line) > 76:
            cut = _cut(line, 75)
            out.append(line[:cut] + b"=")
            line = line[cut:]
        out.append(line)
    return b"\n".join(out)


def _cut(line: bytes, cut: int) -> int:
    """Move a break position back so that it does not split an "=XX" escape."""
    if line[cut - 1] == 0x3D:
        return cut - 1
    if line[cut - 2] == 0x3D:
        return cut - 2
    return cut


class MessageTemplate:
    """A digest's message with holes for the recipient; `build()` fills them."""

    def __init__(self, envelope: Envelope, digest: Digest, rendered: RenderedDigest) -> None:
        if not is_digest_id(digest.id):
            raise ValueError(f"digest id {digest.id!r} cannot go into a Message-ID")
        self._host = envelope.host
        self._id_left = digest.id
        self._unsubscribe_prefix = envelope.service_url + "unsubscribe?token="
        self._link_prefixes = {"unsubscribe_url": (self._unsubscribe_prefix, _LINK_SLOT),
                               "preferences_url": (envelope.service_url + "preferences?token=",
                                                   _PREFERENCES_SLOT)}
        self._mailto = _mailto(envelope.unsubscribe_mailto)  # the token goes at its end
        boundary = "=_" + hashlib.sha256(
            "\0".join((digest.id, rendered.subject, rendered.text, rendered.html)).encode()
        ).hexdigest()[:32]  # "=_" cannot occur in quoted-printable text
        self._pieces: list[bytes] = [fixed_headers(envelope, digest, rendered),
                                     b"", b"", b""]
        self._slots: list[tuple[int, bool, str]] = []  # (index in pieces, is_html, field)
        self._pieces.append(
            f"MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n"
            f" boundary=\"{boundary}\"\r\n\r\n".encode())
        self._add_part(rendered.text, boundary, is_html=False)
        self._add_part(rendered.html, boundary, is_html=True)
        self._pieces.append(f"--{boundary}--\r\n".encode())
        self._fields = sorted({(is_html, field) for _, is_html, field in self._slots})

    def _add_part(self, body: str, boundary: str, *, is_html: bool) -> None:
        """One body part: constant text pre-encoded, each recipient value left as a slot."""
        self._pieces.append(_PART.format(boundary=boundary,
                                         kind="html" if is_html else "plain").encode())
        escape = html_escape if is_html else str
        body = body.replace("\r\n", "\n").replace("\r", "\n")
        chunks = PATTERN.split(body)
        pending = chunks[0]
        for placeholder, following in zip(PATTERN.findall(body), chunks[1:], strict=True):
            field = FIELD_OF[placeholder]
            if field in self._link_prefixes:  # only the token differs from one to the next
                prefix, field = self._link_prefixes[field]
                pending += escape(prefix)
            self._pieces.append(qp_inline(pending.encode("utf-8")))
            self._slots.append((len(self._pieces), is_html, field))
            self._pieces.append(b"")
            pending = following
        self._pieces.append(qp_inline(pending.encode("utf-8")) + b"\r\n")

    def build(self, subscriber_id: int, email: str, name: str, unsubscribe_token: str,
              preferences_token: str = "") -> bytes:
        """The complete message for one subscriber, with CRLF line endings."""
        name = one_line(name)
        token = _url_token(unsubscribe_token)
        try:
            to = headers.field("To", headers.mailbox(name, headers.address(email)))
        except ValueError as exc:
            raise SubscriberError(f"cannot address a message: {exc}", key=f"subscriber "
                                  f"{subscriber_id}", hint="correct or remove this subscriber"
                                  ) from None
        plain = {"greeting": greeting(name), "name": name, "email": email, _LINK_SLOT: token,
                 _PREFERENCES_SLOT: _url_token(preferences_token)}
        values = {
            (is_html, field): qp_inline((html_escape(plain[field]) if is_html
                                         else plain[field]).encode("utf-8"))
            for is_html, field in self._fields
        }
        pieces = self._pieces.copy()
        pieces[_TO] = to.encode("utf-8")
        pieces[_MESSAGE_ID] = (f"Message-ID: <{self._id_left}.{subscriber_id}@{self._host}>"
                               "\r\n").encode()
        mailto = f",\r\n <{self._mailto}{token}>" if self._mailto else ""
        pieces[_LIST_UNSUBSCRIBE] = (f"List-Unsubscribe: <{self._unsubscribe_prefix}{token}>"
                                     f"{mailto}\r\n").encode()
        for index, is_html, field in self._slots:
            pieces[index] = values[is_html, field]
        return b"".join(pieces)


def _url_token(token: str) -> str:
    return token if _SAFE_TOKEN.fullmatch(token) else quote(token, safe="")


def fixed_headers(envelope: Envelope, digest: Digest, rendered: RenderedDigest) -> bytes:
    """The header fields every recipient of a digest shares, encoded and folded once."""
    if digest.created_at.tzinfo is None:
        raise ValueError("a digest's created_at must be timezone-aware")
    schedule = re.sub(r"[^a-z0-9-]+", "-", digest.schedule.lower()).strip("-") or "digest"
    fields = [
        headers.field("From", headers.mailbox(envelope.from_name,
                                              headers.address(envelope.from_address))),
        headers.field("Subject", headers.unstructured(rendered.subject)),
        f"Date: {format_datetime(digest.created_at.astimezone(envelope.zone))}\r\n",
    ]
    if envelope.reply_to:
        fields.append(headers.field("Reply-To", [headers.address(envelope.reply_to)]))
    fields += [
        headers.field("List-Id", [*headers.phrase(envelope.list_name),
                                  f"<{schedule}.{envelope.host}>"]),
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
    ]
    return "".join(fields).encode("utf-8")


def _mailto(value: str | None) -> str | None:
    """`mailto:address?subject=unsubscribe%20`, from a setting with or without the scheme,
    ready for the reader's unsubscribe token at its end (so a request by mail says who
    asked, and cannot be made for someone else)."""
    if not value:
        return None
    address, _, query = value.strip().removeprefix("mailto:").partition("?")
    fields = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)]
    subject = next((v for k, v in fields if k.lower() == "subject"), "") or "unsubscribe"
    others = "".join(f"{quote(k)}={quote(v)}&" for k, v in fields if k.lower() != "subject")
    return f"mailto:{headers.address(address)}?{others}subject={quote(subject)}%20"
