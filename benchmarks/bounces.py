"""Process a Maildir of returned mail: messages per second for `publisher bounces process`.

A throwaway site and SQLite store with N subscribers, a digest recorded as sent
to all of them, and a Maildir of N returned messages for them — a mix of
Postfix, Gmail and Outlook DSNs, Exim's plain-text bounces, delay notices and
ARF complaints, each addressed to the reader's return path (as `digest send`
made it) — then `process()` as the command runs it, timed from the first
message read to the last one recorded.

Run: python benchmarks/bounces.py [--messages 10000]
"""

from __future__ import annotations

import argparse
import mailbox
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = "a benchmark secret, long enough to sign with"  # noqa: S105 (not a secret)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    count = parser.parse_args().messages
    from publisher.mail.mailboxes import read_source
    from publisher.mail.reports import Addresses
    from publisher.store.database import NewSubscriber, Store
    from publisher.subscribers.bounces import Matcher, process

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = Store.open(f"sqlite:///{root / 'publisher.db'}")
        store.add_subscribers([NewSubscriber(f"r{i}@example.org") for i in range(count)],
                              now=NOW)
        digest = store.create_digest("digest", NOW, now=NOW, article_ids=["a"], subject="S")
        for subscriber in store.iter_subscribers():
            store.claim(digest.id, subscriber.id, now=NOW)
            store.mark_sent(digest.id, subscriber.id, "250 ok", now=NOW)
        started = time.perf_counter()
        _fill(root / "returned", store, digest.id)
        made = time.perf_counter() - started
        matcher = Matcher(SECRET, "news.example.org", Addresses("bounces", None))
        started = time.perf_counter()
        report = process(store, read_source(str(root / "returned"), bytes), matcher,
                         lambda: NOW)
        took = time.perf_counter() - started
        store.close()
    print(f"{count:,} returned messages (Maildir written in {made:.1f} s)")
    print(f"processed in {took:.2f} s: {count / took:,.0f} messages/s; "
          + ", ".join(f"{n:,} {what}" for what, n in sorted(report.outcomes.items())))


def _fill(folder: Path, store: object, digest_id: str) -> None:
    from publisher.store.database import Store
    from publisher.subscribers.tokens import bounce_token
    from tests import bounce_mail

    assert isinstance(store, Store)
    box = mailbox.Maildir(folder, create=True)
    shapes = [bounce_mail.postfix_dsn, bounce_mail.gmail_dsn, bounce_mail.outlook_ndr,
              bounce_mail.exim_bounce, bounce_mail.arf_complaint, _delayed]
    for n, subscriber in enumerate(store.iter_subscribers()):
        path = f"bounces+{bounce_token(SECRET, digest_id, subscriber)}@news.example.org"
        shape = shapes[n % len(shapes)]
        box.add(shape(path, subscriber.email, f"{digest_id}.{subscriber.id}@news.example.org"))


def _delayed(to: str, recipient: str, message_id: str) -> bytes:
    from tests import bounce_mail

    return bounce_mail.postfix_dsn(to, recipient, message_id, "4.4.1",
                                   "450 4.4.1 host not reachable", "delayed")


if __name__ == "__main__":
    main()
