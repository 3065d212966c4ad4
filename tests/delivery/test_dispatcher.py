"""Transports and the dispatcher, against a real aiosmtpd server and a real SQLite ledger."""

from __future__ import annotations

import email
import email.policy
import mailbox
import shutil
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from publisher.delivery import PermanentFailure, TemporaryFailure
from publisher.delivery.dispatcher import STOP_REQUESTED, Dispatch, RetryPolicy, dispatch
from publisher.delivery.outbox import OutboxTransport
from publisher.delivery.pace import TokenBucket
from publisher.delivery.smtp import SMTPOptions, SMTPTransport, dot_stuffed, envelope_address
from publisher.errors import DeliveryError
from publisher.models import Subscriber
from publisher.store.database import NewSubscriber, Store
from tests.conftest import NOW
from tests.smtp_server import SMTPServer, free_port

SENDER = "digest@news.example.org"
POLICY = RetryPolicy(timedelta(seconds=60), max_attempts=3, max_consecutive_failures=5)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def message_for(subscriber: Subscriber) -> bytes:
    return (f"From: {SENDER}\r\nTo: {subscriber.email}\r\nSubject: Digest\r\n\r\n"
            f"Hello {subscriber.name}\r\n.a line that starts with a dot\r\n").encode()


def smtp(server: SMTPServer, **options: object) -> SMTPTransport:
    settings = SMTPOptions(host=server.host, port=server.port,
                                security="none", **options)  # type: ignore[arg-type]
    return SMTPTransport(settings)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'publisher.db'}") as opened:
        yield opened


def people(store: Store, count: int) -> list[Subscriber]:
    store.add_subscribers([NewSubscriber(f"p{i}@example.org", f"P{i}") for i in range(count)],
                          now=NOW)
    return list(store.iter_subscribers())


def digest_of(store: Store, due: datetime = NOW) -> str:
    return store.create_digest("weekly", due, now=due, article_ids=["a"], subject="S").id


def job(store: Store, digest_id: str, tmp_path: Path, clock: Clock | None = None,
        policy: RetryPolicy = POLICY) -> Dispatch:
    return Dispatch(store, digest_id, lambda subscriber: SENDER, message_for, clock or Clock(),
                    policy)


def statuses(store: Store, digest_id: str) -> dict[str, int]:
    return {k: v for k, v in store.delivery_counts(digest_id).items() if v}


# -- the outbox ---------------------------------------------------------------------------


def test_the_outbox_is_a_maildir_any_mail_client_reads(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    with OutboxTransport(folder) as outbox:
        reply = outbox.send(SENDER, "ann@example.org",
                            message_for(Subscriber(1, "ann@example.org", "Ann")))
    assert reply.startswith("250 queued in outbox/new/")
    [name] = [p.name for p in (folder / "new").iterdir()]
    assert reply.endswith(name)
    assert not list((folder / "tmp").iterdir())  # written there, then renamed into new/
    box = mailbox.Maildir(folder, factory=None, create=False)
    [stored] = list(box)
    assert stored["To"] == "ann@example.org"
    raw = (folder / "new" / name).read_bytes()
    assert b"\r\n" not in raw and raw.endswith(b"Hello Ann\n.a line that starts with a dot\n")


def test_an_outbox_that_cannot_be_made_says_so(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(DeliveryError) as caught, OutboxTransport(tmp_path / "taken" / "outbox"):
        pass
    assert str(caught.value) == (
        f"{tmp_path / 'taken' / 'outbox'}: cannot open the outbox: Not a directory\n"
        "  hint: make the folder writable, or set [delivery] outbox_dir in publisher.toml")


# -- SMTP -----------------------------------------------------------------------------------


def test_one_connection_serves_many_messages(smtp_server: SMTPServer) -> None:
    with smtp(smtp_server, concurrency=1) as transport:
        replies = [transport.send(SENDER, f"p{i}@example.org",
                                  message_for(Subscriber(i, f"p{i}@example.org", "")))
                   for i in range(5)]
    assert replies == [f"250 2.0.0 Ok: queued as {i}" for i in range(1, 6)]
    assert smtp_server.connections == 1
    first = smtp_server.messages[0]
    assert (first.sender, first.recipients) == (SENDER, ("p0@example.org",))
    assert first.data.endswith(b"Hello \r\n.a line that starts with a dot\r\n")  # un-stuffed


@pytest.mark.parametrize("pipelining", [False, True])
def test_refusals_leave_the_connection_usable(pipelining: bool) -> None:
    with SMTPServer(pipelining=pipelining) as server:
        server.answer("busy@example.org", "451 4.3.0 try again later")
        server.answer("gone@example.org", "550 5.1.1 no such user")
        with smtp(server, concurrency=1) as transport:
            with pytest.raises(TemporaryFailure) as temporary:
                transport.send(SENDER, "busy@example.org", b"Subject: a\r\n\r\na\r\n")
            with pytest.raises(PermanentFailure) as permanent:
                transport.send(SENDER, "gone@example.org", b"Subject: b\r\n\r\nb\r\n")
            assert transport.send(SENDER, "ann@example.org", b"Subject: c\r\n\r\nc\r\n") == \
                "250 2.0.0 Ok: queued as 1"
        assert server.connections == 1
    assert (temporary.value.reply, temporary.value.dropped) == ("451 4.3.0 try again later",
                                                                 False)
    assert permanent.value.reply == "550 5.1.1 no such user"
    assert server.received() == {"ann@example.org": 1}


def test_a_dropped_connection_is_reopened_for_the_next_message(smtp_server: SMTPServer) -> None:
    smtp_server.drop("ann@example.org", times=1)
    with smtp(smtp_server, concurrency=1) as transport:
        with pytest.raises(TemporaryFailure) as caught:
            transport.send(SENDER, "ann@example.org", b"Subject: a\r\n\r\na\r\n")
        assert caught.value.dropped
        transport.send(SENDER, "ann@example.org", b"Subject: a\r\n\r\na\r\n")
    assert smtp_server.connections == 2
    assert smtp_server.received() == {"ann@example.org": 1}


def test_unreachable_server() -> None:
    port = free_port()
    settings = SMTPOptions(host="127.0.0.1", port=port,
                                security="none", timeout=5)
    with pytest.raises(DeliveryError) as caught, SMTPTransport(settings):
        pass
    assert str(caught.value) == (
        f"cannot connect to the SMTP server 127.0.0.1:{port}: Connection refused\n"
        "  hint: check [delivery] host, port and security in publisher.toml (587 with "
        "starttls, 465 with ssl) and that the server is running")


def test_login_and_a_refused_login() -> None:
    with SMTPServer(login=("ann", "s3cret")) as server:
        settings = SMTPOptions(host=server.host, port=server.port,
                                    security="none", username="ann", concurrency=1)
        with SMTPTransport(settings, "s3cret") as transport:
            transport.send(SENDER, "bob@example.org", b"Subject: a\r\n\r\na\r\n")
        with pytest.raises(DeliveryError) as caught, SMTPTransport(settings, "wrong"):
            pass
    assert server.logins == ["ann"]
    assert server.received() == {"bob@example.org": 1}
    assert str(caught.value) == (
        f"the SMTP server 127.0.0.1:{server.port} refused the login of ann: 535 5.7.8 "
        "Authentication credentials invalid\n"
        "  hint: check [delivery] username and the password in $PUBLISHER_SMTP_PASSWORD")


def test_a_server_that_requires_a_login_refuses_the_sender(smtp_server: SMTPServer) -> None:
    with SMTPServer(login=("ann", "s3cret")) as server, smtp(server) as transport, \
            pytest.raises(DeliveryError) as caught:
        transport.send(SENDER, "bob@example.org", b"Subject: a\r\n\r\na\r\n")
    assert str(caught.value) == (
        f"the SMTP server 127.0.0.1:{server.port} refused the sender {SENDER}: 530 5.7.0 "
        "Authentication required\n  hint: the server wants a login: set [delivery] username "
        "in publisher.toml and export the password in $PUBLISHER_SMTP_PASSWORD")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_starttls_with_a_verified_certificate(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    with SMTPServer(tls=server_side, login=("ann", "s3cret")) as server:
        settings = SMTPOptions(host=server.host, port=server.port,
                                    security="starttls", username="ann", concurrency=1)
        with SMTPTransport(settings, "s3cret", tls=trusting) as transport:
            transport.send(SENDER, "bob@example.org", b"Subject: a\r\n\r\na\r\n")
        with pytest.raises(DeliveryError) as caught, SMTPTransport(settings, "s3cret"):
            pass  # the system's trust store does not know this certificate
    assert server.received() == {"bob@example.org": 1}
    assert server.logins == ["ann"]
    assert str(caught.value).startswith(
        f"TLS with the SMTP server 127.0.0.1:{server.port} failed: CERTIFICATE_VERIFY_FAILED")


def test_dot_stuffing_and_envelope_addresses() -> None:
    assert dot_stuffed(b".top\r\nmid\r\n..two\r\n.") == b"..top\r\nmid\r\n...two\r\n..\r\n.\r\n"
    assert dot_stuffed(b"") == b"\r\n.\r\n"
    assert envelope_address("ann@exämple.org") == ("ann@xn--exmple-cua.org", False)
    assert envelope_address("josé@example.org") == ("josé@example.org", True)


def test_a_non_ascii_address_goes_out_with_smtputf8(smtp_server: SMTPServer) -> None:
    with smtp(smtp_server) as transport:
        transport.send(SENDER, "josé@exämple.org", b"Subject: a\r\n\r\na\r\n")
    assert smtp_server.received() == {"josé@xn--exmple-cua.org": 1}


def test_the_token_bucket_paces_without_waiting() -> None:
    moments = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        moments[0] += seconds

    bucket = TokenBucket(10, monotonic=lambda: moments[0], sleep=sleep)
    for _ in range(21):
        bucket.take()
    assert moments[0] == pytest.approx(2.0)  # the first message at once, then 10 a second
    assert max(slept) == pytest.approx(0.1)


# -- the dispatcher -------------------------------------------------------------------------


def test_every_subscriber_once_over_two_connections(store: Store, tmp_path: Path,
                                                    smtp_server: SMTPServer) -> None:
    everyone = people(store, 40)
    digest_id = digest_of(store)
    seen: list[int] = []
    report = dispatch(job(store, digest_id, tmp_path), smtp(smtp_server, concurrency=2),
                      progress=lambda r, total: seen.append(total))
    assert (report.sent, report.skipped, report.deferred, report.bounced, report.stopped) == (
        40, 0, 0, 0, None)
    assert smtp_server.received() == {s.email: 1 for s in everyone}
    assert smtp_server.connections == 2
    assert seen == [40] * 40
    assert statuses(store, digest_id) == {"sent": 40}
    row = store.delivery(digest_id, everyone[0].id)
    assert row is not None and row.reply.startswith("250 2.0.0 Ok: queued as ")


def test_a_rerun_sends_only_to_those_not_yet_sent(store: Store, tmp_path: Path,
                                                  smtp_server: SMTPServer) -> None:
    everyone = people(store, 10)
    digest_id = digest_of(store)
    first = dispatch(job(store, digest_id, tmp_path), smtp(smtp_server, concurrency=1),
                     should_stop=lambda: len(smtp_server.messages) >= 4)
    assert (first.sent, first.stopped) == (4, STOP_REQUESTED)
    second = dispatch(job(store, digest_id, tmp_path), smtp(smtp_server, concurrency=1))
    assert (second.sent, second.stopped) == (6, None)
    assert smtp_server.received() == {s.email: 1 for s in everyone}


def test_a_temporary_failure_is_deferred_then_retried(store: Store, tmp_path: Path,
                                                      smtp_server: SMTPServer) -> None:
    ann, bob = people(store, 2)
    smtp_server.answer(ann.email, "451 4.3.0 try again later")
    digest_id, clock = digest_of(store), Clock()
    report = dispatch(job(store, digest_id, tmp_path, clock), smtp(smtp_server))
    assert (report.sent, report.deferred, report.bounced) == (1, 1, 0)
    assert report.next_attempt_at == NOW + timedelta(seconds=60)
    row = store.delivery(digest_id, ann.id)
    assert row is not None
    assert (row.status, row.attempts, row.next_attempt_at, row.reply) == (
        "deferred", 1, NOW + timedelta(seconds=60), "451 4.3.0 try again later")
    early = dispatch(job(store, digest_id, tmp_path, clock), smtp(smtp_server))
    assert (early.sent, early.deferred) == (0, 1)  # not due yet: nothing tried
    clock.now = NOW + timedelta(seconds=60)
    again = dispatch(job(store, digest_id, tmp_path, clock), smtp(smtp_server))
    assert again.next_attempt_at == clock.now + timedelta(seconds=120)  # backing off
    clock.now += timedelta(seconds=120)
    last = dispatch(job(store, digest_id, tmp_path, clock), smtp(smtp_server))
    assert (last.gave_up, last.deferred, last.bounced) == (1, 0, 0)  # the third was the last
    row = store.delivery(digest_id, ann.id)
    assert row is not None and (row.status, row.reply) == (
        "gave_up", "gave up after 3 attempts; the last reply: 451 4.3.0 try again later")
    assert len(smtp_server.refused) == 3 and smtp_server.received() == {bob.email: 1}
    found = store.get_subscriber_by_id(ann.id)
    assert found is not None and found.status == "active"  # a soft failure loses nobody


def test_a_retry_that_is_due_at_once_is_made_in_the_same_run(store: Store, tmp_path: Path,
                                                            smtp_server: SMTPServer) -> None:
    ann, _ = people(store, 2)
    smtp_server.answer(ann.email, "451 4.3.0 try again", times=1)
    digest_id = digest_of(store)
    now_policy = RetryPolicy(timedelta(0), max_attempts=3, max_consecutive_failures=5)
    report = dispatch(job(store, digest_id, tmp_path, policy=now_policy), smtp(smtp_server))
    assert (report.sent, report.deferred, report.bounced) == (2, 0, 0)
    row = store.delivery(digest_id, ann.id)
    assert row is not None and (row.status, row.attempts) == ("sent", 2)


def test_a_hard_bounce_fails_and_suppresses_later_digests(store: Store, tmp_path: Path,
                                                        smtp_server: SMTPServer) -> None:
    ann, bob = people(store, 2)
    smtp_server.answer(ann.email, "550 5.1.1 no such user")
    first = digest_of(store)
    report = dispatch(job(store, first, tmp_path), smtp(smtp_server))
    assert (report.sent, report.bounced, report.stopped) == (1, 1, None)
    found = store.get_subscriber_by_id(ann.id)
    assert found is not None and found.status == "bounced"
    later = digest_of(store, NOW + timedelta(days=7))
    dispatch(job(store, later, tmp_path), smtp(smtp_server))
    assert smtp_server.received() == {bob.email: 2}


def test_a_dropped_connection_is_retried_at_once(store: Store, tmp_path: Path,
                                                smtp_server: SMTPServer) -> None:
    everyone = people(store, 3)
    smtp_server.drop(everyone[1].email, times=1)
    digest_id = digest_of(store)
    report = dispatch(job(store, digest_id, tmp_path), smtp(smtp_server, concurrency=1))
    assert (report.sent, report.deferred) == (3, 0)
    assert smtp_server.received() == {s.email: 1 for s in everyone}
    assert smtp_server.connections == 2


def test_failures_in_a_row_stop_the_run(store: Store, tmp_path: Path,
                                        smtp_server: SMTPServer) -> None:
    everyone = people(store, 9)
    for subscriber in everyone:
        smtp_server.answer(subscriber.email, "554 5.7.1 relay access denied")
    digest_id = digest_of(store)
    report = dispatch(job(store, digest_id, tmp_path), smtp(smtp_server, concurrency=1))
    assert report.stopped == (
        "stopped: the server refused 5 recipients in a row (the last reply: 554 5.7.1 relay "
        "access denied), so nobody was marked bounced. Check the mail server and [delivery] in "
        "publisher.toml, then run `publisher digest send` again: it sends to everyone still "
        "owed the digest")
    assert (report.sent, report.bounced, report.gave_up, report.deferred) == (0, 0, 0, 5)
    assert statuses(store, digest_id) == {"deferred": 5}  # the other four were never tried
    assert {s.status for s in store.iter_subscribers()} == {"active"}
    rows = [store.delivery(digest_id, s.id) for s in everyone[:5]]
    assert {(r.attempts, r.next_attempt_at) for r in rows if r} == {(0, None)}  # due at once


def test_an_unsubscribe_during_the_send_is_honoured(store: Store, tmp_path: Path,
                                                    smtp_server: SMTPServer) -> None:
    everyone = people(store, 60)
    leaver = everyone[49]
    digest_id = digest_of(store)

    def unsubscribe(count: int, _message: object) -> None:
        if count == 10:
            with Store.open(f"sqlite:///{tmp_path / 'publisher.db'}") as other:
                other.set_subscriber_status(leaver.id, "unsubscribed", now=NOW)

    smtp_server.on_message(unsubscribe)
    report = dispatch(job(store, digest_id, tmp_path), smtp(smtp_server))
    assert (report.sent, report.skipped) == (59, 1)
    assert leaver.email not in smtp_server.received()
    row = store.delivery(digest_id, leaver.id)
    assert row is not None and (row.status, row.attempts) == ("skipped", 0)


def test_a_second_send_of_the_same_digest_is_refused(store: Store, tmp_path: Path,
                                                     smtp_server: SMTPServer) -> None:
    people(store, 2)
    digest_id = digest_of(store)
    with store.lock(f"send {digest_id}"), pytest.raises(DeliveryError) as caught:
        dispatch(job(store, digest_id, tmp_path), smtp(smtp_server))
    assert str(caught.value) == (
        f"digest {digest_id} is already being sent by another process\n"
        "  hint: wait for that run to finish (or for the workers sending it); it sends to "
        "everyone owed the digest")
    assert smtp_server.messages == [] and statuses(store, digest_id) == {}


def test_a_server_that_goes_away_stops_the_run_and_keeps_the_ledger(
        store: Store, tmp_path: Path) -> None:
    people(store, 6)
    digest_id = digest_of(store)
    server = SMTPServer().start()

    def go_away(count: int, _message: object) -> None:
        if count == 3:
            server.drop("p3@example.org")  # the connection drops...
            server.stop_listening()  # ...and no new one is accepted

    server.on_message(go_away)
    try:
        report = dispatch(job(store, digest_id, tmp_path), smtp(server, concurrency=1))
    finally:
        server.stop()
    assert report.sent == 3
    assert report.stopped is not None and report.stopped.startswith(
        f"cannot connect to the SMTP server 127.0.0.1:{server.port}: Connection refused")
    assert statuses(store, digest_id) == {"sent": 3, "pending": 1}  # sent again next run


def test_messages_parse_as_mail(store: Store, tmp_path: Path, smtp_server: SMTPServer) -> None:
    [ann] = people(store, 1)
    dispatch(job(store, digest_of(store), tmp_path), smtp(smtp_server))
    parsed = email.message_from_bytes(smtp_server.messages[0].data, policy=email.policy.default)
    assert parsed["To"] == ann.email


def test_the_configuration_offers_exactly_the_registered_transports() -> None:
    from typing import get_args

    from publisher.config import DeliverySettings
    from publisher.delivery import TRANSPORTS

    assert set(get_args(DeliverySettings.model_fields["transport"].annotation)) == set(TRANSPORTS)


class Accepting:
    """A transport that accepts every message, over two "connections"."""

    concurrency = 2

    def __enter__(self) -> Accepting:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, sender: str, recipient: str, message: bytes) -> str:
        return "250 ok"


def test_a_maker_sees_each_page_of_readers_before_their_messages(store: Store,
                                                                 tmp_path: Path) -> None:
    everyone = people(store, 1201)
    digest_id = digest_of(store)
    prepared: set[int] = set()
    pages: list[int] = []
    early: list[int] = []

    def prepare(page: Sequence[Subscriber]) -> None:
        pages.append(len(page))
        prepared.update(s.id for s in page)

    def make(subscriber: Subscriber) -> bytes:
        if subscriber.id not in prepared:
            early.append(subscriber.id)
        return message_for(subscriber)

    report = dispatch(Dispatch(store, digest_id, lambda s: SENDER, make, Clock(), POLICY,
                               prepare=prepare), Accepting())
    assert report.sent == 1201
    assert (pages, early) == ([500, 500, 201], [])
    assert prepared == {s.id for s in everyone}


def test_a_transport_used_again_sends_over_its_new_connections_only(
        smtp_server: SMTPServer) -> None:
    transport = smtp(smtp_server, concurrency=2)
    for run in range(2):
        with transport:
            for n in range(4):
                transport.send(SENDER, f"r{run}{n}@example.org", message_for(
                    Subscriber(n, f"r{run}{n}@example.org")))
    assert smtp_server.connections == 4  # two a run: none reopened for a closed one
    assert sum(smtp_server.received().values()) == 8
