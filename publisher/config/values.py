"""The values a configuration file holds, each read and checked by one rule.

Durations, text shown in feeds, folder names, addresses, URLs and permalinks:
the models of `publisher.config` and the schedule files use these, so that a
rule written once is the rule everywhere (`publisher.text` holds what the
other wings share of them).
"""

from __future__ import annotations

import re
import string
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from publisher.text import character_name, is_plain_address, parse_duration, url_problem, xml_unsafe


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be a quoted duration such as '7d', not {value!r}")
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
"""A duration as written in TOML ('15m', '6h', '7d', '2w'), checked and read at load."""


def _text(value: object) -> object:
    if isinstance(value, str) and (bad := xml_unsafe(value)):
        raise refuse(f"holds {character_name(bad)}, which no feed or page can carry",
                     "delete it: it is invisible in most editors")
    return value


def _folder(value: object) -> object:
    if isinstance(value, str) and (not value.strip() or re.search(r"[\x00-\x1f\x7f]", value)):
        raise refuse(f"{value!r} is not a folder name",
                     "write a folder relative to the site, such as \"public\"")
    return value


def _http_url(value: str) -> str:
    require_http_url(value)
    return value


Text = Annotated[str, AfterValidator(_text)]
"""Text shown in feeds, pages or mail: nothing XML 1.0 cannot carry."""
Folder = Annotated[str, AfterValidator(_folder)]
"""A folder of the site, relative to it (or absolute)."""
HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An absolute http(s) URL that can be read (see `publisher.text.url_problem`)."""


def refuse(message: str, hint: str) -> PydanticCustomError:
    """A validation error that carries its hint to the `Problem` it becomes."""
    return PydanticCustomError("hinted", "{message}", {"message": message, "hint": hint})


def address(value: str) -> str:
    """The one check of an address in the configuration: plain, and safe in a header."""
    if not is_plain_address(value.strip()):
        raise refuse(f"{value!r} is not an email address",
                     "write a plain address such as digest@example.org")
    return value.strip()


def require_http_url(value: str) -> None:
    reason = url_problem(value)
    if reason:
        why = "" if reason == "it is not an absolute http(s) URL" else f" ({reason})"
        raise ValueError(f"{value!r} is not an absolute http(s) URL{why}, e.g. "
                         "'https://example.org/'")


_PLACEHOLDERS = ("year", "month", "day", "slug")


def placeholders(permalink: str) -> set[str]:
    """The placeholders of a permalink, each a bare `{name}` (no format, no conversion)."""
    try:
        parsed = list(string.Formatter().parse(permalink))
    except ValueError as exc:
        raise ValueError(f"{permalink!r} is not a permalink: {exc}; write a literal brace "
                         "nowhere, e.g. '{year}/{month}/{slug}/'") from None
    names = set()
    for literal, name, spec, conversion in parsed:
        if re.search(r"[^A-Za-z0-9._~/-]", literal):
            raise ValueError(f"{permalink!r}: the text between placeholders may only hold "
                             "letters, digits, '.', '_', '~', '-' and '/'")
        if name is None:
            continue
        if name not in _PLACEHOLDERS or spec or conversion:
            raise ValueError(f"unknown placeholder {{{name}{'!' + conversion if conversion else ''}"
                             f"{':' + spec if spec else ''}}}; use {{year}}, {{month}}, {{day}} "
                             "and {slug}")
        names.add(name)
    return names
