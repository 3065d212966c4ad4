"""Where the current time comes from: passed in, so tests and `--now` can fix it."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from publisher.models import Clock


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(moment: datetime) -> Clock:
    """A clock stopped at `moment` (which must be timezone-aware)."""
    if moment.tzinfo is None:
        raise ValueError("a fixed clock needs a timezone-aware datetime")
    return lambda: moment


def parse_moment(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 date or datetime; without an offset it is read in `zone`."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
