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


FIRST_YEAR, LAST_YEAR = 1000, 9000  # far enough from the calendar's ends to look years ahead


class MomentOutOfRange(ValueError):
    """A date-time that reads well but lies too near the ends of the calendar."""


def parse_moment(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 date or datetime; without an offset it is read in `zone`.

    ValueError if it is none; `MomentOutOfRange` if it lies outside the years
    FIRST_YEAR to LAST_YEAR, where schedules and dates could not be worked out.
    """
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise MomentOutOfRange(f"lies outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return moment
