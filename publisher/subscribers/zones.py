"""The time zones a reader may choose, as the subscribe form lists them.

A module of its own, with nothing but the standard library: every build lists
the zones for the subscribe page, and needs nothing else of the subscribers wing.
"""

from __future__ import annotations

import functools
from zoneinfo import available_timezones


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone this machine knows as Area/Place, and UTC, sorted (the page's list).

    Left out: the system's `localtime` and `Factory`, and the `posix/` and `right/`
    copies, which would name the same zones twice or mean another machine's zone.
    """
    return tuple(sorted(name for name in available_timezones()
                        if ("/" in name or name == "UTC")
                        and not name.startswith(("posix/", "right/"))))
