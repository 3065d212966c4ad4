"""Readers who choose their cadence, over a week of `publisher tick`s with an injected clock.

A real site, a real SQLite store and a real SMTP server on 127.0.0.1; the ticks
run what is due as cron would start them, and the readers change cadence in the
middle of the week as they would on the preference page (`subscribers set`).
What each reader received is read back from the server: the exact articles of
every message, never one skipped, never one twice.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import create_engine, text

from publisher.store.database import Store
from tests.conftest import SMTP_CONFIG, SiteFactory, article, cli_ok, settings_of
from tests.smtp_server import SMTPServer

SECRET = "a-test-signing-secret-of-32-bytes-at-least"
DAYS = {"old": "2026-11-27 12:00", "sun": "2026-11-29 06:00", "mon": "2026-11-30 06:00",
        "tue": "2026-12-01 06:00", "wed": "2026-12-02 06:00", "thu": "2026-12-03 06:00",
        "fri": "2026-12-04 06:00", "sat": "2026-12-05 06:00"}
HARBOUR = {"mon", "wed"}
FILES: dict[str, str | bytes] = {
    f"content/{day}.md": article(f"Article {day}", date, id=day,
                                 tags="[Harbour]" if day in HARBOUR else "[Town]")
    for day, date in DAYS.items()}
FILES |= {
    "schedules/daily.toml": 'action = "digest"\ncron = "0 7 * * *"\nchoosable = true\n'
                            'label = "Every morning"\n',
    "schedules/weekly.toml": 'action = "digest"\ncron = "0 9 * * sat"\nchoosable = true\n'
                             'max_items = 2\n',
}
READERS = {"wendy": "weekly", "dan": "daily", "tom": "daily", "ed": ""}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", SECRET)


def received(server: SMTPServer) -> dict[str, list[tuple[str, list[str]]]]:
    """Each reader's messages in order: (the digest's schedule, the articles it lists)."""
    found: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for message in server.messages:
        parsed = cast(EmailMessage, email.message_from_bytes(message.data,
                                                             policy=email.policy.default))
        body = parsed.get_body(("plain",))
        assert body is not None
        schedule = str(parsed["Message-ID"]).split("-", 1)[0].lstrip("<")
        articles = re.findall(r"^Article (\w+)\r?$", str(body.get_content()), re.M)
        found[message.recipients[0].split("@")[0]].append((schedule, articles))
    return dict(found)


@pytest.fixture
def site(make_site: SiteFactory, smtp_server: SMTPServer) -> Path:
    root = make_site(FILES, config=SMTP_CONFIG.format(port=smtp_server.port))
    for name in READERS:
        cli_ok(root, "subscribers", "add", f"{name}@example.org")
    cli_ok(root, "build")  # the tag pages the topics are chosen from
    for name, cadence in READERS.items():
        cli_ok(root, "subscribers", "set", f"{name}@example.org", "--cadence", cadence)
    cli_ok(root, "subscribers", "set", "tom@example.org", "--topics", "harbour")
    return root


def tick(root: Path, moment: str) -> None:
    cli_ok(root, "tick", "--now", moment)


def test_switching_cadence_either_way_mid_week_skips_and_repeats_nothing(
        site: Path, smtp_server: SMTPServer) -> None:
    tick(site, "2026-11-28T09:00:00Z")  # Saturday: the daily (07:00) and the weekly
    for day in ("29", "30"):
        tick(site, f"2026-11-{day}T07:00:00Z")
    for day in ("01", "02"):
        tick(site, f"2026-12-{day}T07:00:00Z")
    # Wednesday, after the daily: Wendy moves from weekly to daily, Dan from daily to weekly
    cli_ok(site, "subscribers", "set", "wendy@example.org", "--cadence", "daily")
    cli_ok(site, "subscribers", "set", "dan@example.org", "--cadence", "weekly")
    for day in ("03", "04", "05"):
        tick(site, f"2026-12-{day}T07:00:00Z")
    tick(site, "2026-12-05T09:00:00Z")  # Saturday's weekly

    assert received(smtp_server) == {
        # weekly, then from Thursday daily: Sunday to Thursday in one, nothing twice
        "wendy": [("weekly", ["old"]), ("daily", ["thu", "wed", "tue", "mon", "sun"]),
                  ("daily", ["fri"]), ("daily", ["sat"])],
        # daily, then weekly: only what the dailies did not hold (two listed, one linked)
        "dan": [("daily", ["old"]), ("daily", ["sun"]), ("daily", ["mon"]), ("daily", ["tue"]),
                ("daily", ["wed"]), ("weekly", ["sat", "fri"])],
        # harbour articles only, and no message when there is none
        "tom": [("daily", ["mon"]), ("daily", ["wed"])],
        # every digest: the dailies carry everything, so the weeklies bring nothing twice
        "ed": [("daily", ["old"]), ("daily", ["sun"]), ("daily", ["mon"]), ("daily", ["tue"]),
               ("daily", ["wed"]), ("daily", ["thu"]), ("daily", ["fri"]),
               ("daily", ["sat"])],
    }
    [weekly] = [m for m in smtp_server.messages_to("dan@example.org")
                if b"Message-ID: <weekly-20261205" in m.data]
    assert b"1 more article since your last digest: https://news.example.org/" in weekly.data


def test_the_ledger_keeps_one_row_per_digest_and_reader_and_one_set_per_distinct_list(
        site: Path, smtp_server: SMTPServer) -> None:
    tick(site, "2026-11-28T09:00:00Z")
    tick(site, "2026-11-30T07:00:00Z")  # Sunday's due time is past its catch-up: skipped
    url = settings_of(site).store_url
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT digest_id, COUNT(*), COUNT(DISTINCT subscriber_id), "
            "COUNT(DISTINCT article_set) FROM deliveries GROUP BY digest_id ORDER BY digest_id"
        )).all()
        sets = conn.execute(text("SELECT digest_id, article_ids FROM article_sets "
                                 "ORDER BY digest_id, article_ids")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("daily-20261128-0700", 3, 3, 1),  # dan and ed: one set; tom: nothing new (skipped)
        ("daily-20261130-0700", 3, 3, 2),  # dan and ed: Sunday's and Monday's; tom: Monday's
        ("weekly-20261128-0900", 2, 2, 1)]  # wendy; ed had it all from the daily: skipped
    assert [tuple(s) for s in sets] == [("daily-20261128-0700", "old"),
                                        ("daily-20261130-0700", "mon"),
                                        ("daily-20261130-0700", "mon\nsun"),
                                        ("weekly-20261128-0900", "old")]
    got = received(smtp_server)
    assert got["tom"] == [("daily", ["mon"])]
    with Store.open(url) as store:
        assert store.delivery_counts("weekly-20261128-0900")["skipped"] == 1
    assert cli_ok(site, "digest", "status").splitlines()[0] == (
        "daily-20261130-0700 (complete): 3 sent, 0 deferred, 0 uncertain, 0 gave up, "
        "0 bounced, 0 complained, 0 skipped; readers of daily, 2 article sets")
