"""`publisher digest preview` and `publisher digest send`, and the crash test: a real process,
killed mid-send, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from publisher.config import Settings
from publisher.delivery.dispatcher import STOP_REQUESTED
from publisher.store.database import NewSubscriber, Store
from tests.conftest import MAIL_CONFIG, NOW, SiteFactory, article, settings_of
from tests.conftest import SMTP_CONFIG as SMTP_CONFIGURED
from tests.smtp_server import SMTPServer, free_port

SECRET_ENV = {"PUBLISHER_SECRET_KEY": "a-test-signing-secret-of-32-bytes-at-least"}
WHEN = ["--now", "2026-11-25T12:00:00Z"]
DIGEST_ID = "digest-20261125-1200"
CONFIG = MAIL_CONFIG
SMTP_CONFIG = SMTP_CONFIGURED + """retry_base = 60
max_consecutive_failures = {failures}
"""
ARTICLES = {
    "content/ferry.md": article("Ferry fares rise", "2026-11-20 09:00", id="ferry"),
    "content/bridge.md": article("Bridge closes", "2026-11-24 18:30", id="bridge"),
}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)


def site(make_site: SiteFactory, config: str = CONFIG, readers: int = 3) -> Settings:
    settings = settings_of(make_site(ARTICLES, config=config))
    with Store.open(settings.store_url) as store:
        store.add_subscribers([NewSubscriber(f"reader{i}@example.org", f"Reader {i}")
                               for i in range(readers)], now=NOW)
    return settings


def smtp_config(server: SMTPServer, failures: int = 25) -> str:
    return SMTP_CONFIG.format(port=server.port, failures=failures)


def run(settings: Settings, *args: str) -> tuple[int, str, str]:
    from publisher.cli import cli

    result = CliRunner().invoke(cli, ["--site", str(settings.root), "digest", *args])
    return result.exit_code, result.stdout, result.stderr


def digests(settings: Settings) -> list[str]:
    with Store.open(settings.store_url) as store:
        return [r.digest.id for r in store.list_digests()]


def test_preview_says_where_it_wrote(make_site: SiteFactory) -> None:
    settings = site(make_site)
    code, out, err = run(settings, "preview", *WHEN)
    folder = settings.path("preview")
    assert (code, err) == (0, "")
    assert out == (
        f"preview of digest {DIGEST_ID} (2 articles), as reader0@example.org would receive it:\n"
        f"  {folder / DIGEST_ID}.html\n  {folder / DIGEST_ID}.txt\n  {folder / DIGEST_ID}.eml\n")
    assert digests(settings) == []


def test_send_prints_one_line(make_site: SiteFactory) -> None:
    settings = site(make_site)
    assert run(settings, "send", *WHEN) == (
        0, f"digest {DIGEST_ID}: 3 sent, 0 skipped, 0 deferred, 0 failed\n", "")
    assert run(settings, "send", "--now", "2026-11-26T12:00:00Z") == (
        0, "nothing new since the last digest: no digest sent\n", "")


def test_dry_run_and_test_copy_record_nothing(make_site: SiteFactory) -> None:
    settings = site(make_site)
    assert run(settings, "send", "--dry-run", *WHEN) == (
        0, f"digest {DIGEST_ID} (dry run): would be sent to 3 subscribers; nothing was sent "
        "or recorded\n", "")
    code, out, _ = run(settings, "send", "--to", "me@example.org", *WHEN)
    assert code == 0
    assert out.startswith(f"sent a test copy of digest {DIGEST_ID} to me@example.org: "
                          "250 queued in outbox/new/")
    assert digests(settings) == []
    assert len(list((settings.path("outbox") / "new").iterdir())) == 1
    code, _, err = run(settings, "send", "--to", "me@example.org", "--dry-run")
    assert code == 2 and "use either --dry-run or --to, not both" in err


def test_a_missing_secret_is_a_clear_error(make_site: SiteFactory,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    settings = site(make_site)
    monkeypatch.delenv("PUBLISHER_SECRET_KEY")
    assert run(settings, "send", *WHEN) == (1, "", (
        "error: the environment variable PUBLISHER_SECRET_KEY is not set\n"
        "  hint: export PUBLISHER_SECRET_KEY=... (signing unsubscribe links); secrets are "
        "never read from publisher.toml\n"))
    assert digests(settings) == []


def test_an_unknown_schedule(make_site: SiteFactory) -> None:
    settings = site(make_site)
    assert run(settings, "send", "--schedule", "weekly") == (1, "", (
        "error: unknown digest schedule 'weekly'\n  hint: digest schedules: none in schedules/; "
        "without --schedule, the digest set up in [email] ('digest') is used\n"))


def test_a_named_schedule_sends_its_own_digest(make_site: SiteFactory) -> None:
    settings = site(make_site)
    (settings.root / "schedules").mkdir()
    (settings.root / "schedules/weekly.toml").write_text(
        'action = "digest"\ncron = "0 12 * * wed"\ntimezone = "UTC"\n')
    code, out, _ = run(settings, "send", "--schedule", "weekly", *WHEN)
    assert code == 0
    assert out.startswith("digest weekly-")


def test_an_unreachable_server_is_exit_1(make_site: SiteFactory) -> None:
    port = free_port()
    settings = site(make_site, SMTP_CONFIG.format(port=port, failures=25))
    assert run(settings, "send", *WHEN) == (1, "", (
        f"error: cannot connect to the SMTP server 127.0.0.1:{port}: Connection refused\n"
        "  hint: check [delivery] host, port and security in publisher.toml (587 with "
        "starttls, 465 with ssl) and that the server is running\n"))


def test_deferred_and_failed_are_normal_outcomes(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        settings = site(make_site, smtp_config(server, failures=3), readers=6)
        server.answer("reader1@example.org", "451 4.2.1 mailbox busy")
        server.answer("reader2@example.org", "550 5.1.1 no such user")
        assert run(settings, "send", *WHEN) == (0, (
            f"digest {DIGEST_ID}: 4 sent, 0 skipped, 1 deferred, 1 failed; next try due "
            "2026-11-25 12:01 (Europe/Lisbon)\n"), "")


def test_a_run_stopped_by_failures_in_a_row_is_exit_1(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        for n in range(6):
            server.answer(f"reader{n}@example.org", "554 5.7.1 relay access denied")
        settings = site(make_site, smtp_config(server, failures=2), readers=6)
        code, out, err = run(settings, "send", *WHEN)
    # the second failure stops the run; the other connection finishes the message it holds
    assert code == 1
    assert out in (f"digest {DIGEST_ID}: 0 sent, 0 skipped, 0 deferred, {n} failed\n"
                   for n in (2, 3))
    with Store.open(settings.store_url) as store:
        assert store.count_recipients(DIGEST_ID, now=NOW) == 6 - int(out.split()[-2])
    assert err == ("error: stopped after 2 failed deliveries in a row (the last reply: 554 "
                   "5.7.1 relay access denied); check the mail server, then run `publisher "
                   "digest send` again to go on\n")


# -- the crash test ---------------------------------------------------------------------------

READERS = 300


def start_send(settings: Settings) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", "from publisher.cli import main; main()",
               "--site", str(settings.root), "digest", "send", *WHEN]
    return subprocess.Popen(command, env={**os.environ, **SECRET_ENV}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def send_with_signal(settings: Settings, server: SMTPServer, after: int, signum: int
                     ) -> tuple[int, str, str]:
    """Run `publisher digest send` in a process; signal it while message `after` is accepted."""
    process: list[subprocess.Popen[str]] = []

    def hit(count: int, _message: object) -> None:
        if count == after:
            os.kill(process[0].pid, signum)

    server.on_message(hit)
    process.append(start_send(settings))
    out, err = process[0].communicate(timeout=60)
    return process[0].returncode, out, err


@pytest.mark.parametrize("kill_at", [1, 137, 299])
def test_a_killed_send_sends_at_most_the_messages_in_flight_twice(
        make_site: SiteFactory, kill_at: int) -> None:
    with SMTPServer() as server:
        settings = site(make_site, smtp_config(server), readers=READERS)
        code, _, _ = send_with_signal(settings, server, kill_at, signal.SIGKILL)
        assert code == -signal.SIGKILL
        with Store.open(settings.store_url) as store:
            in_flight = store.pending_deliveries(DIGEST_ID)
        rerun = start_send(settings)
        out, err = rerun.communicate(timeout=60)
    assert (rerun.returncode, err) == (0, "")
    received = server.received()
    assert set(received) == {f"reader{i}@example.org" for i in range(READERS)}
    twice = sorted(address for address, times in received.items() if times > 1)
    print(f"\nkilled while message {kill_at} was being accepted: {in_flight} pending in the "
          f"ledger, {len(twice)} received twice")
    assert 1 <= len(twice) <= 2  # the message being accepted, and the other connection's
    assert max(received.values()) == 2
    assert len(twice) <= in_flight
    assert out.startswith(f"digest {DIGEST_ID}: ")
    with Store.open(settings.store_url) as store:
        assert store.delivery_counts(DIGEST_ID)["sent"] == READERS
        assert store.latest_open_digest("digest") is None


def test_sigterm_stops_at_a_safe_point_with_nothing_sent_twice(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        settings = site(make_site, smtp_config(server), readers=120)
        code, out, err = send_with_signal(settings, server, 40, signal.SIGTERM)
        assert code == 130
        assert err.endswith(f"error: {STOP_REQUESTED}\n")
        with Store.open(settings.store_url) as store:
            assert store.pending_deliveries(DIGEST_ID) == 0
        rerun = start_send(settings)
        rerun.communicate(timeout=60)
    assert rerun.returncode == 0
    assert server.received() == {f"reader{i}@example.org": 1 for i in range(120)}
    assert out.startswith(f"digest {DIGEST_ID}: ")
