"""The recipient's values in a rendered digest, as placeholders filled in per message.

A digest is rendered (and its CSS inlined) once; what differs from one person to
the next is written as a placeholder and substituted when each message is built.
Placeholders use only [A-Za-z0-9_]: premailer and lxml percent-encode other
characters in `href`, and Jinja's escaping leaves these untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from markupsafe import escape as _markup_escape

from publisher.text import one_line

FIELDS = ("greeting", "name", "email", "unsubscribe_url", "preferences_url")
"""What a template may say about its recipient."""

PLACEHOLDERS: dict[str, str] = {f: f"PUBLISHERxRECIPIENTx{f.upper()}x7Q" for f in FIELDS}
PATTERN = re.compile("|".join(PLACEHOLDERS.values()))
FIELD_OF = {placeholder: field for field, placeholder in PLACEHOLDERS.items()}

GREETING_NAMED = "Hi {name},"
GREETING_PLAIN = "Hi there,"


@dataclass(frozen=True, slots=True)
class Recipient:
    """What templates see as `recipient`: in a rendered digest, each field is a placeholder."""

    greeting: str
    name: str
    email: str
    unsubscribe_url: str
    preferences_url: str


TEMPLATE_RECIPIENT = Recipient(**PLACEHOLDERS)


def greeting(name: str) -> str:
    return GREETING_NAMED.format(name=name) if name else GREETING_PLAIN


def recipient_values(name: str, email: str, unsubscribe_url: str, preferences_url: str = ""
                     ) -> dict[str, str]:
    """The plain-text value of every field for one person."""
    clean = one_line(name)
    return {"greeting": greeting(clean), "name": clean, "email": email,
            "unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url}


def html_escape(value: str) -> str:
    """Escape as Jinja2's autoescape does, so a spliced value reads like a rendered one."""
    return str(_markup_escape(value))


def fill(text: str, values: Mapping[str, str], escape: bool) -> str:
    """Substitute every placeholder (HTML-escaping the values when `escape`).

    Used for the web copy and for checks; messages splice pre-encoded bytes instead.
    """
    convert: Callable[[str], str] = html_escape if escape else str
    return PATTERN.sub(lambda m: convert(values[FIELD_OF[m.group(0)]]), text)
