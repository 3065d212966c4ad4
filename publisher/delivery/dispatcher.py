"""Walk a digest's recipients against the ledger and hand each message to a transport.

For each subscriber still owed the digest: build the message, `claim` the
ledger row (committed as pending; refused if the subscriber left meanwhile:
skipped), send, then record what the server said (`delivery.replies` says
whose problem a refusal is). A crash at any moment leaves at most the
messages in flight as pending; the next run sends those again, nobody else.

- Soft failures (4xx, a full mailbox) defer the row to `retry_base ×
  2^(attempts-1)` later; after `max_attempts` the row "gave up" and the reader
  stays on the list (`Outcomes` decides when repeated give-ups suppress one).
  A connection dropped before the message data is retried at once on a fresh one.
- A throttling reply defers the row and slows the whole run (`pace.Governor`).
- No answer after the data: the server may have the message. The row is
  "uncertain": never resent at once, retried once after the delay (or never,
  without `retry_uncertain`).
- A hard bounce (the address is gone) or a refusal of the sender (policy,
  relaying, content) is held until the server accepts another message: only a
  working server's "no such user" suppresses a reader, and a sender-side
  refusal never does (it is deferred like a soft failure). When
  `max_consecutive_failures` refusals come in a row, the run stops and the
  held rows are released, due at once with the attempt not counted, so the run
  after the fix sends to everyone. Deferrals never count toward this breaker.
- A reader of a chosen-cadence digest gets their own articles (`Message`): the
  set is recorded on their row when it is claimed; one with nothing new is
  recorded as skipped, and sent nothing. The maker sees each page of readers
  first (`Dispatch.prepare`), to read their ledger rows in a few queries.
- `should_stop()` is asked between messages; the run stops with every message
  in hand recorded.

Every claim is a lease: the row is the sender's until it runs out, and no other
sender takes it over before, so a live sender's message is never sent twice. A
lone sender (`digest send`) holds the digest's lock alone and so takes over at
once the rows a dead one left pending; the workers of a pool, each sending a
chunk of the readers (`Dispatch.chunk`), hold it shared and wait for the lease.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from publisher.delivery.ledger import (
    Dispatch,
    Ledger,
    Message,
    Progress,
    RetryPolicy,
    SendReport,
)
from publisher.delivery.outcomes import Outcomes
from publisher.delivery.pace import Governor
from publisher.delivery.transport import SendFailure, TemporaryFailure, Transport
from publisher.delivery.transport import UncertainFailure as Uncertain
from publisher.errors import DeliveryError, PublisherError, SubscriberError
from publisher.lock import LockBusy
from publisher.models import Subscriber

__all__ = ["STOP_REQUESTED", "Dispatch", "Ledger", "Progress", "RetryPolicy", "SendReport",
           "dispatch"]

STOP_REQUESTED = "stopped on request; the next `publisher digest send` goes on from here"
NOTHING_NEW = "nothing they had not received yet"
PAGE = 500  # readers handed to `Dispatch.prepare` at once


@dataclass(frozen=True, slots=True)
class _Options:
    governor: Governor | None
    should_stop: Callable[[], bool] | None
    progress: Progress | None


def dispatch(job: Dispatch, transport: Transport, *, governor: Governor | None = None,
             should_stop: Callable[[], bool] | None = None,
             progress: Progress | None = None) -> SendReport:
    """Send the digest to everyone still owed it; see the module's docstring for the rules."""
    try:
        with job.store.sending(job.digest_id, exclusive=job.chunk is None,
                               lease=job.policy.lease):
            total = job.store.count_recipients(job.digest_id, now=job.clock(), within=job.chunk)
            run = _Run(job, transport, total, _Options(governor, should_stop, progress))
            if total:
                with transport:
                    run.all_passes(transport.concurrency)
            return run.outcomes.report()
    except LockBusy:
        raise DeliveryError(f"digest {job.digest_id} is already being sent by another process",
                            hint="wait for that run to finish (or for the workers sending it); "
                            "it sends to everyone owed the digest") from None


def _prepared(recipients: Iterable[Subscriber],
              prepare: Callable[[Sequence[Subscriber]], None]) -> Iterator[Subscriber]:
    """The walk a page at a time, each page handed to `prepare` before its first message."""
    walk = iter(recipients)
    while page := list(islice(walk, PAGE)):
        prepare(page)
        yield from page


class _Run:
    """One run: the walks over the list, and what stops them."""

    def __init__(self, job: Dispatch, transport: Transport, total: int,
                 options: _Options) -> None:
        self.job, self.transport = job, transport
        self.governor = options.governor or Governor(0, transport.concurrency)
        self.should_stop = options.should_stop or (lambda: False)
        self.outcomes = Outcomes(job, total, self.governor, options.progress)
        self.crash: BaseException | None = None

    def all_passes(self, concurrency: int) -> None:
        """Walk the list; walk again while rows deferred in the last walk are already due."""
        while True:
            retries_before = self.outcomes.retries_made
            recipients: Iterable[Subscriber] = self.job.store.recipients(
                self.job.digest_id, now=self.job.clock(), within=self.job.chunk)
            if self.job.prepare is not None:
                recipients = _prepared(recipients, self.job.prepare)
            if concurrency > 1:
                self._walk_parallel(recipients, concurrency)
            else:
                for subscriber in recipients:
                    if self.stopping():
                        break
                    self.deliver_guarded(subscriber)
            self.outcomes.end_of_walk()
            if self.crash is not None:
                raise self.crash
            if self.outcomes.stopped or self.outcomes.retries_made == retries_before or \
                    not self.outcomes.retry_due(self.job.clock()):
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
        if self.outcomes.stopped is None and self.should_stop():
            self.outcomes.stop(STOP_REQUESTED)
        return self.outcomes.stopped is not None

    def deliver_guarded(self, subscriber: Subscriber) -> None:
        """`deliver`, with an error that ends the run turned into its stop reason."""
        try:
            with self.governor.turn(self.stopping):
                self.deliver(subscriber)
        except BaseException as exc:
            self.guard(exc)

    def guard(self, exc: BaseException) -> None:
        """A user-facing error becomes the stop reason; anything else is raised after the walk."""
        if isinstance(exc, PublisherError):
            self.outcomes.stop(str(exc))
        else:
            self.crash = exc
            self.outcomes.stop(f"unexpected error: {exc!r}")

    def deliver(self, subscriber: Subscriber) -> None:
        if self.stopping():
            return
        job, outcomes = self.job, self.outcomes
        chosen: int | None = None
        try:
            made = job.make_message(subscriber)
        except SubscriberError as exc:
            message, unusable = b"", exc.problem.message
        else:
            unusable = ""
            if isinstance(made, Message):
                if made.data is None:
                    outcomes.skipped(subscriber, NOTHING_NEW)
                    return
                message, chosen = made.data, made.article_set
            else:
                message = made
        claimed = (job.store.claim(job.digest_id, subscriber.id, now=job.clock())
                   if chosen is None else
                   job.store.claim(job.digest_id, subscriber.id, now=job.clock(),
                                   article_set=chosen))
        if not claimed:
            outcomes.skipped(subscriber)
            return
        if unusable:
            outcomes.bounced(subscriber, f"not sent: {unusable}")
            return
        try:
            answer = self.send(job.return_path(subscriber), subscriber.email, message)
        except Uncertain as exc:
            outcomes.uncertain(subscriber, exc.reply)
        except SendFailure as exc:
            outcomes.refused(subscriber, exc)
        else:
            outcomes.accepted(subscriber, answer)

    def send(self, sender: str, recipient: str, message: bytes) -> str:
        """Hand over one message; a connection lost before the data gets one more try at once
        on a fresh connection (a 421 reply does not: it asks us to slow down)."""
        try:
            return self.transport.send(sender, recipient, message)
        except TemporaryFailure as exc:
            if not exc.dropped or exc.code is not None:
                raise
        return self.transport.send(sender, recipient, message)
