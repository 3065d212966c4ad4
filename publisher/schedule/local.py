"""A local schedule as run: one copy per group of readers, at its time in their own zone.

`local = true` on a digest schedule means "at this wall-clock time where each
reader is". Its readers fall into groups by their zone (none: the schedule's
own) and their chosen hour (none: the cron's); each group is run as a schedule
of its own, with the cron read in that zone (and, for a chosen hour, that hour
in place of the cron's), under its own name, so the store remembers each
group's last due time, and the rules already proven for one zone (once per due
time, daylight-saving gaps and repeats, missed runs) hold for every group. A
reader is in one group at a time, so they get each due time once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace

from publisher.models import LocalGroup, Schedule
from publisher.schedule.times import ALIASES

MAX_NAME = 100  # the store keeps schedule names in 100 characters


def expand_local(schedules: Iterable[Schedule],
                 groups: Iterable[tuple[str | None, int | None]]) -> list[Schedule]:
    """Each local schedule replaced by one copy per group of readers (zone, hour) found.

    A local schedule with no readers keeps one copy, for its own zone.
    """
    chosen = sorted(set(groups), key=lambda g: (g[0] or "", -1 if g[1] is None else g[1]))
    expanded: list[Schedule] = []
    for schedule in schedules:
        if not schedule.local or schedule.group is not None or schedule.cron is None:
            expanded.append(schedule)
            continue
        found = dict.fromkeys((zone or schedule.timezone, hour) for zone, hour in chosen)
        expanded += [_copy(schedule, zone, hour) for zone, hour in found or
                     {(schedule.timezone, None): None}]
    return expanded


def _copy(schedule: Schedule, zone: str, hour: int | None) -> Schedule:
    assert schedule.cron is not None
    group = LocalGroup(schedule.name, zone, hour, default=zone == schedule.timezone)
    return replace(schedule, name=group_name(schedule.name, zone, hour), timezone=zone,
                   cron=at_hour(schedule.cron, hour), group=group)


def group_name(family: str, zone: str, hour: int | None) -> str:
    """The name the store remembers a group's runs under: `daily@Asia/Tokyo@18`."""
    name = f"{family}@{zone}" + (f"@{hour:02d}" if hour is not None else "")
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{family[:MAX_NAME - 18]}@{digest}"


def at_hour(cron: str, hour: int | None) -> str:
    """The cron line with its hour field set to `hour` (unchanged for None)."""
    if hour is None:
        return cron
    fields: Sequence[str] = ALIASES.get(cron.strip().lower(), cron).split()
    return " ".join([fields[0], str(hour), *fields[2:]])
