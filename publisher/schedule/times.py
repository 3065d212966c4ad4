"""When a schedule is due: cron expressions and intervals turned into aware instants.

APScheduler parses and matches the cron expression, but only in wall-clock
space: its own zone-aware stepping repeats or misplaces runs on the days clocks
change (a daily 01:30 job fires twice on a fall-back day; a 02:30 job on a
spring-forward day comes out as a time that does not exist). So we step from one
naive local wall time to the next with a trigger set to UTC, and resolve each
wall time to an instant ourselves:

- a wall time that does not exist (clocks go forward) runs once, shifted
  forward by the length of the gap: 02:30 becomes 03:30 on the day that skips
  from 02:00 to 03:00;
- a wall time that happens twice (clocks go back) runs once, at its first
  occurrence;
- an instant that is not after the previous one (two wall times landing on the
  same instant across a gap) is passed over, so runs are strictly increasing.

`every` schedules are plain intervals in absolute time, counted from the Unix
epoch in UTC (every 15 minutes is :00, :15, :30 and :45 UTC), untouched by
daylight-saving changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice, takewhile
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from publisher.models import Schedule

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * sun",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# The five crontab fields: the label a message uses, and APScheduler's name for it.
_FIELDS = (("minute", "minute"), ("hour", "hour"), ("day of month", "day"),
           ("month", "month"), ("day of week", "day_of_week"))
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbers them 0-6
_DOW_PART = re.compile(r"^(?:\*|(\w+)(?:-(\w+))?)(?:/(\d+))?$")
# Where the offsets around a moment are sampled: a day either side covers any change of offset.
_AROUND = tuple(timedelta(hours=h) for h in (-24, -12, 0, 12, 24))


@dataclass(frozen=True, slots=True)
class CronTable:
    """A compiled crontab line that finds the next matching naive wall time.

    Like cron, when both day of month and day of week are restricted (neither
    starts with `*`), a day matches if either does; APScheduler alone would
    require both, so such a line holds two triggers.
    """

    triggers: tuple[CronTrigger, ...]

    def next_wall(self, wall: datetime) -> datetime | None:
        """The first matching wall time strictly after `wall` (both naive)."""
        start = wall.replace(tzinfo=UTC) + timedelta(microseconds=1)
        found = [t.get_next_fire_time(None, start) for t in self.triggers]
        times = [f.replace(tzinfo=None) for f in found if f is not None]
        return min(times) if times else None


@lru_cache(maxsize=256)
def parse_cron(expression: str) -> CronTable:
    """Compile a crontab line or an alias such as '@daily'; ValueError says what is wrong."""
    text = ALIASES.get(expression.strip().lower(), expression)
    values = text.split()
    if len(values) != 5:
        raise ValueError(
            f"{_shown(expression)} is not a cron expression: it needs 5 fields (minute, hour, "
            f"day of month, month, day of week), not {len(values)}; e.g. '0 7 * * mon-fri' "
            "or '@daily'")
    fields = dict(zip((name for _, name in _FIELDS), values, strict=True))
    # Whether each day field is restricted is decided on the text as written, as cron does.
    either_day = not fields["day"].startswith("*") and not fields["day_of_week"].startswith("*")
    fields["day_of_week"] = _weekdays(fields["day_of_week"], expression)
    for label, name in _FIELDS:
        _check_field(label, name, fields[name], expression)
    variants = [fields]
    if either_day:
        variants = [{**fields, "day_of_week": "*"}, {**fields, "day": "*"}]
    table = CronTable(tuple(CronTrigger(**v, timezone=UTC) for v in variants))
    if table.next_wall(datetime(2000, 1, 1)) is None:  # noqa: DTZ001 - a wall time
        raise ValueError(f"{_shown(expression)} never matches a date (such as 31 February)")
    return table


def _shown(expression: str, limit: int = 60) -> str:
    """The expression as a message quotes it: a line of a thousand values is cut short."""
    return repr(expression if len(expression) <= limit else expression[:limit] + "…")


def _check_field(label: str, name: str, value: str, expression: str) -> None:
    try:
        CronTrigger(**{name: value}, timezone=UTC)
    except ValueError as exc:
        reason = re.sub(r"^Error validating expression '[^']*': ", "", str(exc))
        raise ValueError(f"{_shown(expression)} is not a cron expression: {label} "
                         f"{_shown(value, 30)}: "
                         f"{reason[:1].lower() + reason[1:]}") from None


def _weekdays(field: str, expression: str) -> str:
    """Crontab's day-of-week field (0 or 7 is Sunday) in APScheduler's terms (names only).

    APScheduler 3 counts 0 as Monday, so numbers are never passed through.
    """
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        match = _DOW_PART.match(part)
        if match is None:
            raise ValueError(f"{_shown(expression)} is not a cron expression: day of week "
                             f"{part!r} is not a day, a range or a step")
        first, last, step = match.groups()
        low = _day(first, expression) if first else 0
        high = _day(last, expression) if last else (6 if step or not first else low)
        if last and high == 0 and low > 0:
            high = 7  # "fri-sun": Sunday at the end of the week
        if high < low or (step is not None and int(step) == 0):
            raise ValueError(f"{_shown(expression)} is not a cron expression: day of week "
                             f"{part!r} must go from lower to higher (sun=0 … sat=6) "
                             "with a step above 0")
        days.update(d % 7 for d in range(low, high + 1, int(step or 1)))
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def _day(token: str, expression: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token in _DAY_NAMES:
        return _DAY_NAMES.index(token)
    raise ValueError(f"{_shown(expression)} is not a cron expression: {token!r} is not a day of "
                     "the week; use 0-7 (0 and 7 are Sunday) or sun, mon, tue, wed, thu, fri, "
                     "sat")


def iter_due(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Every due instant of `schedule` strictly after `after`, in order, in UTC."""
    if after.tzinfo is None:
        raise ValueError("due times need a timezone-aware datetime")
    if schedule.every is not None:
        return _every(schedule.every, after)
    if schedule.cron is None:
        raise ValueError(f"schedule {schedule.name!r} has neither cron nor every")
    return _cron(parse_cron(schedule.cron), ZoneInfo(schedule.timezone), after)


def due_times_between(schedule: Schedule, after: datetime, until: datetime) -> list[datetime]:
    """Due instants in (after, until]: `after` itself is excluded, `until` included."""
    return list(takewhile(lambda due: due <= until, iter_due(schedule, after)))


# How far back `previous_due` looks, in windows that grow: the first that holds a due time
# is searched. The last is long enough for 29 February across a century without one.
_LOOKBACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=400),
             timedelta(days=3000))


def previous_due(schedule: Schedule, before: datetime) -> datetime | None:
    """The last due instant strictly before `before`, or None if there is none for 8 years.

    The work does not grow with the density of the timetable: within a window, the
    last due time is found by bisection, each step one look for the next due time,
    so a per-minute cron costs what a yearly one does (a few dozen looks).
    """
    if schedule.every is not None:
        index = -((EPOCH - before.astimezone(UTC)) // schedule.every) - 1  # ceil, then one back
        return EPOCH + index * schedule.every
    for span in _LOOKBACK:
        found = _last_between(schedule, before - span, before)
        if found is not None:
            return found
    return None


def _last_between(schedule: Schedule, start: datetime, before: datetime) -> datetime | None:
    """The last due instant in (start, before), by bisection of the interval."""
    def after(moment: datetime) -> datetime | None:
        return next(iter_due(schedule, moment), None)

    last = after(start)
    if last is None or last >= before:
        return None
    high = before  # no due instant lies in [high, before)
    while True:
        following = after(last)
        if following is None or following >= before:
            return last
        last = following  # a later due instant: the answer is at or after it
        middle = last + (high - last) / 2
        probe = after(middle)
        if probe is not None and probe < before:
            last = probe
        else:
            high = middle


def next_due_times(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next `count` due instants strictly after `after`."""
    return list(islice(iter_due(schedule, after), count))


def _every(step: timedelta, after: datetime) -> Iterator[datetime]:
    index = (after.astimezone(UTC) - EPOCH) // step + 1
    while True:
        yield EPOCH + index * step
        index += 1


def _cron(table: CronTable, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    previous = after.astimezone(UTC)
    wall: datetime | None = _first_wall(previous, zone)
    while wall is not None:
        wall = table.next_wall(wall)
        if wall is None:
            return
        moment = resolve_wall_time(wall, zone)
        if moment > previous:
            yield moment
            previous = moment


def _first_wall(after: datetime, zone: ZoneInfo) -> datetime:
    """The wall time to step from: no earlier wall time resolves to an instant after `after`.

    A wall time w stands for w minus the offset used for it, so one that lands
    after `after` is later than `after` plus the smallest offset in force around
    it (the offset before a spring-forward gap, where a missing time is read).
    """
    least = min((after + shift).astimezone(zone).utcoffset() or timedelta(0)
                for shift in _AROUND)
    return (after + least).replace(tzinfo=None)


def resolve_wall_time(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a local wall time stands for, in UTC.

    fold=0 reads a repeated time as its first occurrence, and a missing time
    with the offset in force before the gap, which lands after the gap by its
    length (02:30 in a gap from 02:00 to 03:00 is 03:30).
    """
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
