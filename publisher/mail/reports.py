"""What a message that came back says: bounces (RFC 3464), complaints (RFC 5965), requests.

`read_reports` turns one raw message into `Report`s, apart from any store:

- a delivery status notification (`multipart/report; report-type=delivery-status`):
  one report per recipient block whose Action is failed or delayed, with its
  Status and Diagnostic-Code;
- a feedback-loop complaint (`report-type=feedback-report`, ARF): one complaint;
- any other bounce, in the shapes common servers write by hand (Postfix,
  Exim, qmail, Exchange, Yahoo...): the failed addresses that Mailman's
  maintained detectors (`flufl.bounce`) find, with no status code;
- a message to the List-Unsubscribe address: an unsubscribe request.

Each report carries what could tie it to a message we sent: return-path
tokens (`bounces+TOKEN@…`, found in the headers and in the returned message's
headers) and the returned message's Message-IDs. Nothing here trusts either:
matching and checking signatures is the caller's job.
"""

from __future__ import annotations

import email
import email.message
import email.parser
import email.policy
import re
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from typing import Literal

from flufl.bounce import all_failures

Kind = Literal["bounce", "delay", "complaint", "unsubscribe"]
MAX_BYTES = 10 * 1024 * 1024  # a bounce is small; a larger message is not read
_RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to",
                      "x-envelope-to", "original-mail-from", "return-path")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*<([^<>\s]{1,250})>", re.IGNORECASE | re.MULTILINE)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


class Unreadable(ValueError):
    """The message cannot be read as mail at all."""


@dataclass(frozen=True, slots=True)
class Report:
    kind: Kind
    recipient: str  # the address that failed or complained ("" when not said)
    status: str = ""  # an enhanced status code such as "5.1.1"
    diagnostic: str = ""  # the server's words, on one line
    tokens: tuple[str, ...] = ()  # return-path tokens found in the message
    message_ids: tuple[str, ...] = ()  # Message-IDs of the message that bounced

    @property
    def reply(self) -> str:
        """The report as one line for the ledger, like a server's reply."""
        words = self.diagnostic or self.status or self.kind
        head = {"bounce": "bounced later", "delay": "delayed", "complaint": "complaint",
                "unsubscribe": "unsubscribe request"}[self.kind]
        return f"{head}: {words}" if words != self.kind else head


@dataclass(frozen=True, slots=True)
class Addresses:
    """Where mail comes back to: the bounce address's local part, the unsubscribe address."""

    bounce_local: str | None  # "bounces" of bounces@example.org
    unsubscribe: str | None  # "unsubscribe@example.org"


def read_reports(raw: bytes, addresses: Addresses) -> list[Report]:
    """The reports in one message; [] when it is none of the kinds above."""
    if len(raw) > MAX_BYTES:
        raise Unreadable(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    if not raw.strip():
        raise Unreadable("empty")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # the parser is lenient; anything it raises means garbage
        raise Unreadable(f"not a mail message ({type(exc).__name__})") from None
    if not message.keys():
        raise Unreadable("no header fields")
    tokens = tuple(dict.fromkeys(_tokens(message, raw, addresses.bounce_local)))
    ids = tuple(dict.fromkeys(m.decode("ascii", "replace") for m in _MESSAGE_ID.findall(
        _returned_part(raw))))
    report_type = message.get_param("report-type", "", header="content-type")
    kind = str(report_type).lower() if message.get_content_type() == "multipart/report" else ""
    if kind == "feedback-report":
        return _complaint(message, tokens, ids)
    if kind == "delivery-status":
        return _dsn(message, tokens, ids)
    if _to_unsubscribe(message, addresses.unsubscribe):
        return [Report("unsubscribe", parseaddr(message.get("from", ""))[1],
                       diagnostic=_one_line(message.get("subject", "")))]
    return _by_detectors(message, tokens, ids)


def _dsn(message: email.message.Message, tokens: tuple[str, ...], ids: tuple[str, ...]
         ) -> list[Report]:
    reports = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            if not isinstance(block, email.message.Message):
                continue
            action = str(block.get("action", "")).strip().lower()
            if not action.startswith(("failed", "delayed", "error")):
                continue
            recipient = _dsn_address(block)
            status = _STATUS.search(str(block.get("status", "")))
            reports.append(Report(
                "delay" if action.startswith("delayed") else "bounce", recipient,
                status.group(1) if status else "",
                _diagnostic(str(block.get("diagnostic-code", ""))), tokens, ids))
    return reports


def _dsn_address(block: email.message.Message) -> str:
    for header in ("original-recipient", "final-recipient", "x-actual-recipient"):
        value = str(block.get(header, ""))
        kind, _, address = value.partition(";")
        if address.strip() and kind.strip().lower() in ("rfc822", "utf-8"):
            return address.strip().strip("<>")
    return ""


def _complaint(message: email.message.Message, tokens: tuple[str, ...], ids: tuple[str, ...]
               ) -> list[Report]:
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        fields = _fields_of(part)
        recipient = str(fields.get("original-rcpt-to", "")).strip().strip("<>")
        return [Report("complaint", recipient, "",
                       _one_line(str(fields.get("feedback-type", "abuse"))), tokens, ids)]
    return []


def _fields_of(part: email.message.Message) -> email.message.Message:
    """The fields of a report part, whether the parser made them a message or left text."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], email.message.Message):
        first: email.message.Message = payload[0]
        return first
    text = part.get_payload(decode=True) or b""
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        text if isinstance(text, bytes) else b"")


def _by_detectors(message: email.message.Message, tokens: tuple[str, ...],
                  ids: tuple[str, ...]) -> list[Report]:
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector choking on a hostile message: not a bounce we can read
        return []
    found = [Report("bounce", a.decode("ascii", "replace"), "", "", tokens, ids)
             for a in sorted(permanent)]
    found += [Report("delay", a.decode("ascii", "replace"), "", "", tokens, ids)
              for a in sorted(temporary - permanent)]
    return found


def _tokens(message: email.message.Message, raw: bytes, local: str | None) -> list[str]:
    """Return-path tokens in the envelope headers and in the returned message."""
    if not local:
        return []
    pattern = re.compile(re.escape(local) + r"\+([A-Za-z0-9._=-]{1,200})@", re.IGNORECASE)
    values = [str(v) for h in _RECIPIENT_HEADERS for v in message.get_all(h, [])]
    found = [pattern.findall(address) for _, address in getaddresses(values)]
    returned = pattern.findall(_returned_part(raw).decode("ascii", "replace"))
    return [token for group in found for token in group] + returned


def _returned_part(raw: bytes) -> bytes:
    """The returned message (or its headers): whatever follows the report's first part."""
    blank = _BLANK_LINE.search(raw)
    return raw[blank.end():] if blank else b""


def _to_unsubscribe(message: email.message.Message, address: str | None) -> bool:
    if not address:
        return False
    values = [str(v) for h in ("to", "cc", "delivered-to", "x-original-to")
              for v in message.get_all(h, [])]
    return any(a.lower() == address.lower() for _, a in getaddresses(values))


def _diagnostic(text: str) -> str:
    kind, _, words = text.partition(";")
    return _one_line(words if words.strip() and kind.strip().isalpha() else text)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]
