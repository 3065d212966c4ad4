"""Characters that no feed can carry, found where the author can see them.

XML 1.0 cannot hold the C0 control characters (other than tab, line feed and
carriage return), U+FFFE, U+FFFF or half of a surrogate pair, and lxml refuses a
string that has one. They come from copies out of PDFs (a form feed at each page
break, a broken ligature), word processors (a vertical tab for a manual line
break) and old DOS editors (a SUBSTITUTE at the end of the file).

The choice, made on purpose: a C0 control character (or DELETE) in an article's
text is left out, a form feed, vertical tab or separator becoming a space, with a
warning naming its line and column; `--strict` makes the warning an error. They
are invisible, so leaving one out changes nothing a reader sees, and refusing
them would stop the import of a whole archive for bytes nobody can point at.
U+FFFE, U+FFFF and lone surrogates are errors: they are never text, only the
trace of a broken conversion that the author has to look at. C1 control
characters (U+0080–U+009F) are valid XML but almost always Windows-1252
punctuation decoded as Latin-1, so they are kept with a warning that says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from publisher.errors import Problem
from publisher.text import XML_UNSAFE, character_name, position

_ANY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_C0 = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE_LIKE = re.compile("[\x0b\x0c\x1c-\x1f]")  # white space to Unicode: a space stays
_PLAIN_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_REFERENCE = re.compile(r"&#(?:[xX]([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")
_SHOWN = 3  # characters of one kind named per text; the rest are counted
CONTROL_HINT = "it is invisible in most editors: delete it (with --strict it is an error)"
BROKEN_HINT = "delete it: it is not text, only the trace of a broken conversion"
C1_HINT = ("the text was probably converted from Windows-1252 as if it were Latin-1: "
           "replace the character with the one it stood for")


def _kind(char: str) -> tuple[str, str, bool]:
    """What is said of a character found by `_ANY`, its hint, and whether it only warns."""
    if _C0.fullmatch(char):
        return "cannot be carried by a feed and was left out", CONTROL_HINT, True
    if XML_UNSAFE.fullmatch(char):
        return "is not a character, and no feed can carry it", BROKEN_HINT, False
    meant = bytes([ord(char)]).decode("cp1252", errors="replace")
    return (f"is a control character; in Windows-1252 that byte is {meant}", C1_HINT, True)


def suspect(text: str) -> bool:
    """Whether `text` holds a character `text_problems` would report: one quick scan.

    ASCII text, the usual case, is scanned as bytes (ten times as fast as the
    pattern): what is left once the printable characters are deleted is suspect.
    """
    if text.isascii():
        return bool(text.encode("ascii").translate(None, _PLAIN_ASCII))
    return _ANY.search(text) is not None


def text_problems(text: str, source: str, line: int, *, key: str | None = None
                  ) -> list[Problem]:
    """Each suspect character of `text` (the body starting on `line`, or the value of `key`
    written on `line`), named with its line and column, or with its key."""
    if not suspect(text):
        return []  # the usual case: one scan, nothing found
    found: dict[str, list[Problem]] = {}
    for match in _ANY.finditer(text):
        char = match.group()
        what, hint, warning = _kind(char)
        same = found.setdefault(what, [])
        if len(same) < _SHOWN:
            at, column = position(text, match.start())
            where = "" if key else f" at column {column}"
            same.append(Problem(f"{character_name(char)}{where} {what}", path=source,
                                line=line if key else line + at, key=key, hint=hint,
                                warning=warning))
        elif len(same) == _SHOWN:
            at, _ = position(text, match.start())
            same.append(Problem(f"and more characters that {what.partition(';')[0]}", path=source,
                                line=line if key else line + at, key=key, hint=hint,
                                warning=warning))
    return [problem for group in found.values() for problem in group]


def left_out(text: str) -> str:
    """`text` without its C0 control characters; the white-space ones become spaces."""
    if _C0.search(text) is None:
        return text
    return _C0.sub("", _SPACE_LIKE.sub(" ", text))


def control_count(text: str) -> int:
    """How many C0 control characters `left_out` leaves out of `text`."""
    return len(_C0.findall(text))


def xml_safe(fragment: str) -> str:
    """Rendered HTML without the characters XML cannot carry (see `reference_problems`)."""
    if XML_UNSAFE.search(fragment) is None:
        return fragment
    return XML_UNSAFE.sub("", _SPACE_LIKE.sub(" ", fragment))


def rendered(fragment: str, written: str, source: str, line: int | None, *,
             key: str | None = None) -> tuple[str, list[Problem]]:
    """Rendered HTML made safe for XML, and where its unsafe characters were written.

    `written` has been through `left_out`, so only a character reference can have
    brought such a character in: without "&#" there is nothing to look for.
    """
    if "&#" not in written or XML_UNSAFE.search(fragment) is None:
        return fragment, []
    return xml_safe(fragment), list(reference_problems(written, source, line, key=key))


def reference_problems(text: str, source: str, line: int | None, *, key: str | None = None
                       ) -> Iterator[Problem]:
    """Character references (`&#1;`, `&#xFFFE;`) that stand for what XML cannot carry.

    Called only when the rendered HTML holds such a character, so a reference
    shown as itself in a code span is never reported.
    """
    for match in _REFERENCE.finditer(text):
        number = int(match.group(1) or match.group(2), 16 if match.group(1) else 10)
        # 0, surrogates and numbers past Unicode become U+FFFD in CommonMark and HTML alike
        if not 0 < number < 0x110000 or 0xD800 <= number <= 0xDFFF:
            continue
        char = chr(number)
        if XML_UNSAFE.fullmatch(char):
            _, hint, warning = _kind(char)
            at, column = position(text, match.start())
            where = "" if key or line is None else f" at column {column}"
            yield Problem(f"the reference {match.group()}{where} stands for "
                          f"{character_name(char)}, which no feed can carry",
                          path=source, line=line if key or line is None else line + at,
                          key=key, hint=hint, warning=warning)
