"""Due times: cron in a zone's wall-clock time, intervals in absolute time, DST both ways."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.models import Schedule
from publisher.schedule.times import (
    due_times_between,
    iter_due,
    next_due_times,
    previous_due,
)
from publisher.text import format_duration, parse_duration

CHICAGO = ZoneInfo("America/Chicago")


def cron(expression: str, zone: str = "UTC") -> Schedule:
    return Schedule("s", "build", zone, cron=expression)


def every(span: str, zone: str = "UTC") -> Schedule:
    return Schedule("s", "build", zone, every=parse_duration(span))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(schedule: Schedule, times: list[datetime]) -> list[str]:
    """Due times as a reader in the schedule's zone sees them."""
    zone = ZoneInfo(schedule.timezone)
    return [t.astimezone(zone).strftime("%a %m-%d %H:%M %Z") for t in times]


def test_after_is_excluded_and_until_included() -> None:
    daily = cron("0 7 * * *")
    assert due_times_between(daily, utc(2026, 11, 24, 7), utc(2026, 11, 26, 7)) == [
        utc(2026, 11, 25, 7), utc(2026, 11, 26, 7)]
    assert next_due_times(daily, utc(2026, 11, 24, 7), 2) == [
        utc(2026, 11, 25, 7), utc(2026, 11, 26, 7)]
    assert all(t.tzinfo is UTC for t in next_due_times(daily, utc(2026, 1, 1), 3))


def test_cron_reads_times_in_the_schedule_zone() -> None:
    morning = cron("0 7 * * mon-fri", "America/Chicago")
    found = next_due_times(morning, utc(2026, 11, 26, 12), 3)  # Thursday 06:00 CST
    assert found == [utc(2026, 11, 26, 13), utc(2026, 11, 27, 13), utc(2026, 11, 30, 13)]
    assert local(morning, found) == ["Thu 11-26 07:00 CST", "Fri 11-27 07:00 CST",
                                     "Mon 11-30 07:00 CST"]


@pytest.mark.parametrize(("expression", "expected"), [
    ("0 7 * * 1-5", ["Fri 11-27", "Mon 11-30", "Tue 12-01"]),  # crontab numbers: 1 is Monday
    ("0 7 * * 0", ["Sun 11-29", "Sun 12-06", "Sun 12-13"]),
    ("0 7 * * 7", ["Sun 11-29", "Sun 12-06", "Sun 12-13"]),
    ("0 7 * * fri-sun", ["Fri 11-27", "Sat 11-28", "Sun 11-29"]),
    ("0 7 * * */3", ["Sat 11-28", "Sun 11-29", "Wed 12-02"]),  # 0, 3, 6: sun, wed, sat
    ("0 7 1 * mon", ["Mon 11-30", "Tue 12-01", "Mon 12-07"]),  # both days given: either one
    ("0 7 */10 * *", ["Tue 12-01", "Fri 12-11", "Mon 12-21"]),
])
def test_day_fields_mean_what_they_mean_in_crontab(expression: str,
                                                  expected: list[str]) -> None:
    found = next_due_times(cron(expression), utc(2026, 11, 26, 8), 3)
    assert [t.strftime("%a %m-%d") for t in found] == expected
    assert {t.strftime("%H:%M") for t in found} == {"07:00"}


@pytest.mark.parametrize(("alias", "expected"), [
    ("@hourly", [utc(2026, 11, 26, 9), utc(2026, 11, 26, 10)]),
    ("@daily", [utc(2026, 11, 27), utc(2026, 11, 28)]),
    ("@weekly", [utc(2026, 11, 29), utc(2026, 12, 6)]),  # Sunday midnight
    ("@monthly", [utc(2026, 12, 1), utc(2027, 1, 1)]),
    ("@yearly", [utc(2027, 1, 1), utc(2028, 1, 1)]),
])
def test_aliases(alias: str, expected: list[datetime]) -> None:
    assert next_due_times(cron(alias), utc(2026, 11, 26, 8, 30), 2) == expected


def test_every_counts_from_the_epoch_in_utc_whatever_the_zone() -> None:
    quarter = every("15m", "America/Chicago")
    assert next_due_times(quarter, utc(2026, 11, 25, 12, 7, 30), 3) == [
        utc(2026, 11, 25, 12, 15), utc(2026, 11, 25, 12, 30), utc(2026, 11, 25, 12, 45)]
    assert next_due_times(quarter, utc(2026, 11, 25, 12, 15), 1) == [utc(2026, 11, 25, 12, 30)]
    assert next_due_times(every("1d", "Asia/Tokyo"), utc(2026, 11, 25, 12), 1) == [
        utc(2026, 11, 26)]


# -- daylight saving -----------------------------------------------------------------

# (zone, spring-forward day, fall-back day, a wall time that is skipped on the first and the
# instant it runs at, a wall time that happens twice on the second and the instant it runs at)
ZONES = [
    ("America/Chicago", (2026, 3, 8), (2026, 11, 1),
     ("30 2", utc(2026, 3, 8, 8, 30)), ("30 1", utc(2026, 11, 1, 6, 30))),
    ("Europe/Lisbon", (2026, 3, 29), (2026, 10, 25),
     ("30 1", utc(2026, 3, 29, 1, 30)), ("30 1", utc(2026, 10, 25, 0, 30))),
    ("Europe/Berlin", (2026, 3, 29), (2026, 10, 25),
     ("30 2", utc(2026, 3, 29, 1, 30)), ("30 2", utc(2026, 10, 25, 0, 30))),
]
ZONE_IDS = [z[0] for z in ZONES]


def day_around(zone: str, day: tuple[int, int, int]) -> tuple[datetime, datetime]:
    """From the local midnight before `day` to the local midnight after it."""
    start = datetime(*day, tzinfo=ZoneInfo(zone))
    return start - timedelta(days=1), start + timedelta(days=2)


@pytest.mark.parametrize(("zone", "spring", "autumn", "gap", "fold"), ZONES, ids=ZONE_IDS)
def test_a_daily_seven_oclock_job_runs_once_at_seven_on_both_change_days(
        zone: str, spring: tuple[int, int, int], autumn: tuple[int, int, int],
        gap: object, fold: object) -> None:
    daily = cron("0 7 * * *", zone)
    for day in (spring, autumn):
        found = due_times_between(daily, *day_around(zone, day))
        change = date(*day)
        assert [t.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") for t in found] == [
            f"{change + timedelta(days=n)} 07:00" for n in (-1, 0, 1)]
    offsets = {t.astimezone(ZoneInfo(zone)).utcoffset() for t in due_times_between(
        daily, *day_around(zone, spring))}
    assert len(offsets) == 2  # the change really happened in the period looked at


@pytest.mark.parametrize(("zone", "spring", "autumn", "gap", "fold"), ZONES, ids=ZONE_IDS)
def test_a_time_skipped_by_spring_forward_runs_once_shifted_by_the_gap(
        zone: str, spring: tuple[int, int, int], autumn: tuple[int, int, int],
        gap: tuple[str, datetime], fold: object) -> None:
    schedule = cron(f"{gap[0]} * * *", zone)
    found = due_times_between(schedule, *day_around(zone, spring))
    assert len(found) == 3 and found[1] == gap[1]
    skipped_wall = int(gap[0].split()[1])
    assert found[1].astimezone(ZoneInfo(zone)).hour == skipped_wall + 1  # 02:30 runs at 03:30


@pytest.mark.parametrize(("zone", "spring", "autumn", "gap", "fold"), ZONES, ids=ZONE_IDS)
def test_a_time_repeated_by_fall_back_runs_once_at_its_first_occurrence(
        zone: str, spring: tuple[int, int, int], autumn: tuple[int, int, int],
        gap: object, fold: tuple[str, datetime]) -> None:
    schedule = cron(f"{fold[0]} * * *", zone)
    found = due_times_between(schedule, *day_around(zone, autumn))
    assert len(found) == 3 and found[1] == fold[1]
    assert found[1].astimezone(ZoneInfo(zone)).fold == 0
    assert found[2] - found[1] == timedelta(hours=25)  # the next day, in standard time


def test_an_hourly_cron_job_never_runs_twice_in_one_hour_across_the_changes() -> None:
    hourly = cron("0 * * * *", "America/Chicago")
    spring = due_times_between(hourly, datetime(2026, 3, 8, tzinfo=CHICAGO),
                               datetime(2026, 3, 8, 23, 59, tzinfo=CHICAGO))
    autumn = due_times_between(hourly, datetime(2026, 11, 1, tzinfo=CHICAGO),
                               datetime(2026, 11, 1, 23, 59, tzinfo=CHICAGO))
    for found in (spring, autumn):
        assert found == sorted(set(found))
    assert local(hourly, spring[:3]) == ["Sun 03-08 01:00 CST", "Sun 03-08 03:00 CDT",
                                         "Sun 03-08 04:00 CDT"]
    assert local(hourly, autumn[:3]) == ["Sun 11-01 01:00 CDT", "Sun 11-01 02:00 CST",
                                         "Sun 11-01 03:00 CST"]
    assert (len(spring), len(autumn)) == (22, 23)


def test_every_is_unmoved_by_daylight_saving() -> None:
    quarter = every("15m", "America/Chicago")
    found = due_times_between(quarter, datetime(2026, 11, 1, tzinfo=CHICAGO),
                              datetime(2026, 11, 2, tzinfo=CHICAGO))
    assert len(found) == 25 * 4  # the fall-back day is 25 hours long
    assert {b - a for a, b in pairwise(found)} == {timedelta(minutes=15)}


def test_next_due_times_and_due_times_between_agree_across_a_change() -> None:
    schedule = cron("*/30 1-3 * * *", "America/Chicago")
    start = datetime(2026, 3, 7, tzinfo=CHICAGO)
    listed = next_due_times(schedule, start, 12)
    assert due_times_between(schedule, start, listed[-1]) == listed
    for index, moment in enumerate(listed[:-1]):
        assert next_due_times(schedule, moment, 1) == [listed[index + 1]]


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90m", "6h", "1d", "2w", " 15 m ")] == [
        timedelta(minutes=90), timedelta(hours=6), timedelta(days=1), timedelta(weeks=2),
        timedelta(minutes=15)]
    assert [format_duration(parse_duration(t)) for t in ("90m", "60m", "48h", "14d")] == [
        "90m", "1h", "2d", "2w"]
    with pytest.raises(ValueError, match=r"'1\.5h' is not a duration"):
        parse_duration("1.5h")


@pytest.mark.parametrize(("zone", "around"), [
    ("America/Chicago", datetime(2026, 3, 8, 8, tzinfo=UTC)),
    ("America/Chicago", datetime(2026, 11, 1, 7, tzinfo=UTC)),
    ("Europe/Lisbon", datetime(2026, 3, 29, 1, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),  # a 30-minute change
    ("Pacific/Apia", datetime(2011, 12, 30, 10, tzinfo=UTC)),  # 30 December 2011 never was
])
@pytest.mark.parametrize("expression", ["*/30 * * * *", "0 7 * * *", "30 2 * * *"])
def test_starting_anywhere_gives_the_same_due_times_as_starting_long_before(
        zone: str, around: datetime, expression: str) -> None:
    schedule = cron(expression, zone)
    until = around + timedelta(days=2)
    reference = due_times_between(schedule, around - timedelta(days=5), until)
    assert reference == sorted(set(reference))
    for minutes in range(-30 * 60, 30 * 60, 25):
        after = around + timedelta(minutes=minutes)
        assert due_times_between(schedule, after, until) == [d for d in reference if d > after]


def walked_back(schedule: Schedule, before: datetime, span: timedelta) -> datetime | None:
    """The previous due time the slow way: every due time of `span` before, the last one."""
    found = due_times_between(schedule, before - span, before - timedelta.resolution)
    return found[-1] if found else None


DENSE = {"* * * * *": 1, "*/7 * * * *": 1, "* 2 * * *": 2, "30 1,2 * * *": 2,
         "0 * * * mon-fri": 4, "* * 1 * *": 32, "0 7 * * sun": 8}  # and the days to walk back


@settings(max_examples=40, deadline=None)
@given(expression=st.sampled_from(sorted(DENSE)),
       zone=st.sampled_from(["UTC", "America/Chicago", "Europe/Lisbon", "Australia/Lord_Howe"]),
       moment=st.datetimes(min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis
                           max_value=datetime(2027, 12, 31),  # noqa: DTZ001 - wants naive
                           timezones=st.just(UTC)))
def test_the_previous_due_time_is_the_last_one_before(expression: str, zone: str,
                                                      moment: datetime) -> None:
    schedule = cron(expression, zone)
    found = previous_due(schedule, moment)
    assert found == walked_back(schedule, moment, timedelta(days=DENSE[expression]))
    assert found is not None and found < moment
    assert next(iter_due(schedule, found)) >= moment  # nothing due in between


@pytest.mark.parametrize(("expression", "before", "expected"), [
    ("0 12 29 2 *", utc(2026, 11, 25), utc(2024, 2, 29, 12)),
    ("0 12 29 2 *", utc(2103, 1, 1), utc(2096, 2, 29, 12)),  # 2100 has no 29 February
    ("0 0 1 1 *", utc(2027, 1, 1), utc(2026, 1, 1)),
    ("59 23 31 12 *", utc(2027, 1, 1), utc(2026, 12, 31, 23, 59)),
])
def test_the_previous_due_time_of_a_rare_timetable_is_found_years_back(
        expression: str, before: datetime, expected: datetime) -> None:
    assert previous_due(cron(expression), before) == expected
