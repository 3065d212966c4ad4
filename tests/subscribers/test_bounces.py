"""Bounces, complaints and unsubscribe requests by mail, end to end: a digest goes out through a
real SMTP server with a return path per reader, and what comes back is processed."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.config import Settings
from publisher.store.database import NewSubscriber, Store
from publisher.subscribers.tokens import unsubscribe_token
from tests import bounce_mail
from tests.conftest import NOW, SMTP_CONFIG, SiteFactory, article, settings_of
from tests.sending import send_digest
from tests.smtp_server import SMTPServer

SECRET = "a test secret, long enough to sign with"
CONFIG = SMTP_CONFIG.replace('from_address = "digest@news.example.org"\n', (
    'from_address = "digest@news.example.org"\n'
    'bounce_address = "bounces@news.example.org"\n'
    'unsubscribe_mailto = "leave@news.example.org"\n'))
DIGEST = "digest-20261125-1200"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", SECRET)


@pytest.fixture
def sent(make_site: SiteFactory) -> tuple[Settings, dict[str, str]]:
    return send_to_eight(make_site)


def send_to_eight(make_site: SiteFactory) -> tuple[Settings, dict[str, str]]:
    """A site whose digest went to eight readers; each reader's return path."""
    with SMTPServer() as server:
        root = make_site({"content/a.md": article("Ferry fares rise", "2026-11-20 09:00",
                                                  id="a")}, config=CONFIG.format(port=server.port))
        settings = settings_of(root)
        with Store.open(settings.store_url) as store:
            store.add_subscribers([NewSubscriber(f"r{i}@example.org") for i in range(8)],
                                  now=NOW)
        report = send_digest(settings, lambda: NOW, schedule=_plan(settings))
        assert report is not None and getattr(report, "sent", 0) == 8
        paths = {m.recipients[0]: m.sender for m in server.messages}
    assert all(p.startswith(f"bounces+{DIGEST}.") and p.endswith("@news.example.org")
               for p in paths.values())
    return settings, paths


def _plan(settings: Settings) -> object:
    from publisher.send import default_plan

    return default_plan(settings)


def message_id(n: int) -> str:
    return f"{DIGEST}.{n + 1}@news.example.org"


def maildir_of(folder: Path, messages: dict[str, bytes]) -> dict[str, str]:
    box = mailbox.Maildir(folder, create=True)
    return {name: box.add(data) for name, data in messages.items()}


def process(settings: Settings, *paths: str, stdin: bytes = b"") -> tuple[int, str]:
    from publisher.cli import cli

    result = CliRunner().invoke(cli, ["--site", str(settings.root), "bounces", "process",
                                      *paths], input=stdin)
    return result.exit_code, result.stdout


def statuses(settings: Settings) -> dict[str, tuple[str, str]]:
    with Store.open(settings.store_url) as store:
        rows = {e.subscriber.email: e.delivery.status
                for status in ("sent", "bounced", "gave_up", "complained")
                for e in store.ledger_entries(DIGEST, status)}
        return {s.email: (s.status, rows.get(s.email, "")) for s in store.iter_subscribers()}


def test_what_comes_back_is_matched_recorded_and_never_applied_twice(
        sent: tuple[Settings, dict[str, str]], tmp_path: Path) -> None:
    settings, path = sent
    r = [f"r{i}@example.org" for i in range(8)]
    local, _, domain = path[r[0]].partition("@")
    forged = local.rsplit(".", 1)[0] + ".aaaaaaaaaaaaaaaa@" + domain  # another signature
    with Store.open(settings.store_url) as store:
        reader = store.get_subscriber(r[6])
        assert reader is not None
        token = unsubscribe_token(SECRET, reader)
    folder = tmp_path / "bounces"
    keys = maildir_of(folder, {
        "postfix": bounce_mail.postfix_dsn(path[r[0]], r[0], message_id(0)),
        "exim": bounce_mail.exim_bounce(path[r[1]], r[1], message_id(1)),
        "gmail": bounce_mail.gmail_dsn("bounces@news.example.org", r[2], message_id(2)),
        "outlook": bounce_mail.outlook_ndr(path[r[3]], r[3], message_id(3)),
        "arf": bounce_mail.arf_complaint(path[r[4]], r[4], message_id(4)),
        "delayed": bounce_mail.postfix_dsn(path[r[5]], r[5], message_id(5), "4.4.1",
                                           "450 4.4.1 host not reachable", "delayed"),
        "unsubscribe": bounce_mail.unsubscribe_request("leave@news.example.org", r[6],
                                                       f"unsubscribe {token}"),
        "forged": bounce_mail.postfix_dsn(forged, r[7], "x@elsewhere.example"),
        "foreign": bounce_mail.postfix_dsn("bounces@news.example.org", r[7],
                                           "campaign.7@shop.example.com"),
        "stranger": bounce_mail.postfix_dsn("bounces@news.example.org", "who@example.org",
                                            message_id(7)),
        "garbage": b"\x00\xff not mail at all",
    })
    code, out = process(settings, str(folder))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == ("processed 11 messages: 1 delay, 4 left alone, 6 recorded"), out
    assert sorted(line.split(": ", 2)[2] for line in lines[1:]) == sorted([
        "return path not ours: a return-path token whose signature does not match (forged, "
        "or signed with another secret)",
        "about a message this site did not send (campaign.7@shop.example.com)",
        f"the report names who@example.org, but message {message_id(7)} went to someone "
        "else; not trusted",
        "unreadable: no header fields"])
    assert statuses(settings) == {
        r[0]: ("bounced", "bounced"), r[1]: ("bounced", "bounced"),
        r[2]: ("bounced", "bounced"), r[3]: ("active", "gave_up"),
        r[4]: ("complained", "complained"), r[5]: ("active", "sent"),
        r[6]: ("unsubscribed", "sent"), r[7]: ("active", "sent")}
    box = mailbox.Maildir(folder, create=False)
    left = {name for name, key in keys.items() if box.get_message(key).get_subdir() == "new"}
    assert left == {"forged", "foreign", "stranger", "garbage"}  # never moved, never deleted
    assert len(box) == 11
    for name in ("postfix", "arf", "unsubscribe"):  # the same mail again, as files
        (tmp_path / f"{name}.eml").write_bytes(box.get_bytes(keys[name]))
    code, out = process(settings, *(str(tmp_path / f"{n}.eml") for n in (
        "postfix", "arf", "unsubscribe")))
    assert (code, out) == (0, "processed 3 messages: 3 already recorded\n")


def test_standard_input_and_an_mbox(sent: tuple[Settings, dict[str, str]],
                                    tmp_path: Path) -> None:
    settings, path = sent
    code, out = process(settings, "-", stdin=bounce_mail.postfix_dsn(
        path["r0@example.org"], "r0@example.org", message_id(0)))
    assert (code, out) == (0, "processed 1 message: 1 recorded\n")
    box = mailbox.mbox(tmp_path / "returned.mbox")
    box.add(bounce_mail.arf_complaint(path["r1@example.org"], "r1@example.org", message_id(1)))
    box.add(bounce_mail.postfix_dsn(path["r0@example.org"], "r0@example.org", message_id(0)))
    box.close()
    code, out = process(settings, str(tmp_path / "returned.mbox"))
    assert (code, out) == (0, "processed 2 messages: 1 already recorded, 1 recorded\n")
    assert statuses(settings)["r1@example.org"] == ("complained", "complained")


def test_a_schedule_reads_a_maildir(sent: tuple[Settings, dict[str, str]], tmp_path: Path
                                    ) -> None:
    from datetime import timedelta

    from publisher.jobs import SiteJobs
    from publisher.models import Schedule

    settings, path = sent
    folder = tmp_path / "returned"
    maildir_of(folder, {"gmail": bounce_mail.gmail_dsn(path["r2@example.org"],
                                                        "r2@example.org", message_id(2)),
                        "junk": b"Subject: hello\r\n\r\nnot a bounce\r\n"})
    schedule = Schedule("bounces", "bounces", "UTC", every=timedelta(minutes=15),
                        mailbox=str(folder))
    with Store.open(settings.store_url) as store:
        jobs = SiteJobs(settings, lambda: NOW, store)
        assert jobs.run(schedule, NOW) == "processed 2 messages: 1 left alone, 1 recorded"
        assert jobs.run(schedule, NOW) == "processed 1 message: 1 left alone"  # seen: skipped
    assert statuses(settings)["r2@example.org"] == ("bounced", "bounced")


def test_a_bounces_schedule_must_say_which_mailbox(make_site: SiteFactory) -> None:
    from publisher.errors import ConfigError
    from publisher.schedule.files import load_schedules

    root = make_site({"schedules/returned.toml": 'action = "bounces"\nevery = "15m"\n',
                      "schedules/feed.toml": 'action = "build"\nevery = "15m"\n'
                                             'mailbox = "mail"\n'})
    with pytest.raises(ConfigError) as caught:
        load_schedules(settings_of(root))
    assert [str(p) for p in caught.value.problems] == [
        "schedules/feed.toml:3: mailbox: only a bounces schedule takes this key\n"
        '  hint: remove it, or set action = "bounces"',
        "schedules/returned.toml: mailbox: a bounces schedule needs the mailbox to read\n"
        '  hint: add mailbox = "mail/bounces" (a Maildir folder that the mail server '
        'delivers the returned mail to) or mailbox = "imaps://USER@HOST/INBOX"']


@pytest.mark.parametrize(("mailbox", "extra", "problem"), [
    ("imaps://mail.example.org/INBOX", "",
     "schedules/returned.toml:2: mailbox: the URL needs the user and the host: "
     "imaps://USER@HOST/FOLDER"),
    ("imaps://me:hunter2@mail.example.org/INBOX", "",
     "schedules/returned.toml:2: mailbox: the password does not belong in the URL"),
    ("imaps://me@mail.example.org:99999/INBOX", "",
     "schedules/returned.toml:2: mailbox: the port is not a number from 1 to 65535"),
    ("imaps://me@mail.example.org/INBOX", 'password_env = "IMAP PASSWORD"\n',
     "schedules/returned.toml:4: password_env: 'IMAP PASSWORD' is not the name of an "
     "environment variable"),
    ("mail/bounces", 'password_env = "IMAP_PASSWORD"\n',
     "schedules/returned.toml:4: password_env: only a bounces schedule reading an IMAP "
     "mailbox takes this key"),
])
def test_an_imap_mailbox_in_a_schedule_is_checked_where_written(
        make_site: SiteFactory, mailbox: str, extra: str, problem: str) -> None:
    from publisher.errors import ConfigError
    from publisher.schedule.files import load_schedules

    root = make_site({"schedules/returned.toml": f'action = "bounces"\nmailbox = "{mailbox}"\n'
                                                 f'every = "15m"\n{extra}'})
    with pytest.raises(ConfigError) as caught:
        load_schedules(settings_of(root))
    (found,) = caught.value.problems
    assert str(found).startswith(problem), str(found)
    assert "hunter2" not in str(caught.value)


def test_an_imap_schedule_keeps_its_url(make_site: SiteFactory) -> None:
    from publisher.schedule.files import load_schedules

    root = make_site({"schedules/returned.toml":
                      'action = "bounces"\nmailbox = "imaps://me@mail.example.org/Returned"\n'
                      'every = "15m"\npassword_env = "RETURNED_PASSWORD"\n'})
    (schedule,) = load_schedules(settings_of(root))
    assert (schedule.mailbox, schedule.password_env) == (
        "imaps://me@mail.example.org/Returned", "RETURNED_PASSWORD")
