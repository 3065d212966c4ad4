"""A local schedule: its time in each reader's own zone, once per reader per due time.

A real site, a real SQLite store and a real SMTP server on 127.0.0.1, with a
`publisher tick` every hour of a March week in which Chicago moves to summer
time, for readers either side of the date line, one in the site's zone (no zone
chosen) and one who chose an hour of her own. What each reader received is
read back from the server.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from publisher.schedule.local import at_hour, expand_local, group_name
from tests.conftest import SMTP_CONFIG, SiteFactory, article, cli_ok
from tests.smtp_server import SMTPServer

SECRET = "a-test-signing-secret-of-32-bytes-at-least"
START = datetime(2027, 3, 9, 0, 0, tzinfo=UTC)  # Chicago springs forward on 14 March
HOURS = 8 * 24
ARTICLE_TIMES = [START - timedelta(days=1) + timedelta(hours=6 * n) for n in range(4 * 10)]
FILES: dict[str, str | bytes] = {
    f"content/{t:%m%d-%H}.md": article(f"Article {t:%m%d-%H}", f"{t:%Y-%m-%d %H:%M}",
                                       id=f"{t:%m%d-%H}")
    for t in ARTICLE_TIMES}  # the site's zone, Lisbon, is UTC until 28 March
FILES["schedules/morning.toml"] = 'action = "digest"\ncron = "0 7 * * *"\nlocal = true\n'
READERS = {  # name: (zone, hour)
    "kiri": ("Pacific/Kiritimati", None),  # UTC+14: the first to see each day
    "pago": ("Pacific/Pago_Pago", None),  # UTC-11: the last, 25 hours later
    "chi": ("America/Chicago", None),  # CST, then CDT from Sunday
    "lis": (None, None),  # no zone chosen: the schedule's (the site's)
    "tok": ("Asia/Tokyo", 18),  # her own hour
}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", SECRET)


@pytest.fixture
def site(make_site: SiteFactory, smtp_server: SMTPServer) -> Path:
    root = make_site(FILES, config=SMTP_CONFIG.format(port=smtp_server.port))
    for name, (zone, hour) in READERS.items():
        cli_ok(root, "subscribers", "add", f"{name}@example.org")
        cli_ok(root, "subscribers", "set", f"{name}@example.org", "--timezone", zone or "",
                "--hour", "" if hour is None else str(hour))
    return root


def deliveries(server: SMTPServer) -> dict[str, list[tuple[datetime, list[str]]]]:
    """Each reader's messages: the due time (UTC, from the Message-ID) and the articles."""
    found: dict[str, list[tuple[datetime, list[str]]]] = defaultdict(list)
    for message in server.messages:
        parsed = cast(EmailMessage, email.message_from_bytes(message.data,
                                                             policy=email.policy.default))
        stamp = re.search(r"-(\d{8}-\d{4})(?:-\d+)?\.\d+@", str(parsed["Message-ID"]))
        assert stamp is not None
        due = datetime.strptime(stamp.group(1), "%Y%m%d-%H%M").replace(tzinfo=UTC)
        body = parsed.get_body(("plain",))
        assert body is not None
        articles = re.findall(r"^Article (\S+)\r?$", str(body.get_content()), re.M)
        found[message.recipients[0].split("@")[0]].append((due, articles))
    return dict(found)


def test_each_reader_gets_it_at_their_own_hour_once_a_day_across_the_date_line_and_dst(
        site: Path, smtp_server: SMTPServer) -> None:
    for hour in range(HOURS + 1):
        cli_ok(site, "tick", "--now", (START + timedelta(hours=hour)).isoformat())
    got = deliveries(smtp_server)
    assert set(got) == set(READERS)
    for name, (zone, hour) in READERS.items():
        local = [due.astimezone(ZoneInfo(zone or "Europe/Lisbon")) for due, _ in got[name]]
        assert {(t.hour, t.minute) for t in local} == {(hour or 7, 0)}, name
        days = [t.date() for t in local]
        assert days == [days[0] + timedelta(days=n) for n in range(len(days))], name  # once a day
        assert len(days) >= 7, name
        articles = [a for _, listed in got[name] for a in listed]
        assert len(articles) == len(set(articles)), name  # never one twice
        first, last = got[name][0][0] - timedelta(days=1), got[name][-1][0]
        assert set(articles) == {f"{t:%m%d-%H}" for t in ARTICLE_TIMES
                                 if first <= t <= last}, name  # never one skipped
    chicago = [due for due, _ in got["chi"]]
    assert datetime(2027, 3, 13, 13, tzinfo=UTC) in chicago  # 07:00 CST
    assert datetime(2027, 3, 14, 12, tzinfo=UTC) in chicago  # 07:00 CDT, the day it changed
    kiri = {due.astimezone(ZoneInfo("Pacific/Kiritimati")).date(): due for due, _ in got["kiri"]}
    pago = {due.astimezone(ZoneInfo("Pacific/Pago_Pago")).date(): due for due, _ in got["pago"]}
    assert pago[date(2027, 3, 12)] - kiri[date(2027, 3, 12)] == timedelta(hours=25)


def test_a_reader_who_moves_zone_is_sent_nothing_twice(site: Path, smtp_server: SMTPServer
                                                        ) -> None:
    for hour in range(0, 48):
        cli_ok(site, "tick", "--now", (START + timedelta(hours=hour)).isoformat())
    # Kiritimati's morning has passed; in Pago Pago it is still to come, the same date
    cli_ok(site, "subscribers", "set", "kiri@example.org", "--timezone", "Pacific/Pago_Pago")
    for hour in range(48, 96):
        cli_ok(site, "tick", "--now", (START + timedelta(hours=hour)).isoformat())
    got = deliveries(smtp_server)["kiri"]
    status = cli_ok(site, "digest", "status")
    assert "; readers of morning in Pacific/Pago_Pago, 1 article set" in status
    articles = [a for _, listed in got for a in listed]
    assert len(articles) == len(set(articles))
    first, last = got[0][0] - timedelta(days=1), got[-1][0]
    assert set(articles) == {f"{t:%m%d-%H}" for t in ARTICLE_TIMES if first <= t <= last}


def test_groups_and_their_timetables() -> None:
    from publisher.models import Schedule

    morning = Schedule("morning", "digest", "Europe/Lisbon", cron="0 7 * * mon-fri",
                       local=True)
    other = Schedule("feed", "build", "UTC", every=timedelta(minutes=15))
    found = expand_local([morning, other], [(None, None), ("Europe/Lisbon", None),
                                            ("Asia/Tokyo", 18), ("Asia/Tokyo", None)])
    assert [(s.name, s.timezone, s.cron) for s in found] == [
        ("morning@Europe/Lisbon", "Europe/Lisbon", "0 7 * * mon-fri"),
        ("morning@Asia/Tokyo", "Asia/Tokyo", "0 7 * * mon-fri"),
        ("morning@Asia/Tokyo@18", "Asia/Tokyo", "0 18 * * mon-fri"),
        ("feed", "UTC", None)]
    assert found[0].group is not None and found[0].group.default
    assert expand_local([morning], [])[0].name == "morning@Europe/Lisbon"
    assert at_hour("@weekly", 6) == "0 6 * * sun"
    assert len(group_name("x" * 95, "America/Argentina/ComodRivadavia", 23)) <= 100


def test_the_daemon_looks_at_a_local_schedule_every_minute() -> None:
    from publisher.models import Schedule
    from publisher.schedule.daemon import _waking

    morning = Schedule("morning", "digest", "UTC", cron="0 7 * * *", local=True)
    woken = _waking(morning)
    assert (woken.cron, woken.every) == (None, timedelta(minutes=1))
    plain = Schedule("evening", "digest", "UTC", cron="0 19 * * *")
    assert _waking(plain) is plain
