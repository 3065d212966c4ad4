"""Bounces, complaints and unsubscribe requests that came back by mail, applied to the list.

Each report is tied to the message it concerns by its return-path token
(signed: it names the digest and the subscriber) or else by the returned
message's Message-ID (`<digest.subscriber@our host>`), which is only trusted
when the ledger says that message was sent and the report names that
subscriber's address. Then:

- a hard bounce (5.1.x and the like, or a bounce without a code) marks the row
  bounced and suppresses the address; a later soft or sender-side failure marks
  it gave up (the relay gave up; the reader stays);
- a complaint marks the row complained and suppresses the address;
- an unsubscribe request with a valid unsubscribe token unsubscribes;
- a delay notice changes nothing.

Every change is conditional, so processing the same mail twice changes
nothing. Mail that cannot be read, matched or verified is counted with its
reason and left alone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from publisher.delivery.replies import classify
from publisher.errors import TokenError
from publisher.mail.mailboxes import Incoming
from publisher.mail.reports import Addresses, Report, Unreadable, read_reports
from publisher.models import Clock, Subscriber
from publisher.store.database import Store
from publisher.store.records import address_key
from publisher.subscribers.tokens import read_bounce_token, read_unsubscribe_token

_UNSUBSCRIBE_TOKEN = re.compile(r"\b([0-9]{1,19}\.[A-Za-z0-9_-]{20,})\b")
SENT = ("sent", "uncertain", "pending", "deferred", "gave_up", "bounced", "complained")


@dataclass(frozen=True, slots=True)
class Matcher:
    """What tying a report to a message needs."""

    secret: str
    host: str  # the Message-ID domain
    addresses: Addresses


@dataclass
class BounceReport:
    """What a run did: messages by outcome, and the reasons for those left alone."""

    messages: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # recorded, already recorded, ...
    left: list[tuple[str, str]] = field(default_factory=list)  # (label, why)


CHUNK = 200  # messages applied in one transaction: one commit each, not one per message


def process(store: Store, mail: Iterable[Incoming], matcher: Matcher, clock: Clock
            ) -> BounceReport:
    """Read every message, apply what it says, mark the handled ones; see the docstring.

    Messages are parsed outside the database, then applied `CHUNK` at a time in
    one transaction; they are marked handled only once it is committed, so a run
    stopped half-way leaves unhandled only mail whose effect was not recorded
    (and applying a report again changes nothing).
    """
    report = BounceReport()
    chunk: list[tuple[Incoming, list[Report] | str]] = []
    for incoming in mail:
        chunk.append((incoming, _read(incoming, matcher.addresses)))
        if len(chunk) == CHUNK:
            _apply_chunk(store, chunk, matcher, clock(), report)
            chunk = []
    if chunk:
        _apply_chunk(store, chunk, matcher, clock(), report)
    return report


def _read(incoming: Incoming, addresses: Addresses) -> list[Report] | str:
    """The reports in one message, or why it is left alone."""
    try:
        reports = read_reports(incoming.raw, addresses)
    except Unreadable as exc:
        return f"unreadable: {exc}"
    return reports or "not a bounce, a complaint or an unsubscribe request"


def _apply_chunk(store: Store, chunk: list[tuple[Incoming, list[Report] | str]],
                 matcher: Matcher, now: datetime, report: BounceReport) -> None:
    with store.batch():
        outcomes = [_one(store, reports, matcher, now) for _, reports in chunk]
    for (incoming, _), outcome in zip(chunk, outcomes, strict=True):
        report.messages += 1
        if outcome in ("recorded", "already recorded", "delay"):
            report.outcomes[outcome] += 1
            incoming.mark_handled()
        else:
            report.outcomes["left alone"] += 1
            report.left.append((incoming.label, outcome))


def _one(store: Store, reports: list[Report] | str, matcher: Matcher, now: datetime) -> str:
    """What one message came to: recorded, already recorded, delay, or why it was left."""
    if isinstance(reports, str):
        return reports
    results = [_apply(store, r, matcher, now) for r in reports]
    for wanted in ("recorded", "already recorded", "delay"):
        if wanted in results:
            return wanted
    return results[0]


def _apply(store: Store, report: Report, matcher: Matcher, now: datetime) -> str:
    if report.kind == "unsubscribe":
        return _unsubscribe(store, report, matcher, now)
    found = _message_of(store, report, matcher)
    if isinstance(found, str):
        return found
    digest_id, subscriber = found
    if report.kind == "delay":
        return "delay"
    status = "complained" if report.kind == "complaint" else _bounce_status(report)
    if store.record_report(digest_id, subscriber.id, status, report.reply, now=now):
        return "recorded"
    return "already recorded"


def _bounce_status(report: Report) -> str:
    if not report.status:
        return "bounced"  # the detectors report permanent failures
    kind = classify(f"{report.status[0]}00 {report.status} {report.diagnostic}")
    return "bounced" if kind == "hard" else "gave_up"


def _message_of(store: Store, report: Report, matcher: Matcher
                ) -> tuple[str, Subscriber] | str:
    """(digest id, subscriber) of the message a report is about, or why it cannot be said."""
    forged = ""
    for token in report.tokens:
        try:
            return read_bounce_token(matcher.secret, token, store.get_subscriber_by_id)
        except TokenError as exc:
            forged = f"return path not ours: {exc.problem.message}"
    for message_id in report.message_ids:
        found = _by_message_id(store, message_id, matcher.host)
        if found is None:
            continue
        subscriber = found[1]
        if report.recipient and address_key(report.recipient) != address_key(subscriber.email):
            return (f"the report names {report.recipient}, but message {message_id} went to "
                    "someone else; not trusted")
        return found
    if forged:
        return forged
    if report.message_ids:
        return "about a message this site did not send (" + report.message_ids[0] + ")"
    return "nothing in it says which message it is about"


def _by_message_id(store: Store, message_id: str, host: str) -> tuple[str, Subscriber] | None:
    left, _, domain = message_id.rpartition("@")
    digest_id, _, number = left.rpartition(".")
    if domain.lower() != host.lower() or not number.isdigit() or not digest_id:
        return None
    subscriber = store.get_subscriber_by_id(int(number))
    row = store.delivery(digest_id, int(number)) if subscriber else None
    if subscriber is None or row is None or row.status not in SENT:
        return None
    return digest_id, subscriber


def _unsubscribe(store: Store, report: Report, matcher: Matcher, now: datetime) -> str:
    token = _UNSUBSCRIBE_TOKEN.search(report.diagnostic)
    if token is None:
        return ("an unsubscribe request without its token (written by hand?); use "
                "`publisher subscribers unsubscribe ADDRESS` if it is genuine")
    try:
        subscriber = read_unsubscribe_token(matcher.secret, token.group(1),
                                            store.get_subscriber_by_id)
    except TokenError:
        return "an unsubscribe request whose token is not valid"
    if subscriber.status == "unsubscribed":
        return "already recorded"
    store.set_subscriber_status(subscriber.id, "unsubscribed", now=now,
                                reason="asked by mail (List-Unsubscribe)")
    return "recorded"
