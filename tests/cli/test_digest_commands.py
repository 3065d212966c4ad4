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
    html = (folder / f"{DIGEST_ID}.html").stat().st_size / 1024
    whole = (folder / f"{DIGEST_ID}.eml").stat().st_size / 1024
    assert out == (
        f"preview of digest {DIGEST_ID} (2 articles), as reader0@example.org would receive it:\n"
        f"  {folder / DIGEST_ID}.html\n  {folder / DIGEST_ID}.txt\n  {folder / DIGEST_ID}.eml\n"
        f"size: {html:.1f} KB of HTML (Gmail clips above 102 KB), {whole:.1f} KB in all\n")
    assert digests(settings) == []


def test_send_prints_one_line(make_site: SiteFactory) -> None:
    settings = site(make_site)
    assert run(settings, "send", *WHEN) == (
        0, f"digest {DIGEST_ID}: 3 sent, 0 skipped, 0 deferred, 0 uncertain, 0 gave up, "
        "0 bounced\n", "")
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


def test_deferred_and_bounced_are_normal_outcomes(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        settings = site(make_site, smtp_config(server, failures=3), readers=6)
        server.answer("reader1@example.org", "451 4.2.1 mailbox busy")
        server.answer("reader2@example.org", "550 5.1.1 no such user")
        assert run(settings, "send", *WHEN) == (0, (
            f"digest {DIGEST_ID}: 4 sent, 0 skipped, 1 deferred, 0 uncertain, 0 gave up, "
            "1 bounced; next try due 2026-11-25 12:01 (Europe/Lisbon)\n"), "")


def test_a_run_stopped_by_failures_in_a_row_is_exit_1(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        for n in range(6):
            server.answer(f"reader{n}@example.org", "554 5.7.1 relay access denied")
        settings = site(make_site, smtp_config(server, failures=2), readers=6)
        code, out, err = run(settings, "send", *WHEN)
    # the second refusal stops the run; the other connection finishes the message it holds
    assert code == 1
    assert out in (f"digest {DIGEST_ID}: 0 sent, 0 skipped, {n} deferred, 0 uncertain, "
                   "0 gave up, 0 bounced; the deferred ones are retried by a later run\n"
                   for n in (2, 3))
    with Store.open(settings.store_url) as store:
        assert store.count_recipients(DIGEST_ID, now=NOW) == 6  # every one due at once
        assert store.count_subscribers("active") == 6
    assert err == ("error: stopped: the server refused 2 recipients in a row (the last reply: "
                   "554 5.7.1 relay access denied), so nobody was marked bounced. Check the mail "
                   "server and [delivery] in publisher.toml, then run `publisher digest send` "
                   "again: it sends to everyone still owed the digest\n")


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


# -- status, and a digest for nobody -----------------------------------------------------------


def test_status_counts_each_outcome_and_lists_who(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        settings = site(make_site, smtp_config(server), readers=4)
        server.answer("reader1@example.org", "452 4.2.2 mailbox full")
        server.answer("reader2@example.org", "550 5.1.1 no such user")
        assert run(settings, "send", *WHEN)[0] == 0
    code, out, _ = run(settings, "status")
    assert (code, out) == (0, (
        f"{DIGEST_ID} (open): 2 sent, 1 deferred (next try due 2026-11-25 12:01), 0 uncertain, "
        "0 gave up, 1 bounced, 0 complained, 0 skipped\n"))
    assert run(settings, "status", DIGEST_ID, "--list", "deferred")[1].splitlines()[1:] == [
        "  reader1@example.org: 452 4.2.2 mailbox full (next try 2026-11-25 12:01)"]
    import json

    data = json.loads(run(settings, "status", "--json")[1])
    assert data["digests"][0] == {
        "digest": DIGEST_ID, "complete": False, "queued": 0, "pending": 0, "sent": 2, "deferred": 1,
        "uncertain": 0, "gave_up": 0, "bounced": 1, "complained": 0, "skipped": 0,
        "next_attempt_at": "2026-11-25T12:01:00+00:00"}
    code, _, err = run(settings, "status", "--list", "sent")
    assert code == 2 and "--list needs a DIGEST" in err


def test_a_digest_for_nobody_is_not_made_and_its_articles_wait(make_site: SiteFactory) -> None:
    settings = site(make_site, readers=0)
    assert run(settings, "send", *WHEN) == (0, (
        "no digest: no active subscriber to send it to; its 2 articles wait for the first "
        "digest that has readers\n"), "")
    assert digests(settings) == []
    assert not (settings.root / "digests").exists()
    assert run(settings, "status") == (0, "no digest has been sent yet\n", "")
    with Store.open(settings.store_url) as store:
        store.add_subscribers([NewSubscriber("first@example.org")], now=NOW)
    assert run(settings, "send", *WHEN)[1].startswith(f"digest {DIGEST_ID}: 1 sent")
    with Store.open(settings.store_url) as store:
        [record] = store.list_digests()
    assert record.digest.article_ids == ("bridge", "ferry")
