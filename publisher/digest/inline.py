"""premailer, and its quirks, in one place: CSS from `<style>` into `style` attributes.

Run once per digest, never per recipient (it costs tens of milliseconds). It never
fetches anything: `allow_network=False` also leaves `<link rel=stylesheet>` alone.
A `<style data-premailer="ignore">` block (media queries for dark mode and small
screens, with their `!important`) is kept verbatim. cssutils reports CSS it cannot
parse through its own logger, which prints to stderr; those reports are collected
here and returned as warnings instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from premailer import Premailer

from publisher.errors import Problem

_CSS_LOGGER = "CSSUTILS"
# cssutils reports through one logger, whose handlers are swapped while a document is
# inlined: two threads inlining at once would mix up their reports
_ONE_AT_A_TIME = threading.Lock()


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip())


@contextmanager
def _collect_css_reports() -> Iterator[_Collector]:
    logger = logging.getLogger(_CSS_LOGGER)
    saved = (logger.handlers[:], logger.propagate)
    collector = _Collector()
    logger.handlers = [collector]
    logger.propagate = False
    try:
        yield collector
    finally:
        logger.handlers, logger.propagate = saved


def inline_css(html: str, source: str | None, *, cached: bool = False
               ) -> tuple[str, list[Problem]]:
    """The document with its CSS inlined, and a warning for each CSS problem found.

    `cached`: a stylesheet parsed before is not parsed again, and so reports nothing;
    for many renderings of one digest whose first rendering was not cached."""
    inliner = Premailer(
        html,
        allow_network=False,
        disable_validation=True,  # keeps mso-* and -webkit-* properties, and logs nothing
        keep_style_tags=False,  # only rules that cannot be inlined (media queries) stay
        strip_important=False,
        remove_classes=False,  # media queries in the kept <style> still match
        cache_css_parsing=cached,  # a cached parse would hide problems on a second render
        disable_basic_attributes=["height"],  # height="auto" is not valid HTML
    )
    with _ONE_AT_A_TIME, _collect_css_reports() as collector:
        result = inliner.transform(pretty_print=False)
    problems = [
        Problem(f"CSS problem: {message}", path=source, warning=True,
                hint="fix the <style> block; the rule was left out of the email")
        for message in collector.messages
    ]
    return result, problems
