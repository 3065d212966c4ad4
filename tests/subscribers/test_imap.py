"""Bounces read from a real IMAP server (Dovecot) over TLS: the mail a sent digest brought back,
matched and recorded, marked seen only when handled, and never deleted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from publisher.config import Settings
from publisher.store.database import Store
from tests import bounce_mail
from tests.conftest import NOW, SiteFactory
from tests.imap_server import DOVECOT, OPENSSL, PASSWORD, SKIP_REASON, IMAPServer, free_port
from tests.subscribers.test_bounces import SECRET, message_id, process, send_to_eight, statuses

if DOVECOT is None or OPENSSL is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", SECRET)


@pytest.fixture
def sent(make_site: SiteFactory) -> tuple[Settings, dict[str, str]]:
    return send_to_eight(make_site)


@pytest.fixture
def imap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IMAPServer]:
    with IMAPServer(tmp_path / "dovecot") as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.certificate))
        monkeypatch.setenv("PUBLISHER_IMAP_PASSWORD", PASSWORD)
        yield server


def test_bounces_are_read_from_imap_and_only_the_handled_marked_seen(
        sent: tuple[Settings, dict[str, str]], imap: IMAPServer) -> None:
    settings, path = sent
    imap.deliver([
        bounce_mail.postfix_dsn(path["r0@example.org"], "r0@example.org", message_id(0)),
        b"Subject: hello\r\nFrom: a@example.org\r\n\r\nnot a bounce\r\n",
        bounce_mail.arf_complaint(path["r1@example.org"], "r1@example.org", message_id(1)),
    ])
    code, out = process(settings, imap.url())
    assert (code, out.splitlines()[0]) == (
        0, "processed 3 messages: 1 left alone, 2 recorded"), out
    assert statuses(settings)["r0@example.org"] == ("bounced", "bounced")
    assert statuses(settings)["r1@example.org"] == ("complained", "complained")
    assert imap.flags() == [True, False, True]  # the one it could not match stays unseen
    code, out = process(settings, imap.url())  # seen mail is not read again
    assert (code, out.splitlines()[0]) == (0, "processed 1 message: 1 left alone")
    assert len(imap.flags()) == 3  # nothing deleted


def test_a_bounces_schedule_reads_an_imap_folder(sent: tuple[Settings, dict[str, str]],
                                                 imap: IMAPServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from publisher.jobs import SiteJobs
    from publisher.models import Schedule

    settings, path = sent
    monkeypatch.delenv("PUBLISHER_IMAP_PASSWORD")
    monkeypatch.setenv("RETURNED_MAIL_PASSWORD", PASSWORD)
    imap.deliver([bounce_mail.gmail_dsn(path["r2@example.org"], "r2@example.org",
                                        message_id(2))], folder="Returned")
    schedule = Schedule("bounces", "bounces", "UTC", every=timedelta(minutes=15),
                        mailbox=imap.url(folder="Returned"),
                        password_env="RETURNED_MAIL_PASSWORD")
    with Store.open(settings.store_url) as store:
        jobs = SiteJobs(settings, lambda: NOW, store)
        assert jobs.run(schedule, NOW) == "processed 1 message: 1 recorded"
        assert jobs.run(schedule, NOW) == "processed 0 messages"
    assert statuses(settings)["r2@example.org"] == ("bounced", "bounced")


def test_starttls_is_required_and_used(sent: tuple[Settings, dict[str, str]],
                                       imap: IMAPServer) -> None:
    settings, path = sent
    imap.deliver([bounce_mail.postfix_dsn(path["r3@example.org"], "r3@example.org",
                                          message_id(3))])
    url = f"imap://bounces@127.0.0.1:{imap.starttls_port}/INBOX"
    code, out = process(settings, url)
    assert (code, out) == (0, "processed 1 message: 1 recorded\n")


@pytest.mark.parametrize(("change", "message"), [
    ("password", "refused the login of bounces"),
    ("certificate", "has a certificate that cannot be trusted"),
    ("port", "cannot reach the IMAP server"),
    ("no password", "the IMAP password is not set: PUBLISHER_IMAP_PASSWORD is empty"),
    ("password in url", "the password does not belong in the URL"),
])
def test_imap_trouble_is_one_clear_error_and_changes_nothing(
        sent: tuple[Settings, dict[str, str]], imap: IMAPServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, change: str, message: str) -> None:
    from click.testing import CliRunner

    from publisher.cli import cli

    settings, path = sent
    imap.deliver([bounce_mail.postfix_dsn(path["r0@example.org"], "r0@example.org",
                                          message_id(0))])
    url = imap.url()
    if change == "password":
        monkeypatch.setenv("PUBLISHER_IMAP_PASSWORD", "wrong")
    elif change == "certificate":
        monkeypatch.delenv("SSL_CERT_FILE")
    elif change == "port":
        url = f"imaps://bounces@127.0.0.1:{free_port()}/INBOX"  # nobody listens there
    elif change == "no password":
        monkeypatch.delenv("PUBLISHER_IMAP_PASSWORD")
    else:
        url = url.replace("bounces@", "bounces:secret@")
    before = statuses(settings)
    result = CliRunner().invoke(cli, ["--site", str(settings.root), "bounces", "process", url])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert statuses(settings) == before
    assert imap.flags() == [False]

