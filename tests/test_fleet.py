"""A digest sent by a pool of real `publisher worker` processes on PostgreSQL.

Each worker is a process of its own, as on another machine; the jobs are
procrastinate's, in the test's own PostgreSQL schema; the mail goes to a real
SMTP server. Waiting is on what the server has received, never on a schedule.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import cli
from publisher.store.database import NewSubscriber, Store
from tests.conftest import NOW, SMTP_CONFIG, SiteFactory, article
from tests.postgres import NEEDS_POSTGRES, postgres_url
from tests.smtp_server import SMTPServer

pytestmark = NEEDS_POSTGRES
SECRET = "a signing key for the pool tests, long enough"
QUEUE = "\n[queue]\nchunk_size = 10\nheartbeat = 0.5\nstalled_after = 2\n"
READERS = 60


@pytest.fixture
def pooled(make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[Path, SMTPServer, dict[str, str]]]:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", SECRET)
    with SMTPServer() as server:
        config = SMTP_CONFIG.format(port=server.port).replace(
            "concurrency = 2", "concurrency = 2\ntimeout = 1") + QUEUE
        root = make_site({"content/a.md": article("A", "2026-11-24 09:00", id="a")},
                         config=config)
        for url in postgres_url():
            monkeypatch.setenv("PUBLISHER_STORE_URL", url)
            with Store.open(url) as store:
                store.add_subscribers([NewSubscriber(f"r{n:02}@example.org")
                                       for n in range(READERS)], now=NOW)
            yield root, server, {**os.environ}


def queue_it(root: Path) -> str:
    done = CliRunner().invoke(cli, ["--site", str(root), "digest", "send", "--no-wait",
                                    "--now", NOW.isoformat()])
    assert done.exit_code == 0, done.output
    return done.output


def start_worker(root: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", "from publisher.cli import main; main()",
                             "--site", str(root), "worker", "--concurrency", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def wait_until(check: object, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def stop(worker: subprocess.Popen[str]) -> tuple[int, str]:
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    return worker.returncode, err


def test_two_workers_send_every_reader_once(pooled: tuple[Path, SMTPServer, dict[str, str]]
                                             ) -> None:
    root, server, env = pooled
    assert queue_it(root) == (f"digest digest-20261125-1200: {READERS} readers queued in 6 "
                              "jobs for the workers\n")
    workers = [start_worker(root, env) for _ in range(2)]
    try:
        wait_until(lambda: len(server.received()) == READERS)
    finally:
        ended = [stop(w) for w in workers]
    assert [code for code, _ in ended] == [0, 0], ended
    assert set(server.received().values()) == {1}
    sent_by = [err.count("sent,") for _, err in ended]
    assert sum(sent_by) == 6 and all(sent_by), ended  # both took chunks
    with Store.open(env["PUBLISHER_STORE_URL"]) as store:
        counts = store.delivery_counts("digest-20261125-1200")
        assert (counts["sent"], counts["queued"], counts["pending"]) == (READERS, 0, 0)
        assert store.latest_open_digest("digest") is None  # the last chunk completed it


def test_a_killed_workers_chunk_is_taken_over_and_nobody_is_lost(
        pooled: tuple[Path, SMTPServer, dict[str, str]]) -> None:
    root, server, env = pooled
    server.on_message(lambda count, message: time.sleep(0.05))  # a relay's latency
    queue_it(root)
    doomed = start_worker(root, env)
    wait_until(lambda: len(server.messages) >= 5)
    doomed.kill()  # SIGKILL: its job stays "doing", its claims pending
    doomed.wait()
    doomed.stderr.close()  # type: ignore[union-attr]
    in_flight_at_most = 2 * 2  # its chunks at once × its connections
    survivor = start_worker(root, env)
    try:
        wait_until(lambda: len(server.received()) == READERS)
        with Store.open(env["PUBLISHER_STORE_URL"]) as store:
            wait_until(lambda: store.delivery_counts("digest-20261125-1200")["sent"] == READERS)
    finally:
        code, err = stop(survivor)
    assert code == 0, err
    copies = server.received()
    assert set(copies) == {f"r{n:02}@example.org" for n in range(READERS)}
    assert sum(copies.values()) - READERS <= in_flight_at_most
    assert "goes back to the queue" in err  # the sweeper gave the dead worker's job back


def test_a_scheduled_digest_is_queued_for_the_workers(
        pooled: tuple[Path, SMTPServer, dict[str, str]]) -> None:
    root, server, env = pooled
    (root / "content/b.md").write_text(article("B", "2026-11-25 09:00", id="b"))
    (root / "schedules").mkdir()
    (root / "schedules/daily.toml").write_text('action = "digest"\ncron = "0 12 * * *"\n'
                                               'timezone = "UTC"\n')
    done = CliRunner().invoke(cli, ["--site", str(root), "tick", "--now", NOW.isoformat()])
    assert done.exit_code == 0, done.output
    assert done.output.rstrip().endswith(
        f"digest daily-20261125-1200: {READERS} readers queued in 6 jobs for the workers")
    assert server.messages == []  # the tick does not send: the workers do
    with Store.open(env["PUBLISHER_STORE_URL"]) as store:
        assert store.delivery_counts("daily-20261125-1200")["queued"] == READERS


def test_a_digest_readers_choose_is_not_handed_to_the_pool(
        pooled: tuple[Path, SMTPServer, dict[str, str]]) -> None:
    root, server, _ = pooled
    (root / "schedules").mkdir()
    (root / "schedules/daily.toml").write_text(
        'action = "digest"\ncron = "0 7 * * *"\nchoosable = true\n', encoding="utf-8")
    done = CliRunner().invoke(cli, ["--site", str(root), "digest", "send", "--no-wait",
                                    "--schedule", "daily", "--now", NOW.isoformat()])
    assert (done.exit_code, done.stdout) == (1, "")
    assert done.stderr == (
        "error: readers choose 'daily' as their cadence, so each gets their own articles, "
        "which the workers cannot render\n"
        "  hint: set choosable = false on it to send it through the pool\n")
    with Store.open(os.environ["PUBLISHER_STORE_URL"]) as store:
        assert store.list_digests() == []  # nothing recorded, nothing published
    assert server.messages == []
