"""A reader's choices from the command line and in subscriber files, on a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from publisher import publish
from publisher.cli import cli
from publisher.clock import fixed_clock
from publisher.errors import SubscriberError
from publisher.models import Tag
from publisher.store.database import Store
from publisher.subscribers.csv_files import export_csv, import_csv
from publisher.subscribers.preferences import (
    Cadence,
    Choices,
    Preferences,
    check_hour,
    check_zone,
    choose,
    offered_topics,
)
from tests.conftest import BASE_CONFIG, NOW, SiteFactory, article, settings_of

FILES = {
    "content/ferry.md": article("Ferry fares rise", "2026-11-20 09:00",
                                tags="[Transport, City Hall]", id="ferry"),
    "schedules/daily.toml": 'action = "digest"\ncron = "0 7 * * *"\nchoosable = true\n'
                            'label = "Every morning"\n',
    "schedules/weekly.toml": 'action = "digest"\ncron = "0 9 * * sat"\nchoosable = true\n',
    "schedules/special.toml": 'action = "digest"\ncron = "0 9 1 * *"\n',
}
CHOICES = Choices((Tag("City Hall", "city-hall"), Tag("Transport", "transport")),
                  (Cadence("daily", "Every morning"), Cadence("weekly", "weekly")))


@pytest.fixture
def site(make_site: SiteFactory) -> Path:
    root = make_site(FILES, config=BASE_CONFIG)
    publish.build(settings_of(root), fixed_clock(NOW))
    with Store.open(settings_of(root).store_url) as store:
        store.add_subscriber("ann@example.org", "Ann", now=NOW)
    return root


def run(site: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--site", str(site), "subscribers", *args],
                                catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def reader(site: Path) -> tuple[tuple[str, ...], str | None, str | None, int | None]:
    with Store.open(settings_of(site).store_url) as store:
        found = store.get_subscriber("ann@example.org")
    assert found is not None
    return found.tags, found.cadence, found.timezone, found.hour


def test_the_topics_on_offer_are_the_sites_tag_pages_by_name(site: Path) -> None:
    assert offered_topics(settings_of(site).output_path) == CHOICES.topics


def test_set_changes_what_it_is_given_and_keeps_the_rest(site: Path) -> None:
    assert run(site, "set", "ANN@example.org", "--topics", "transport,City Hall",
               "--cadence", "weekly", "--timezone", "Asia/Tokyo", "--hour", "7") == (
        0, "ann@example.org: transport, city-hall; weekly; Asia/Tokyo, at 07:00\n", "")
    assert reader(site) == (("transport", "city-hall"), "weekly", "Asia/Tokyo", 7)
    assert run(site, "set", "ann@example.org", "--hour", "18")[0] == 0
    assert reader(site) == (("transport", "city-hall"), "weekly", "Asia/Tokyo", 18)
    assert run(site, "set", "ann@example.org", "--topics", "", "--cadence", "",
               "--timezone", "", "--hour", "") == (
        0, "ann@example.org: every topic; every digest; the site's zone (Europe/Lisbon), at "
        "the schedule's time\n", "")
    assert reader(site) == ((), None, None, None)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--cadence", "special", 'error: unknown cadence "special"\n'
     "  hint: the cadences on offer are: daily, weekly\n"),
    ("--topics", "transport,weather", 'error: unknown topic "weather"\n'
     "  hint: the topics on offer are: city-hall, transport\n"),
    ("--timezone", "Europe/Lisabon", 'error: unknown time zone "Europe/Lisabon"\n'
     "  hint: did you mean Europe/Lisbon? use an IANA name such as Europe/Lisbon, "
     "America/Chicago or Pacific/Auckland\n"),
    ("--hour", "24", 'error: the hour "24" is not one of 0 to 23\n'
     "  hint: give the hour of the day on a 24-hour clock, e.g. 7 or 18\n"),
])
def test_set_refuses_a_value_not_on_offer_and_changes_nothing(
        site: Path, option: str, value: str, message: str) -> None:
    run(site, "set", "ann@example.org", "--cadence", "daily")
    assert run(site, "set", "ann@example.org", "--timezone", "Asia/Tokyo", option, value) == (
        1, "", message)
    assert reader(site) == ((), "daily", None, None)


def test_set_for_an_address_not_on_the_list(site: Path) -> None:
    assert run(site, "set", "zed@example.org", "--hour", "7") == (
        1, "", "error: zed@example.org is not on the list\n"
        "  hint: `publisher subscribers list` shows who is\n")


def test_choices_travel_through_export_and_import(site: Path, tmp_path: Path) -> None:
    run(site, "set", "ann@example.org", "--topics", "transport", "--cadence", "weekly",
        "--timezone", "America/Chicago", "--hour", "6")
    with Store.open(settings_of(site).store_url) as store:
        text = "".join(export_csv(store))
    assert text.splitlines()[1].endswith(",transport,active,2026-11-25T12:00:00Z,"
                                         "2026-11-25T12:00:00Z,,,weekly,America/Chicago,6")
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    with Store.open(f"sqlite:///{tmp_path / 'copy.db'}") as copy:
        report = import_csv(copy, path, now=NOW)
        assert (report.imported, report.rejected) == (1, ())
        assert "".join(export_csv(copy)) == text


def test_an_import_refuses_a_row_whose_zone_or_hour_cannot_be(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("email,timezone,hour,cadence\nann@example.org,Mars/Olympus,,\n"
                    "bob@example.org,UTC,25,\ncy@example.org,UTC,0,no such/one\n"
                    "dee@example.org,Asia/Kolkata,23,weekly\n", encoding="utf-8")
    with Store.open(f"sqlite:///{tmp_path / 'p.db'}") as store:
        report = import_csv(store, path, now=NOW, label="list.csv")
        assert [str(p) for p in report.rejected] == [
            'list.csv:2: unknown time zone "Mars/Olympus"',
            'list.csv:3: the hour "25" is not one of 0 to 23',
            'list.csv:4: cadence "no such/one" is not a schedule name']
        [dee] = store.iter_subscribers()
        assert (dee.email, dee.timezone, dee.hour, dee.cadence) == (
            "dee@example.org", "Asia/Kolkata", 23, "weekly")


def outcome(check: Callable[[], object]) -> tuple[str, object]:
    """("ok", the value) or ("refused", the message and hint)."""
    try:
        return "ok", check()
    except SubscriberError as exc:
        return "refused", (exc.problem.message, exc.problem.hint)


@given(st.text(max_size=30))
def test_any_hour_is_either_a_clock_hour_or_refused_with_the_range(text: str) -> None:
    kind, value = outcome(lambda: check_hour(text))
    if kind == "refused":
        assert isinstance(value, tuple) and value[0].endswith("is not one of 0 to 23")
    else:
        assert value is None if text == "" else value in range(24)


@given(st.text(max_size=40))
def test_any_zone_is_either_a_known_name_or_refused(text: str) -> None:
    kind, value = outcome(lambda: check_zone(text))
    if kind == "refused":
        assert isinstance(value, tuple) and value[0].startswith("unknown time zone")
    else:
        assert value is None if not text.strip() else value == text.strip()


@given(st.lists(st.sampled_from(["transport", "city-hall", "City Hall", "weather", " "]),
                max_size=5))
def test_topics_are_taken_only_from_what_is_on_offer(topics: list[str]) -> None:
    kind, value = outcome(lambda: choose(CHOICES, topics=topics, cadence="", timezone="",
                                         hour=""))
    if kind == "refused":
        assert "weather" in topics
        assert value == ('unknown topic "weather"',
                         "the topics on offer are: city-hall, transport")
    else:
        assert "weather" not in topics
        assert isinstance(value, Preferences)
        assert set(value.topics) <= {"transport", "city-hall"}
        assert len(value.topics) == len(set(value.topics))
