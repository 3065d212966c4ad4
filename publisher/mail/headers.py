"""Header fields encoded by hand: fast enough to run per recipient, and injection-proof.

The stdlib's `email` header machinery is correct but costs tens of microseconds a
field; these few shapes (a mailbox, a phrase, an unstructured subject) are all a
digest needs. Every value passes through `one_line` first, so no CR or LF from a
title or a subscriber's name can reach the header block; non-ASCII text becomes
RFC 2047 encoded words, which never contain white space, so folding stays safe.
"""

from __future__ import annotations

import re
from binascii import b2a_base64
from collections.abc import Callable
from urllib.parse import urlsplit

from publisher.text import is_plain_address, one_line

MAX_LINE = 78
HARD_LIMIT = 998
# 39 bytes -> 52 base64 characters -> a 64-character encoded word: it fits on the
# first line after any header name used here, and on a continuation line.
_WORD_BYTES = 39
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


def encoded_words(text: str) -> list[str]:
    """RFC 2047 'B' encoded words, short enough to fold, split after a space where possible.

    A space that separates two words of the text stays inside an encoded word, since
    decoders drop the white space between adjacent encoded words.
    """
    data = text.encode("utf-8")
    words = []
    while data:
        cut = min(len(data), _WORD_BYTES)
        if cut < len(data):
            space = data.rfind(b" ", 1, cut)
            if space > 0:
                cut = space + 1
            while (data[cut] & 0xC0) == 0x80:  # never inside a UTF-8 sequence
                cut -= 1
        words.append("=?utf-8?b?" + b2a_base64(data[:cut], newline=False).decode() + "?=")
        data = data[cut:]
    return words


def phrase(text: str) -> list[str]:
    """A display name as foldable tokens.

    ASCII: one quoted string, split at its spaces (folding there keeps the space).
    Otherwise plain ASCII words stay atoms and each run of other words becomes
    encoded words, which both RFC 2047 decoders and Python's parser read back exactly.
    """
    text = one_line(text)
    if not text:
        return []
    if text.isascii() and "=?" not in text:
        words = text.replace("\\", "\\\\").replace('"', '\\"').split(" ")
        words[0] = '"' + words[0]
        words[-1] += '"'  # after the line above: with one word, both are the same
        return words
    return _mixed(text, lambda word: _ATOM.fullmatch(word) is not None)


def unstructured(text: str) -> list[str]:
    """A subject as foldable tokens: ASCII words as they are, other runs as encoded words."""
    text = one_line(text)
    return _mixed(text, lambda word: word.isascii() and len(word) <= 60) if text else []


def _mixed(text: str, plain: Callable[[str], bool]) -> list[str]:
    """Words for which `plain` holds stay as they are; each run of others is encoded."""
    tokens: list[str] = []
    run: list[str] = []
    for word in text.split(" "):
        if plain(word) and "=?" not in word:
            tokens += encoded_words(" ".join(run)) if run else []
            run = []
            tokens.append(word)
        else:
            run.append(word)
    return tokens + (encoded_words(" ".join(run)) if run else [])


def address(value: str, *, what: str = "address") -> str:
    """An addr-spec that cannot break out of its header; raise ValueError otherwise."""
    if not is_plain_address(value):
        raise ValueError(f"{what} {value!r} is not a plain email address")
    return value


def mailbox(name: str, addr: str) -> list[str]:
    """`"Name" <addr>` (or the bare address when there is no name), as foldable tokens."""
    words = phrase(name)
    return [*words, f"<{addr}>"] if words else [addr]


def field(name: str, tokens: list[str]) -> str:
    """`Name: tokens` folded before a token that would pass 78 characters, CRLF-terminated."""
    line = name + ":"
    lines = []
    for number, token in enumerate(tokens):
        if number and len(line) + 1 + len(token) > MAX_LINE:
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
    lines.append(line)
    if any(len(x) > HARD_LIMIT for x in lines):
        raise ValueError(f"the {name} header has a part longer than {HARD_LIMIT} characters")
    return "\r\n".join(lines) + "\r\n"


def site_host(base_url: str) -> str:
    """The host of the site's URL, in ASCII (IDNA), for Message-IDs and List-Id."""
    host = urlsplit(base_url).hostname or "localhost"
    return host.encode("idna").decode("ascii")
