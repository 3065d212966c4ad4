"""Walk a digest's recipients against the ledger and hand each message to a transport.

For each subscriber still owed the digest: build the message, `claim` the
ledger row (committed as pending, and refused if the subscriber left or
bounced meanwhile: skipped), send, then record what the server said. So a
crash at any moment leaves at most the messages in flight as pending, and the
next run sends those again and nobody else twice.

- 4xx or a dropped connection: a dropped connection is retried at once on a
  fresh one; otherwise the row is deferred to `retry_base × 2^(attempts-1)`
  later. After the walk, rows whose time has come are walked again; the run
  ends when only rows due in the future remain (the report says when), and the
  next run takes them. After `max_attempts` the row fails.
- 5xx: the row fails and the store marks the subscriber bounced.
- `max_consecutive_failures` failures in a row stop the run with a message,
  rather than marking a whole list bounced because a server refuses everything.
- `should_stop()` is asked between messages; the run stops with every message
  in hand recorded.

A lock per digest keeps two runs of one digest from overlapping: `claim` takes
over pending rows, which is right only when the process that left them is dead.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from publisher.delivery.transport import PermanentFailure, TemporaryFailure, Transport
from publisher.errors import DeliveryError, PublisherError, SubscriberError
from publisher.lock import LockBusy, file_lock
from publisher.models import Clock, DeliveryReport, Subscriber

Progress = Callable[[DeliveryReport, int], None]
"""Called after each message with this run's totals so far and how many were owed at the start."""
MessageMaker = Callable[[Subscriber], bytes]

STOP_REQUESTED = "stopped on request; the next `publisher digest send` goes on from here"


@dataclass(frozen=True, slots=True)
class SendReport(DeliveryReport):
    """A delivery report that also says when the earliest deferred message is due again.

    `sent`, `skipped` and `failed` count this run's outcomes; `deferred` counts the
    ledger rows still waiting for a retry when the run ended.
    """

    next_attempt_at: datetime | None = None


class Attempts(Protocol):
    """A ledger row as the dispatcher reads it."""

    @property
    def attempts(self) -> int: ...


class Ledger(Protocol):
    """The ledger operations the dispatcher needs; `publisher.store.Store` provides them."""

    def count_recipients(self, digest_id: str, *, now: datetime) -> int: ...

    def recipients(self, digest_id: str, *, now: datetime) -> Iterator[Subscriber]: ...

    def claim(self, digest_id: str, subscriber_id: int, *, now: datetime) -> bool: ...

    def mark_sent(self, digest_id: str, subscriber_id: int, reply: str, *,
                  now: datetime) -> bool: ...

    def mark_deferred(self, digest_id: str, subscriber_id: int, reply: str,
                      next_attempt_at: datetime, *, now: datetime) -> int: ...

    def mark_failed(self, digest_id: str, subscriber_id: int, reply: str, *,
                    now: datetime) -> bool: ...

    def delivery(self, digest_id: str, subscriber_id: int) -> Attempts | None: ...

    def delivery_counts(self, digest_id: str) -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retry_base: timedelta
    max_attempts: int
    max_consecutive_failures: int

    def retry_at(self, attempts: int, now: datetime) -> datetime:
        """When to try again after the n-th failed attempt: base, 2 × base, 4 × base..."""
        return now + self.retry_base * (1 << max(attempts - 1, 0))


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One digest to send: its ledger, its envelope sender and how to make each message."""

    store: Ledger
    digest_id: str
    sender: str
    make_message: MessageMaker
    clock: Clock
    policy: RetryPolicy
    lock_path: Path


def dispatch(job: Dispatch, transport: Transport, *, pace: Callable[[], None] | None = None,
             should_stop: Callable[[], bool] | None = None,
             progress: Progress | None = None) -> SendReport:
    """Send the digest to everyone still owed it; see the module's docstring for the rules."""
    try:
        with file_lock(job.lock_path, wait=False):
            total = job.store.count_recipients(job.digest_id, now=job.clock())
            run = _Run(job, transport, total, pace, should_stop, progress)
            if total:
                with transport:
                    run.all_passes(transport.concurrency)
            return run.report()
    except LockBusy:
        raise DeliveryError(f"digest {job.digest_id} is already being sent by another process",
                            hint="wait for that run to finish; it sends to everyone owed the "
                            "digest") from None


class _Run:
    """The state of one run: totals, the failure streak, and why it stopped."""

    def __init__(self, job: Dispatch, transport: Transport, total: int,
                 pace: Callable[[], None] | None, should_stop: Callable[[], bool] | None,
                 progress: Progress | None) -> None:
        self.job, self.transport, self.total = job, transport, total
        self.pace = pace or (lambda: None)
        self.should_stop = should_stop or (lambda: False)
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self.retries: dict[int, datetime] = {}  # subscriber id -> when their row is due again
        self.streak = 0
        self.stopped: str | None = None
        self.crash: BaseException | None = None
        self._lock = threading.Lock()

    def all_passes(self, concurrency: int) -> None:
        """Walk the list; walk again while rows deferred in the last walk are already due."""
        while True:
            deferred_before = self.counts["deferred"]
            recipients = self.job.store.recipients(self.job.digest_id, now=self.job.clock())
            if concurrency > 1:
                self._walk_parallel(recipients, concurrency)
            else:
                for subscriber in recipients:
                    if self.stopping():
                        break
                    self.deliver_guarded(subscriber)
            if self.crash is not None:
                raise self.crash
            now = self.job.clock()
            if self.stopped or self.counts["deferred"] == deferred_before or not any(
                    due <= now for due in self.retries.values()):
                return

    def _walk_parallel(self, recipients: Iterable[Subscriber], workers: int) -> None:
        """`workers` threads, each taking the next subscriber from the shared walk.

        No producer thread and no queue: each thread holds one subscriber at a time,
        so at most `workers` messages are in flight, and a thread wakes only on its
        own socket.
        """
        walk = iter(recipients)
        taking = threading.Lock()

        def work() -> None:
            while True:
                with taking:
                    if self.stopping():
                        return
                    try:
                        subscriber = next(walk, None)
                    except BaseException as exc:  # the store failed while fetching a page
                        self.guard(exc)
                        return
                if subscriber is None:
                    return
                self.deliver_guarded(subscriber)

        threads = [threading.Thread(target=work, name=f"send-{n}") for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stopping(self) -> bool:
        if self.stopped is None and self.should_stop():
            self.stop(STOP_REQUESTED)
        return self.stopped is not None

    def stop(self, reason: str) -> None:
        if self.stopped is None:
            self.stopped = reason

    def deliver_guarded(self, subscriber: Subscriber) -> None:
        """`deliver`, with an error that ends the run turned into its stop reason."""
        try:
            self.deliver(subscriber)
        except BaseException as exc:
            self.guard(exc)

    def guard(self, exc: BaseException) -> None:
        """A user-facing error becomes the stop reason; anything else is raised after the walk."""
        if isinstance(exc, PublisherError):
            self.stop(str(exc))
        else:
            self.crash = exc
            self.stop(f"unexpected error: {exc!r}")

    def deliver(self, subscriber: Subscriber) -> None:
        if self.stopping():
            return
        self.pace()
        job = self.job
        try:
            message = job.make_message(subscriber)
        except SubscriberError as exc:
            message, unusable = b"", exc.problem.message
        else:
            unusable = ""
        if not job.store.claim(job.digest_id, subscriber.id, now=job.clock()):
            self.record(subscriber, "skipped")
            return
        if unusable:
            self.fail(subscriber, f"not sent: {unusable}")
            return
        try:
            answer = self.send(subscriber.email, message)
        except TemporaryFailure as exc:
            self.defer(subscriber, exc.reply)
        except PermanentFailure as exc:
            self.fail(subscriber, exc.reply)
        else:
            job.store.mark_sent(job.digest_id, subscriber.id, answer, now=job.clock())
            self.record(subscriber, "sent")

    def send(self, recipient: str, message: bytes) -> str:
        """Hand over one message; a dropped connection gets one immediate retry on a new one."""
        try:
            return self.transport.send(self.job.sender, recipient, message)
        except TemporaryFailure as exc:
            if not exc.dropped:
                raise
        return self.transport.send(self.job.sender, recipient, message)

    def defer(self, subscriber: Subscriber, reply: str) -> None:
        job = self.job
        now = job.clock()
        row = job.store.delivery(job.digest_id, subscriber.id)
        attempts = (row.attempts if row else 0) + 1
        if attempts >= job.policy.max_attempts:
            self.fail(subscriber, f"gave up after {attempts} attempts; the last reply: {reply}")
            return
        due = job.policy.retry_at(attempts, now)
        job.store.mark_deferred(job.digest_id, subscriber.id, reply, due, now=now)
        self.record(subscriber, "deferred", reply, due)

    def fail(self, subscriber: Subscriber, reply: str) -> None:
        self.job.store.mark_failed(self.job.digest_id, subscriber.id, reply,
                                   now=self.job.clock())
        self.record(subscriber, "failed", reply)

    def record(self, subscriber: Subscriber, outcome: str, reply: str = "",
               due: datetime | None = None) -> None:
        with self._lock:
            self.counts[outcome] += 1
            if due is not None:
                self.retries[subscriber.id] = due
            else:
                self.retries.pop(subscriber.id, None)
            if outcome == "sent":
                self.streak = 0
            elif outcome != "skipped":
                self.streak += 1
                if self.streak >= self.job.policy.max_consecutive_failures:
                    self.stop(f"stopped after {self.streak} failed deliveries in a row (the "
                              f"last reply: {reply}); check the mail server, then run "
                              "`publisher digest send` again to go on")
            if self.progress is not None:
                self.progress(self.running(), self.total)

    def running(self) -> DeliveryReport:
        c = self.counts
        return DeliveryReport(self.job.digest_id, c["sent"], c["skipped"], c["deferred"],
                              c["failed"], self.stopped)

    def report(self) -> SendReport:
        c = self.counts
        deferred = self.job.store.delivery_counts(self.job.digest_id)["deferred"]
        return SendReport(self.job.digest_id, c["sent"], c["skipped"], deferred, c["failed"],
                          self.stopped, min(self.retries.values(), default=None))
