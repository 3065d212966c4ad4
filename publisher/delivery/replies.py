"""Whose problem an SMTP reply is, read from its enhanced status code (RFC 3463).

- "hard": the address is wrong or gone (5.1.x, 5.2.1 disabled, 5.4.4 no route to
  the domain; 550, 551, 553 without an enhanced code): the reader is suppressed.
- "soft": try again later (every 4xx not below, 5.2.x mailbox full and the like).
- "throttle": the server asks the whole run to slow down (421, 451 4.7.x, 454
  "throttling", Gmail's 4.7.28): every recipient waits, not just this one.
- "sender": a refusal of us, not of the reader: policy, authentication,
  relaying, content (5.7.x, 5.3.x, 5.5.x, 5.6.x, 5.2.3 too big, 554 without a
  code). It never suppresses anyone.

Greylisting often answers 451 4.7.1; a reply that says "greylist" is soft, since
it concerns that one recipient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["hard", "soft", "throttle", "sender"]

_ENHANCED = re.compile(r"^[245]\.(\d{1,3})\.(\d{1,3})\b")
_BASIC: dict[int, Kind] = {550: "hard", 551: "hard", 553: "hard", 552: "soft"}
_CODE = re.compile(r"^(\d{3})(?:[ -]|$)(.*)", re.DOTALL)
_THROTTLING = re.compile(r"throttl|rate limit|too many (messages|connections)|slow down",
                         re.IGNORECASE)
_GREYLISTING = re.compile(r"gr[ae]ylist", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reply:
    """A server's reply split into its parts: "550 5.1.1 user unknown"."""

    code: int
    enhanced: tuple[int, int, int] | None
    text: str

    @classmethod
    def parse(cls, reply: str, code: int | None = None) -> Reply:
        said = _CODE.match(reply.strip())
        head, rest = (said.group(1), said.group(2)) if said else ("", reply.strip())
        if code is None:
            code = int(head) if head else 0
        elif head != str(code):
            rest = reply.strip()
        match = _ENHANCED.match(rest)
        enhanced = None
        if match and rest[0] == str(code)[:1]:
            enhanced = (int(rest[0]), int(match.group(1)), int(match.group(2)))
        return cls(code, enhanced, rest)


def classify(reply: str, code: int | None = None) -> Kind:
    """What kind of failure a non-2xx reply is (see the module's docstring)."""
    parsed = Reply.parse(reply, code)
    if 400 <= parsed.code < 500 or (parsed.enhanced and parsed.enhanced[0] == 4):
        return _temporary(parsed)
    return _permanent(parsed)


def _temporary(reply: Reply) -> Kind:
    if _GREYLISTING.search(reply.text):
        return "soft"
    if reply.code == 421 or (reply.enhanced is not None and reply.enhanced[1:] == (7, 28)):
        return "throttle"
    if reply.code == 451 and reply.enhanced is not None and reply.enhanced[1] == 7:
        return "throttle"
    if _THROTTLING.search(reply.text):
        return "throttle"
    return "soft"


def _permanent(reply: Reply) -> Kind:
    if reply.enhanced is None or reply.enhanced[1:] == (0, 0):
        return _BASIC.get(reply.code, "sender")
    subject, detail = reply.enhanced[1:]
    if subject == 1 or (subject, detail) in ((2, 1), (4, 4)):
        return "hard"
    if subject == 2 and detail != 3:
        return "soft"  # the mailbox exists: full, or busy
    if subject == 4:
        return "soft"  # routing trouble on the way
    return "sender"
