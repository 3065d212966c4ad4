"""Schedule files: what a valid one becomes, and the messages for every kind of mistake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import cli
from publisher.config import load_settings
from publisher.errors import ConfigError
from publisher.models import Schedule
from publisher.schedule.files import load_schedules
from tests.conftest import SiteFactory

REPO = Path(__file__).resolve().parents[2]


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_schedules(load_settings(root))
    return [str(p) for p in caught.value.problems]


def test_a_valid_file_becomes_a_schedule_with_the_site_defaults(make_site: SiteFactory) -> None:
    root = make_site({
        "schedules/morning.toml": 'action = "digest"\ncron = "0  7 * * mon-fri"\n'
                                  'tags = ["politics", " ferries "]\n',
        "schedules/feed.toml": 'name = "rebuild"\naction = "build"\nevery = "15m"\n'
                               'timezone = "America/Chicago"\ncatch_up = "1h"\nenabled = false\n',
        "schedules/README.md": "not a schedule",
    })
    assert load_schedules(load_settings(root)) == (
        Schedule(name="morning", action="digest", timezone="Europe/Lisbon",
                 cron="0 7 * * mon-fri", catch_up=timedelta(hours=6),
                 tags=("politics", "ferries"), min_items=1, max_items=30,
                 source="schedules/morning.toml"),
        Schedule(name="rebuild", action="build", timezone="America/Chicago",
                 every=timedelta(minutes=15), catch_up=timedelta(hours=1), enabled=False,
                 source="schedules/feed.toml"),
    )


def test_a_site_without_a_schedules_folder_has_no_schedules(make_site: SiteFactory) -> None:
    assert load_schedules(load_settings(make_site())) == ()


def test_every_problem_of_every_file_is_reported_at_once(make_site: SiteFactory) -> None:
    root = make_site({
        "schedules/a.toml": 'action = "build"\ncron = "61 7 * * *"\ntimezone = "Mars/Olympus"\n',
        "schedules/b.toml": 'action = "digest"\nevery = "15m"\ncron_expr = "0 7 * * *"\n'
                            'catch_up = "soon"\n',
    })
    assert problems_of(root) == [
        "schedules/a.toml:2: cron: '61 7 * * *' is not a cron expression: minute '61': the "
        "last value (61) is higher than the maximum value (59)",
        "schedules/a.toml:3: timezone: unknown timezone 'Mars/Olympus'; use an IANA name such "
        "as 'Europe/Lisbon' or 'UTC'",
        "schedules/b.toml:3: cron_expr: unknown key\n  hint: did you mean 'cron'?",
        "schedules/b.toml:4: catch_up: 'soon' is not a duration; write a whole number "
        "followed by m, h, d or w, e.g. '15m', '6h', '1d', '2w'",
    ]


@pytest.mark.parametrize(("cron", "message"), [
    ("0 7 * *", "'0 7 * *' is not a cron expression: it needs 5 fields (minute, hour, day of "
     "month, month, day of week), not 4; e.g. '0 7 * * mon-fri' or '@daily'"),
    ("0 7 * * mon-fry", "'0 7 * * mon-fry' is not a cron expression: 'fry' is not a day of "
     "the week; use 0-7 (0 and 7 are Sunday) or sun, mon, tue, wed, thu, fri, sat"),
    ("0 7 * * fri-mon", "'0 7 * * fri-mon' is not a cron expression: day of week 'fri-mon' "
     "must go from lower to higher (sun=0 … sat=6) with a step above 0"),
    ("0 7 * jam *", "'0 7 * jam *' is not a cron expression: month 'jam': invalid month "
     "name \"jam\""),
    ("0 0 31 2 *", "'0 0 31 2 *' never matches a date (such as 31 February)"),
    ("@reboot", "'@reboot' is not a cron expression: it needs 5 fields (minute, hour, day of "
     "month, month, day of week), not 1; e.g. '0 7 * * mon-fri' or '@daily'"),
])
def test_a_bad_cron_expression_says_what_is_wrong(make_site: SiteFactory, cron: str,
                                                  message: str) -> None:
    root = make_site({"schedules/s.toml": f'action = "build"\ncron = "{cron}"\n'})
    assert problems_of(root) == [f"schedules/s.toml:2: cron: {message}"]


def test_a_schedule_needs_exactly_one_timetable(make_site: SiteFactory) -> None:
    root = make_site({
        "schedules/both.toml": 'action = "build"\ncron = "@daily"\nevery = "1h"\n',
        "schedules/neither.toml": 'action = "build"\n',
    })
    assert problems_of(root) == [
        "schedules/both.toml:3: every: cannot be set together with `cron`\n"
        "  hint: keep either cron (times of day) or every (an interval)",
        "schedules/neither.toml: cron: a schedule needs a timetable: `cron` or `every`\n"
        '  hint: add cron = "0 7 * * mon-fri" or every = "15m"',
    ]


def test_digest_keys_on_a_build_schedule_are_refused(make_site: SiteFactory) -> None:
    root = make_site({"schedules/s.toml": 'action = "build"\nevery = "1h"\ntags = ["x"]\n'
                                          'max_items = 5\n'})
    assert problems_of(root) == [
        'schedules/s.toml:3: tags: only a digest schedule takes this key\n'
        '  hint: remove it, or set action = "digest"',
        'schedules/s.toml:4: max_items: only a digest schedule takes this key\n'
        '  hint: remove it, or set action = "digest"',
    ]


def test_values_of_the_wrong_kind(make_site: SiteFactory) -> None:
    root = make_site({"schedules/s.toml": 'action = "publish"\nevery = "0m"\nenabled = "maybe"\n'
                                          'name = "a b"\n'})
    assert problems_of(root) == [
        "schedules/s.toml:1: action: must be 'build', 'digest' or 'bounces'",
        "schedules/s.toml:2: every: '0m' is not a duration; write a whole number followed by "
        "m, h, d or w, e.g. '15m', '6h', '1d', '2w'",
        "schedules/s.toml:3: enabled: must be true or false",
        "schedules/s.toml:4: name: 'a b' is not a schedule name: use letters, digits, '.', '_' "
        "and '-', starting with a letter or digit, at most 100 characters",
    ]


def test_durations_too_long_for_a_date_are_refused_by_check(make_site: SiteFactory) -> None:
    root = make_site({"schedules/s.toml": 'action = "build"\nevery = "999999999999w"\n'
                                          'catch_up = "99999999w"\n'})
    assert problems_of(root) == [
        "schedules/s.toml:2: every: '999999999999w' is longer than a hundred years; write a "
        "whole number followed by m, h, d or w, e.g. '15m', '6h', '1d', '2w'",
        "schedules/s.toml:3: catch_up: '99999999w' is longer than a hundred years; write a "
        "whole number followed by m, h, d or w, e.g. '15m', '6h', '1d', '2w'",
    ]


def test_two_schedules_with_one_name_are_refused_naming_both_files(
        make_site: SiteFactory) -> None:
    root = make_site({
        "schedules/daily.toml": 'action = "digest"\ncron = "@daily"\n',
        "schedules/morning.toml": 'name = "daily"\naction = "digest"\ncron = "0 7 * * *"\n',
    })
    assert problems_of(root) == [
        "schedules/morning.toml: name: the name 'daily' is already used by "
        "schedules/daily.toml\n  hint: give each schedule its own name; the store keeps its "
        "state by name",
    ]


def test_broken_toml_and_a_file_name_that_cannot_be_a_name(make_site: SiteFactory) -> None:
    root = make_site({
        "schedules/broken.toml": 'action = "build"\nevery = "1h\n',
        "schedules/my feed.toml": 'action = "build"\nevery = "1h"\n',
    })
    assert problems_of(root) == [
        "schedules/broken.toml:2: not valid TOML: Illegal character '\\n' (at line 2, column "
        "12)\n  hint: see https://toml.io for the syntax",
        "schedules/my feed.toml: name: the file name 'my feed' cannot be a schedule name\n"
        "  hint: add name = \"...\" (letters, digits, '.', '_' and '-', starting with a letter "
        "or digit, at most 100 characters)",
    ]


def test_publisher_check_validates_schedules(make_site: SiteFactory) -> None:
    root = make_site({"schedules/s.toml": 'action = "build"\nevery = "1h"\ncolour = "red"\n'})
    result = CliRunner().invoke(cli, ["--site", str(root), "check"])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == ("error: schedules/s.toml:3: colour: unknown key\n"
                             "  hint: known keys: action, catch_up, choosable, cron, deploy, "
                             "enabled, every, label, local, mailbox, max_items, min_items, "
                             "name, password_env, tags, timezone\n")


def test_the_sample_site_and_a_new_site_come_with_valid_schedules(tmp_path: Path) -> None:
    sample = load_schedules(load_settings(REPO))
    assert [(s.name, s.action, s.cron, s.every, s.timezone) for s in sample] == [
        ("daily-digest", "digest", "0 7 * * mon-fri", None, "America/Chicago"),
        ("feed", "build", None, timedelta(minutes=15), "America/Chicago"),
        ("weekly-digest", "digest", "0 9 * * sat", None, "America/Chicago"),
    ]
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    [feed] = load_schedules(load_settings(tmp_path / "new"))
    assert (feed.name, feed.action, feed.every) == ("feed", "build", timedelta(minutes=15))


def test_a_digest_readers_may_choose_carries_its_label(make_site: SiteFactory) -> None:
    root = make_site({
        "schedules/daily.toml": 'action = "digest"\ncron = "0 7 * * *"\nchoosable = true\n'
                                'label = "Every morning"\n',
        "schedules/weekly.toml": 'action = "digest"\ncron = "0 9 * * sat"\nchoosable = true\n',
        "schedules/special.toml": 'action = "digest"\ncron = "0 9 1 * *"\n',
    })
    found = {s.name: (s.choosable, s.label) for s in load_schedules(load_settings(root))}
    assert found == {"daily": (True, "Every morning"), "special": (False, ""),
                     "weekly": (True, "weekly")}


def test_choosable_and_label_are_checked_like_the_other_keys(make_site: SiteFactory) -> None:
    root = make_site({
        "schedules/a.toml": 'action = "build"\nevery = "1h"\nchoosable = true\n',
        "schedules/b.toml": 'action = "digest"\nevery = "1d"\nlabel = "Daily"\n',
        "schedules/c.toml": 'action = "digest"\nevery = "1d"\nchoosable = "yes please"\n',
    })
    assert problems_of(root) == [
        "schedules/a.toml:3: choosable: only a digest schedule takes this key\n"
        '  hint: remove it, or set action = "digest"',
        "schedules/b.toml:3: label: only a schedule readers may choose has a label\n"
        "  hint: add choosable = true, or remove the label",
        "schedules/c.toml:3: choosable: must be true or false",
    ]


def test_a_local_schedule_needs_a_time_of_day(make_site: SiteFactory) -> None:
    root = make_site({
        "schedules/a.toml": 'action = "digest"\nevery = "1d"\nlocal = true\n',
        "schedules/b.toml": 'action = "build"\ncron = "0 7 * * *"\nlocal = true\n',
        "schedules/c.toml": 'action = "digest"\ncron = "0 7 * * *"\nlocal = true\n',
    })
    assert problems_of(root) == [
        "schedules/a.toml:3: local: a local schedule needs `cron`: `every` counts absolute "
        "time, the same in every zone\n"
        '  hint: write the time of day, e.g. cron = "0 7 * * *", or remove local',
        "schedules/b.toml:3: local: only a digest schedule takes this key\n"
        '  hint: remove it, or set action = "digest"',
    ]
    (root / "schedules/a.toml").unlink()
    (root / "schedules/b.toml").unlink()
    [local] = load_schedules(load_settings(root))
    assert (local.local, local.cron, local.group) == (True, "0 7 * * *", None)
