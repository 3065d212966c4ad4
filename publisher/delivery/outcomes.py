"""What one run records for each message, and the breaker that protects the readers.

`Outcomes` is shared by a run's sending threads. It writes each outcome to the
ledger, keeps the run's totals, and holds refusals (hard bounces and refusals
of the sender) until the server accepts another message: then they are
settled (a bounce suppresses its reader; a sender refusal is deferred). When
`max_consecutive_failures` refusals come with no acceptance between them,
the run stops and the held rows are released, so that nobody is marked
bounced by a server that refuses everyone. (Refusals at the very end of the
list, fewer than that, are settled by `end_of_walk`.)
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from publisher.delivery.ledger import Dispatch, Progress, SendReport
from publisher.delivery.pace import Governor
from publisher.delivery.replies import Kind, classify
from publisher.delivery.transport import SendFailure, TemporaryFailure
from publisher.models import DeliveryReport, Subscriber
from publisher.text import plural

LAST_REPLY = "; the last reply: "


@dataclass(frozen=True, slots=True)
class _Held:
    subscriber: Subscriber
    kind: Kind  # "hard" or "sender"
    reply: str


class Outcomes:
    """Records outcomes and decides when a run must stop; safe to call from threads."""

    def __init__(self, job: Dispatch, total: int, governor: Governor,
                 progress: Progress | None) -> None:
        self.job, self.total, self.governor = job, total, governor
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self.retries: dict[int, datetime] = {}  # subscriber id -> when their row is due again
        self.retries_made = 0
        self.held: list[_Held] = []
        self.refusals = 0  # refusals since the server last accepted a message
        self.unanswered = 0  # uncertain outcomes in a row
        self.stopped: str | None = None
        self._lock = threading.Lock()

    # -- what the server said -------------------------------------------------------

    def accepted(self, subscriber: Subscriber, answer: str) -> None:
        job = self.job
        job.store.mark_sent(job.digest_id, subscriber.id, answer, now=job.clock())
        self.governor.accepted()
        with self._lock:
            confirmed, self.held = self.held, []
            self.refusals = self.unanswered = 0
        for held in confirmed:  # the server works: its refusals were meant
            self._settle(held)
        self._record(subscriber, "sent")

    def refused(self, subscriber: Subscriber, failure: SendFailure) -> None:
        """A reply other than 250, or a connection lost before the data was sent."""
        lost = isinstance(failure, TemporaryFailure) and failure.code is None
        kind: Kind = "soft" if lost else classify(failure.reply, failure.code)
        if kind == "throttle":
            self.governor.throttled()
        if kind in ("soft", "throttle"):
            self.defer(subscriber, failure.reply)
            return
        with self._lock:
            self.held.append(_Held(subscriber, kind, failure.reply))
            self.refusals += 1
            tripped = self.refusals >= self.job.policy.max_consecutive_failures
            if tripped:
                released, self.held = self.held, []
                self.stop(_breaker_message(self.refusals, failure.reply))
        if tripped:
            self._release(released)

    def uncertain(self, subscriber: Subscriber, reply: str) -> None:
        """No answer after the data: retried once, after the delay (or never)."""
        job = self.job
        now = job.clock()
        row = job.store.delivery(job.digest_id, subscriber.id)
        attempts = (row.attempts if row else 0) + 1
        again = job.policy.retry_uncertain and (row.uncertain if row else 0) == 0
        due = job.policy.retry_at(attempts, now) if again else None
        job.store.mark_uncertain(job.digest_id, subscriber.id, reply, due, now=now)
        with self._lock:
            self.unanswered += 1
            if self.unanswered >= job.policy.max_consecutive_failures:
                self.stop(f"stopped after {self.unanswered} messages in a row got no answer "
                          f"after their data ({reply}); they may have arrived and are not sent "
                          "again at once. Check the mail server, or raise [delivery] timeout")
        self._record(subscriber, "uncertain", due=due)

    def skipped(self, subscriber: Subscriber, reason: str | None = None) -> None:
        if reason is None:
            self.job.store.mark_skipped(self.job.digest_id, subscriber.id, now=self.job.clock())
        else:
            self.job.store.mark_skipped(self.job.digest_id, subscriber.id, now=self.job.clock(),
                                        reason=reason)
        self._record(subscriber, "skipped")

    def bounced(self, subscriber: Subscriber, reply: str) -> None:
        self.job.store.mark_bounced(self.job.digest_id, subscriber.id, reply,
                                    now=self.job.clock())
        self._record(subscriber, "bounced")

    # -- settling -------------------------------------------------------------------

    def defer(self, subscriber: Subscriber, reply: str) -> None:
        """Try again later; after `max_attempts`, give up (the reader stays on the list)."""
        job = self.job
        now = job.clock()
        row = job.store.delivery(job.digest_id, subscriber.id)
        attempts = (row.attempts if row else 0) + 1
        if attempts >= job.policy.max_attempts:
            reply = f"gave up after {plural(attempts, 'attempt')}{LAST_REPLY}{reply}"
            job.store.mark_gave_up(job.digest_id, subscriber.id, reply, now=now)
            self._record(subscriber, "gave_up")
            self._suppress_if_always_failing(subscriber, now)
            return
        due = job.policy.retry_at(attempts, now)
        job.store.mark_deferred(job.digest_id, subscriber.id, reply, due, now=now)
        self._record(subscriber, "deferred", due=due)

    def _settle(self, held: _Held) -> None:
        if held.kind == "hard":
            self.bounced(held.subscriber, held.reply)
        else:  # the sender was refused: never the reader's fault
            self.defer(held.subscriber, held.reply)

    def end_of_walk(self) -> None:
        """Refusals still held when the walk ends (the last of the list): fewer than would
        trip the breaker. A hard bounce stands if the server has taken messages of this
        digest, in this run or an earlier one; otherwise it is deferred, to be tried again.
        If the run stopped, they are released: the next run tries them at once."""
        with self._lock:
            unconfirmed, self.held = self.held, []
        if self.stopped is not None:
            self._release(unconfirmed)
            return
        works = self.counts["sent"] > 0 or (bool(unconfirmed) and self.job.store.delivery_counts(
            self.job.digest_id)["sent"] > 0)
        for held in unconfirmed:
            if held.kind == "hard" and works:
                self.bounced(held.subscriber, held.reply)
            else:
                self.defer(held.subscriber, held.reply)

    def _release(self, rows: list[_Held]) -> None:
        for held in rows:
            self.job.store.release(self.job.digest_id, held.subscriber.id, held.reply,
                                   now=self.job.clock())
            self._record(held.subscriber, "released", due=self.job.clock())

    def _suppress_if_always_failing(self, subscriber: Subscriber, now: datetime) -> None:
        """Soft failures suppress a reader only when the last `soft_bounce_digests` digests
        all gave up on them, over at least `soft_bounce_days` days."""
        policy = self.job.policy
        if policy.soft_bounce_digests <= 0:
            return
        rows = list(self.job.store.recent_outcomes(subscriber.id, policy.soft_bounce_digests))
        if len(rows) < policy.soft_bounce_digests or any(
                r.status != "gave_up" or _last_kind(r.reply) == "sender" for r in rows):
            return
        if now - rows[-1].updated_at < timedelta(days=policy.soft_bounce_days):
            return
        days = (now - rows[-1].updated_at).days
        self.job.store.suppress_subscriber(
            subscriber.id, "bounced", f"soft bounces: the last {len(rows)} digests over "
            f"{days} days gave up{LAST_REPLY}{rows[0].reply.partition(LAST_REPLY)[2]}", now=now)

    # -- the run's state ------------------------------------------------------------

    def stop(self, reason: str) -> None:
        if self.stopped is None:
            self.stopped = reason

    def retry_due(self, now: datetime) -> bool:
        return any(due <= now for due in self.retries.values())

    def _record(self, subscriber: Subscriber, outcome: str, *,
                due: datetime | None = None) -> None:
        with self._lock:
            self.counts[outcome] += 1
            if due is not None:
                self.retries[subscriber.id] = due
                self.retries_made += 1
            else:
                self.retries.pop(subscriber.id, None)
            if self.progress is not None:
                self.progress(self.running(), self.total)

    def running(self) -> DeliveryReport:
        c = self.counts
        return DeliveryReport(self.job.digest_id, sent=c["sent"], skipped=c["skipped"],
                              deferred=c["deferred"], uncertain=c["uncertain"],
                              gave_up=c["gave_up"], bounced=c["bounced"], stopped=self.stopped)

    def report(self) -> SendReport:
        c, store, digest_id = self.counts, self.job.store, self.job.digest_id
        waiting = store.delivery_counts(digest_id)["deferred"]
        return SendReport(digest_id, sent=c["sent"], skipped=c["skipped"], deferred=waiting,
                          uncertain=c["uncertain"], gave_up=c["gave_up"], bounced=c["bounced"],
                          stopped=self.stopped, next_attempt_at=store.next_attempt(digest_id))


def _last_kind(reply: str) -> Kind:
    return classify(reply.partition(LAST_REPLY)[2] or reply)


def _breaker_message(refusals: int, reply: str) -> str:
    return (f"stopped: the server refused {refusals} recipients in a row (the last reply: "
            f"{reply}), so nobody was marked bounced. Check the mail server and [delivery] in "
            "publisher.toml, then run `publisher digest send` again: it sends to everyone "
            "still owed the digest")
