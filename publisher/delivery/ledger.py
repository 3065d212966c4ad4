"""What the dispatcher works with: the ledger it needs, the retry policy, one digest's job.

The dispatcher declares the ledger operations it uses (`Ledger`) rather than
knowing the store; `publisher.store.Store` provides them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from publisher.models import Clock, DeliveryReport, Subscriber

Progress = Callable[[DeliveryReport, int], None]
"""Called after each message with this run's totals so far and how many were owed at the start."""


@dataclass(frozen=True, slots=True)
class Message:
    """A reader's own message: its bytes and the article set it holds (recorded at the claim).

    `data` None: nothing new for this reader; the row is recorded as skipped."""

    data: bytes | None
    article_set: int | None = None


MessageMaker = Callable[[Subscriber], "bytes | Message"]
IdRange = tuple[int, int]
"""The first and last subscriber id of a chunk of a digest's readers."""
ReturnPath = Callable[[Subscriber], str]
"""The envelope sender (MAIL FROM) of one subscriber's message: where their bounces go."""


@dataclass(frozen=True, slots=True)
class SendReport(DeliveryReport):
    """A delivery report that also says when the earliest row waiting for a retry is due.

    `sent`, `skipped`, `uncertain`, `gave_up` and `bounced` count this run's
    outcomes; `deferred` counts the ledger rows still waiting for a retry when the
    run ended.
    """

    next_attempt_at: datetime | None = None


class Row(Protocol):
    """A ledger row as the dispatcher reads it."""

    @property
    def status(self) -> str: ...

    @property
    def attempts(self) -> int: ...

    @property
    def reply(self) -> str: ...

    @property
    def updated_at(self) -> datetime: ...

    @property
    def uncertain(self) -> int: ...


class Ledger(Protocol):
    """The ledger operations the dispatcher needs; `publisher.store.Store` provides them."""

    def sending(self, digest_id: str, *, exclusive: bool, lease: timedelta
                ) -> AbstractContextManager[None]: ...

    def count_recipients(self, digest_id: str, *, now: datetime,
                         within: IdRange | None = None) -> int: ...

    def recipients(self, digest_id: str, *, now: datetime,
                   within: IdRange | None = None) -> Iterator[Subscriber]: ...

    def claim(self, digest_id: str, subscriber_id: int, *, now: datetime,
              article_set: int | None = None) -> bool: ...

    def mark_sent(self, digest_id: str, subscriber_id: int, reply: str, *,
                  now: datetime) -> bool: ...

    def mark_deferred(self, digest_id: str, subscriber_id: int, reply: str,
                      next_attempt_at: datetime, *, now: datetime) -> int: ...

    def release(self, digest_id: str, subscriber_id: int, reply: str, *,
                now: datetime) -> bool: ...

    def mark_uncertain(self, digest_id: str, subscriber_id: int, reply: str,
                       next_attempt_at: datetime | None, *, now: datetime) -> bool: ...

    def mark_gave_up(self, digest_id: str, subscriber_id: int, reply: str, *,
                     now: datetime) -> bool: ...

    def mark_bounced(self, digest_id: str, subscriber_id: int, reply: str, *,
                     now: datetime) -> bool: ...

    def mark_skipped(self, digest_id: str, subscriber_id: int, *, now: datetime,
                     reason: str = ...) -> None: ...

    def suppress_subscriber(self, subscriber_id: int, status: str, reason: str, *,
                            now: datetime) -> bool: ...

    def delivery(self, digest_id: str, subscriber_id: int) -> Row | None: ...

    def recent_outcomes(self, subscriber_id: int, limit: int) -> Sequence[Row]: ...

    def delivery_counts(self, digest_id: str) -> dict[str, int]: ...

    def next_attempt(self, digest_id: str) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`[delivery]`'s rules for failures, as plain values."""

    retry_base: timedelta
    max_attempts: int
    max_consecutive_failures: int
    retry_uncertain: bool = True
    soft_bounce_digests: int = 5  # 0: soft failures never suppress anyone
    soft_bounce_days: int = 30
    lease: timedelta = timedelta(minutes=2)  # how long a claimed row is its sender's alone

    def retry_at(self, attempts: int, now: datetime) -> datetime:
        """When to try again after the n-th failed attempt: base, 2 × base, 4 × base..."""
        return now + self.retry_base * (1 << max(attempts - 1, 0))


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One digest to send: its ledger, its return paths and how to make each message."""

    store: Ledger
    digest_id: str
    return_path: ReturnPath
    make_message: MessageMaker
    clock: Clock
    policy: RetryPolicy
    chunk: IdRange | None = None  # a worker's share of the readers; None: all of them
    # told each page of readers before their messages, to read what it needs of them at once
    prepare: Callable[[Sequence[Subscriber]], None] | None = None
