"""Servers that misbehave, scripted per recipient: what the ledger says, who stays on the list,
and exactly how many copies the server took."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from publisher.delivery.dispatcher import Dispatch, RetryPolicy, SendReport, dispatch
from publisher.delivery.pace import Governor
from publisher.delivery.replies import classify
from publisher.models import Subscriber
from publisher.store.database import NewSubscriber, Store
from tests.conftest import NOW
from tests.delivery.test_dispatcher import SENDER, Clock, message_for, smtp
from tests.smtp_server import EVERYONE, SMTPServer

NOW_POLICY = RetryPolicy(timedelta(0), max_attempts=3, max_consecutive_failures=10)
LATER_POLICY = RetryPolicy(timedelta(seconds=60), max_attempts=3, max_consecutive_failures=10)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'publisher.db'}") as opened:
        yield opened


def readers(store: Store, count: int) -> list[Subscriber]:
    store.add_subscribers([NewSubscriber(f"r{i}@example.org") for i in range(count)], now=NOW)
    return list(store.iter_subscribers())


def send(store: Store, tmp_path: Path, server: SMTPServer, policy: RetryPolicy, *,
         clock: Clock | None = None, governor: Governor | None = None, timeout: float = 5,
         concurrency: int = 2) -> tuple[str, SendReport]:
    digest_id = store.create_digest("weekly", NOW, now=NOW, article_ids=["a"], subject="S").id
    job = Dispatch(store, digest_id, lambda s: SENDER, message_for, clock or Clock(), policy)
    report = dispatch(job, smtp(server, concurrency=concurrency, timeout=timeout),
                      governor=governor)
    return digest_id, report


def again(store: Store, digest_id: str, tmp_path: Path, server: SMTPServer,
          policy: RetryPolicy, clock: Clock, timeout: float = 5) -> SendReport:
    job = Dispatch(store, digest_id, lambda s: SENDER, message_for, clock, policy)
    return dispatch(job, smtp(server, concurrency=1, timeout=timeout))


def statuses(store: Store, digest_id: str) -> dict[str, int]:
    return {k: v for k, v in store.delivery_counts(digest_id).items() if v}


def active(store: Store) -> int:
    return store.count_subscribers("active")


def test_replies_are_classified_by_their_enhanced_status_code() -> None:
    assert {reply: classify(reply) for reply in (
        "550 5.1.1 <ann@example.org>: user unknown", "550 5.2.1 mailbox disabled",
        "452 4.2.2 mailbox full", "552 5.2.2 over quota", "451 4.3.0 try again later",
        "451 4.7.1 greylisted, come back later", "550 5.7.1 relaying denied",
        "554 5.7.1 message refused as spam", "554 transaction failed", "552 5.3.4 too big",
        "421 4.7.0 too many connections", "451 4.7.28 unusual rate of mail",
        "454 4.7.0 throttling", "550 no such user",
    )} == {
        "550 5.1.1 <ann@example.org>: user unknown": "hard",
        "550 5.2.1 mailbox disabled": "hard",
        "452 4.2.2 mailbox full": "soft", "552 5.2.2 over quota": "soft",
        "451 4.3.0 try again later": "soft", "451 4.7.1 greylisted, come back later": "soft",
        "550 5.7.1 relaying denied": "sender", "554 5.7.1 message refused as spam": "sender",
        "554 transaction failed": "sender", "552 5.3.4 too big": "sender",
        "421 4.7.0 too many connections": "throttle",
        "451 4.7.28 unusual rate of mail": "throttle", "454 4.7.0 throttling": "throttle",
        "550 no such user": "hard",
    }


def test_a_server_that_always_defers_loses_nobody(store: Store, tmp_path: Path) -> None:
    everyone = readers(store, 200)
    greylisted = {s.email for s in everyone[::10]}  # 10 %
    with SMTPServer() as server:
        for address in greylisted:
            server.answer(address, "451 4.3.0 try again later")
        digest_id, report = send(store, tmp_path, server, NOW_POLICY)
    assert (report.sent, report.gave_up, report.bounced, report.stopped) == (
        180, 20, 0, None)
    assert statuses(store, digest_id) == {"sent": 180, "gave_up": 20}
    assert active(store) == 200
    assert server.received() == {s.email: 1 for s in everyone if s.email not in greylisted}
    assert len(server.refused) == 20 * 3  # three attempts each, never more


def test_a_full_mailbox_is_deferred_not_bounced(store: Store, tmp_path: Path) -> None:
    ann, bob = readers(store, 2)
    with SMTPServer() as server:
        server.answer(ann.email, "452 4.2.2 mailbox full")
        digest_id, report = send(store, tmp_path, server, LATER_POLICY)
    row = store.delivery(digest_id, ann.id)
    assert row is not None and (row.status, row.attempts, row.reply) == (
        "deferred", 1, "452 4.2.2 mailbox full")
    assert report.next_attempt_at == NOW + timedelta(seconds=60)
    assert active(store) == 2 and server.received() == {bob.email: 1}


def test_421_slows_the_whole_run_then_the_message_goes(store: Store, tmp_path: Path) -> None:
    everyone = readers(store, 6)
    moments, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        moments[0] += seconds

    governor = Governor(0, 2, pause=5.0, monotonic=lambda: moments[0], sleep=sleep)
    with SMTPServer() as server:
        server.answer(everyone[2].email, "421 4.7.0 too many connections, slow down", times=1)
        digest_id, report = send(store, tmp_path, server, NOW_POLICY, governor=governor)
    assert (report.sent, report.deferred, report.gave_up) == (6, 0, 0)
    assert server.received() == {s.email: 1 for s in everyone}
    assert (governor.throttles, governor.connections) == (1, 1)  # one in flight, not two
    assert sum(slept) == pytest.approx(5.0)  # everyone waited out the pause
    assert 0 < governor.rate < 1e6  # and the run went on at half its pace
    row = store.delivery(digest_id, everyone[2].id)
    assert row is not None and (row.status, row.attempts) == ("sent", 2)


def test_a_hard_bounce_suppresses_only_its_reader(store: Store, tmp_path: Path) -> None:
    everyone = readers(store, 5)
    with SMTPServer() as server:
        server.answer(everyone[3].email, "550 5.1.1 <r3@example.org>: user unknown")
        digest_id, report = send(store, tmp_path, server, NOW_POLICY)
    assert (report.sent, report.bounced) == (4, 1)
    assert statuses(store, digest_id) == {"sent": 4, "bounced": 1}
    assert [s.email for s in store.iter_subscribers("bounced")] == ["r3@example.org"]
    assert server.received() == {s.email: 1 for s in everyone if s.email != "r3@example.org"}


def test_a_relay_that_refuses_everyone_bounces_nobody_and_the_fix_sends_to_all(
        store: Store, tmp_path: Path) -> None:
    everyone = readers(store, 40)
    with SMTPServer() as server:
        server.answer(EVERYONE, "550 5.7.1 <r0@example.org>: Relay access denied")
        digest_id, report = send(store, tmp_path, server, NOW_POLICY, concurrency=1)
        assert report.stopped is not None and report.stopped.startswith(
            "stopped: the server refused 10 recipients in a row (the last reply: 550 5.7.1 "
            "<r0@example.org>: Relay access denied), so nobody was marked bounced.")
        assert active(store) == 40 and server.messages == []
        server.answer(EVERYONE, "250 2.1.5 OK", times=0)  # the relay is fixed
        fixed = again(store, digest_id, tmp_path, server, NOW_POLICY, Clock())
    assert (fixed.sent, fixed.stopped) == (40, None)
    assert server.received() == {s.email: 1 for s in everyone}
    assert statuses(store, digest_id) == {"sent": 40}


def test_deferrals_never_trip_the_breaker(store: Store, tmp_path: Path) -> None:
    everyone = readers(store, 30)
    with SMTPServer() as server:
        for subscriber in everyone[:25]:  # more in a row than max_consecutive_failures
            server.answer(subscriber.email, "451 4.3.0 greylisted")
        digest_id, report = send(store, tmp_path, server, LATER_POLICY, concurrency=1)
    assert (report.stopped, report.sent, report.deferred) == (None, 5, 25)
    assert statuses(store, digest_id) == {"sent": 5, "deferred": 25}


def test_a_server_slower_than_the_timeout_gets_one_copy_then_at_most_one_more(
        store: Store, tmp_path: Path) -> None:
    ann, bob = readers(store, 2)
    clock = Clock()
    with SMTPServer() as server:
        server.answer_late(ann.email, 1.0)
        digest_id, report = send(store, tmp_path, server, LATER_POLICY, clock=clock,
                                 timeout=0.3, concurrency=1)
        assert (report.sent, report.uncertain) == (1, 1)
        assert server.received() == {ann.email: 1, bob.email: 1}  # not resent at once
        row = store.delivery(digest_id, ann.id)
        assert row is not None and (row.status, row.next_attempt_at, row.reply) == (
            "uncertain", NOW + timedelta(seconds=60),
            "no reply after the message was sent (timed out); the server may have accepted it")
        clock.now += timedelta(seconds=60)
        retry = again(store, digest_id, tmp_path, server, LATER_POLICY, clock, timeout=0.3)
        clock.now += timedelta(days=1)
        last = again(store, digest_id, tmp_path, server, LATER_POLICY, clock, timeout=0.3)
    assert (retry.uncertain, last.sent, last.uncertain) == (1, 0, 0)
    assert server.received() == {ann.email: 2, bob.email: 1}  # one duplicate, never more
    assert statuses(store, digest_id) == {"sent": 1, "uncertain": 1} and active(store) == 2


def test_a_connection_dropped_after_the_data_is_uncertain_not_resent(
        store: Store, tmp_path: Path) -> None:
    everyone = readers(store, 3)
    policy = RetryPolicy(timedelta(0), 3, 10, retry_uncertain=False)
    with SMTPServer() as server:
        server.drop_after_data(everyone[1].email)
        digest_id, report = send(store, tmp_path, server, policy, concurrency=1)
    assert (report.sent, report.uncertain) == (2, 1)
    assert server.received() == {s.email: 1 for s in everyone}  # the server had it
    row = store.delivery(digest_id, everyone[1].id)
    assert row is not None and (row.status, row.next_attempt_at) == ("uncertain", None)
    assert active(store) == 3


def test_a_hard_bounce_at_the_end_of_the_list_still_counts(store: Store, tmp_path: Path) -> None:
    everyone = readers(store, 3)
    with SMTPServer() as server:
        server.answer(everyone[-1].email, "550 5.1.1 no such user")
        digest_id, report = send(store, tmp_path, server, NOW_POLICY, concurrency=1)
    assert (report.sent, report.bounced, report.deferred) == (2, 1, 0)
    assert statuses(store, digest_id) == {"sent": 2, "bounced": 1}


SOFT_POLICY = RetryPolicy(timedelta(0), max_attempts=1, max_consecutive_failures=10,
                          soft_bounce_digests=3, soft_bounce_days=10)


def digests_on(store: Store, server: SMTPServer, days: list[timedelta],
               policy: RetryPolicy = SOFT_POLICY) -> list[SendReport]:
    """One digest on each of `days` after NOW, sent at its due time."""
    reports = []
    for day in days:
        clock = Clock(NOW + day)
        digest_id = store.create_digest("daily", NOW + day, now=clock(), article_ids=["a"],
                                        subject="S").id
        job = Dispatch(store, digest_id, lambda s: SENDER, message_for, clock, policy)
        reports.append(dispatch(job, smtp(server, concurrency=1)))
    return reports


@pytest.mark.parametrize(("last_day", "kept"), [
    (timedelta(days=9, hours=23, minutes=59), True),  # three give-ups, not yet ten days
    (timedelta(days=10), False),  # three give-ups over ten days: the mailbox is gone
])
def test_soft_failures_suppress_only_after_enough_digests_and_days(
        store: Store, last_day: timedelta, kept: bool) -> None:
    full, fine = readers(store, 2)
    with SMTPServer() as server:
        server.answer(full.email, "452 4.2.2 mailbox full")
        reports = digests_on(store, server, [timedelta(0), timedelta(days=5), last_day])
    assert [r.gave_up for r in reports] == [1, 1, 1]
    assert store.get_subscriber_by_id(fine.id).status == "active"  # type: ignore[union-attr]
    found = store.get_subscriber_by_id(full.id)
    assert found is not None
    assert found.status == ("active" if kept else "bounced")
    if not kept:
        assert found.status_reason is not None
        assert found.status_reason.startswith("soft bounces: the last 3 digests over 10 days")
        assert "452 4.2.2 mailbox full" in found.status_reason


def test_one_delivery_between_soft_failures_keeps_the_reader(store: Store) -> None:
    (flaky,) = readers(store, 1)
    days = [timedelta(days=d) for d in (0, 6, 12, 18)]
    with SMTPServer() as server:
        server.answer(flaky.email, "451 4.3.0 try again later", times=2)
        reports = digests_on(store, server, days[:3])  # the third goes through
        server.answer(flaky.email, "451 4.3.0 try again later")
        reports += digests_on(store, server, days[3:])
    assert [(r.sent, r.gave_up) for r in reports] == [(0, 1), (0, 1), (1, 0), (0, 1)]
    assert store.get_subscriber_by_id(flaky.id).status == "active"  # type: ignore[union-attr]


def test_soft_suppression_can_be_turned_off(store: Store) -> None:
    (full,) = readers(store, 1)
    never = RetryPolicy(timedelta(0), max_attempts=1, max_consecutive_failures=10,
                        soft_bounce_digests=0)
    with SMTPServer() as server:
        server.answer(full.email, "452 4.2.2 mailbox full")
        digests_on(store, server, [timedelta(days=d) for d in range(0, 60, 6)], never)
    assert store.get_subscriber_by_id(full.id).status == "active"  # type: ignore[union-attr]
