"""One digest sent by a pool of 1, 2 and 4 `publisher worker` processes, and killed workers.

    pip install -e '.[test]'            # procrastinate and psycopg
    PUBLISHER_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python benchmarks/scale.py [--readers 20000] [--kills 10] [--connections 2]

For each responder — one that takes 20 ms per message (a real relay's latency)
and the minimal one of `send.py` — and each pool size, a fresh PostgreSQL schema
gets a site of N readers; `digest send --no-wait` queues the digest (its time,
per reader, is the queue's overhead), the workers are started, and the run ends
when the ledger says everyone was sent. Printed: messages/s, the speed-up over
one worker measured in the same run, and the overhead. Then the kill test:
`--kills` times, two workers send a smaller list and one of them is killed with
SIGKILL at a random moment and started again; the responder counts what it
received, and the lost (no copy) and duplicated messages are totalled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from send import free_port

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-25T12:00:00+00:00"
SECRET = {"PUBLISHER_SECRET_KEY": "a signing key for the benchmark, long enough to use"}
CONFIG = """title = "Scale Bench"
base_url = "https://bench.example/"
timezone = "UTC"
[author]
name = "Bench"
[email]
from_address = "digest@bench.example"
[delivery]
transport = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
concurrency = {connections}
timeout = 5
[queue]
chunk_size = 500
heartbeat = 1
stalled_after = 3
"""


class Responder(asyncio.Protocol):
    """Answers the SMTP dialogue without parsing mail; counts each message's recipient and
    accepts it only after `latency` seconds, as a relay that answers in tens of ms does."""

    latency = 0.0
    received: ClassVar[Counter[str]] = Counter()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport, self.buffer, self.in_data, self.recipient = transport, b"", False, ""
        transport.write(b"220 responder ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    self.buffer = self.buffer[-4:]
                    return
                self.buffer, self.in_data = self.buffer[end + 5:], False
                Responder.received[self.recipient] += 1
                asyncio.get_running_loop().call_later(
                    self.latency, self.transport.write, b"250 2.0.0 Ok: queued\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                return
            self.buffer = rest
            self.command(line)

    def command(self, line: bytes) -> None:
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            self.transport.write(b"250-responder\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n")
        elif verb == b"RCPT":
            self.recipient = line.split(b"<", 1)[-1].split(b">", 1)[0].decode()
            self.transport.write(b"250 Ok\r\n")
        elif verb == b"DATA":
            self.in_data, self.buffer = True, b"\r\n" + self.buffer
            self.transport.write(b"354 go ahead\r\n")
        elif verb == b"QUIT":
            self.transport.write(b"221 bye\r\n")
            self.transport.close()
        else:
            self.transport.write(b"250 Ok\r\n")


def run_responder(port: int, latency: float, counts: Path) -> None:
    """The responder's own process: on SIGTERM it writes what it received to `counts`."""
    Responder.latency = latency

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Responder, "127.0.0.1", port)
        stopped = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stopped.set_result, None)
        async with server:
            await stopped
        counts.write_text(json.dumps(Responder.received))

    asyncio.run(serve())


class Responding:
    """A responder process for one run, and what it received."""

    def __init__(self, latency: float, folder: Path) -> None:
        self.port, self.counts = free_port(), folder / f"received-{uuid.uuid4().hex[:6]}.json"
        self.process = subprocess.Popen([sys.executable, __file__, "responder", str(self.port),
                                         str(latency), str(self.counts)])
        time.sleep(0.5)

    def stop(self) -> Counter[str]:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        return Counter(json.loads(self.counts.read_text()))


def make_site(folder: Path, base_url: str, readers: int, port: int, connections: int
              ) -> tuple[Path, dict[str, str]]:
    """A site whose store is a new PostgreSQL schema holding `readers` subscribers."""
    from sqlalchemy import create_engine, make_url, text

    from publisher.store.database import NewSubscriber, Store

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with create_engine(base_url).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    store_url = url.render_as_string(hide_password=False)
    site = folder / schema
    (site / "content").mkdir(parents=True)
    (site / "content/a.md").write_text("---\ntitle: A\ndate: 2026-11-24 09:00\nid: a\n---\nText.\n")
    (site / "publisher.toml").write_text(CONFIG.format(port=port, connections=connections))
    with Store.open(store_url) as store:
        store.add_subscribers((NewSubscriber(f"r{n}@example.org") for n in range(readers)),
                              now=datetime(2026, 11, 1, tzinfo=UTC))
    return site, {**os.environ, **SECRET, "PUBLISHER_STORE_URL": store_url}


def publisher(site: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "publisher.cli", "--site", str(site), *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class SentCounter:
    """How many the ledger says were sent: one connection, one plain query a poll, so that
    watching the run costs the machine (two cores shared with the workers) next to nothing."""

    def __init__(self, env: dict[str, str]) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self._engine = create_engine(env["PUBLISHER_STORE_URL"], poolclass=NullPool)
        self._conn = self._engine.connect()

    def __call__(self) -> int:
        from sqlalchemy import text

        count = self._conn.execute(text(
            "SELECT count(*) FROM deliveries WHERE status = 'sent'")).scalar_one()
        self._conn.rollback()  # a fresh snapshot next time
        return int(count)

    def close(self) -> None:
        self._conn.close()
        self._engine.dispose()


def sending_seconds(env: dict[str, str]) -> float:
    """From the first message the pool sent to the last, by the ledger's own times: the
    rate without the workers' start-up."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env["PUBLISHER_STORE_URL"])
    with engine.connect() as conn:
        first, last = conn.execute(text(
            "SELECT min(updated_at), max(updated_at) FROM deliveries WHERE status = 'sent'")).one()
    engine.dispose()
    return max((last - first).total_seconds(), 1e-3)


def one_run(folder: Path, base_url: str, readers: int, workers: int, latency: float,
            connections: int) -> dict[str, float]:
    responder = Responding(latency, folder)
    site, env = make_site(folder, base_url, readers, responder.port, connections=connections)
    started = time.perf_counter()
    queued = publisher(site, env, "digest", "send", "--no-wait", "--now", NOW)
    queued.wait()
    queue_seconds = time.perf_counter() - started
    pool = [publisher(site, env, "worker") for _ in range(workers)]
    started = time.perf_counter()
    sent = SentCounter(env)
    while sent() < readers:
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    sent.close()
    sending = sending_seconds(env)
    for worker in pool:
        worker.send_signal(signal.SIGTERM)
    for worker in pool:
        worker.wait(60)
    copies = responder.stop()
    return {"rate": readers / sending, "rate_with_start_up": readers / seconds,
            "seconds": seconds,
            "queue_ms_per_reader": 1000 * queue_seconds / readers,
            "lost": readers - len(copies), "duplicates": sum(copies.values()) - len(copies)}


def kill_run(folder: Path, base_url: str, readers: int, rng: random.Random) -> tuple[int, int]:
    """Two workers; one is killed at a random moment, then started again."""
    responder = Responding(0.005, folder)
    site, env = make_site(folder, base_url, readers, responder.port, connections=2)
    publisher(site, env, "digest", "send", "--no-wait", "--now", NOW).wait()
    pool = [publisher(site, env, "worker") for _ in range(2)]
    time.sleep(rng.uniform(1.5, 4.0))
    pool[0].kill()
    pool[0].wait()
    pool[0] = publisher(site, env, "worker")
    deadline = time.monotonic() + 300
    sent = SentCounter(env)
    while sent() < readers and time.monotonic() < deadline:
        time.sleep(0.5)
    sent.close()
    for worker in pool:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    copies = responder.stop()
    return readers - len(copies), sum(copies.values()) - len(copies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--kill-readers", type=int, default=3_000)
    parser.add_argument("--connections", type=int, default=2,
                        help="SMTP connections per worker ([delivery] concurrency): a relay "
                        "allows each client a few")
    parser.add_argument("--responders", choices=("both", "20ms", "minimal"), default="both")
    options = parser.parse_args()
    base_url = os.environ.get("PUBLISHER_TEST_POSTGRES_URL")
    if not base_url:
        raise SystemExit("set PUBLISHER_TEST_POSTGRES_URL to a PostgreSQL database to work in")
    results: dict[str, dict[int, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        print(f"{options.readers:,} readers, {options.connections} SMTP connection(s) per "
              f"worker, {os.cpu_count()} CPUs", flush=True)
        kinds = {"20ms": (("20 ms responder", 0.020),), "minimal": (("minimal responder", 0.0),)}
        chosen = kinds["20ms"] + kinds["minimal"] if options.responders == "both" \
            else kinds[options.responders]
        for label, latency in chosen:
            results[label] = {}
            for workers in (1, 2, 4):
                figures = one_run(folder, base_url, options.readers, workers, latency,
                                  options.connections)
                results[label][workers] = figures
                speedup = figures["rate"] / results[label][1]["rate"]
                print(f"{label:<18} {workers} worker(s): {figures['rate']:8,.0f} messages/s "
                      f"({figures['rate_with_start_up']:,.0f} with start-up), "
                      f"{speedup:4.2f}x one worker, queue {figures['queue_ms_per_reader']:.3f} "
                      f"ms/reader, lost {figures['lost']:.0f}, duplicates "
                      f"{figures['duplicates']:.0f}", flush=True)
        rng = random.Random(7)
        lost = duplicates = 0
        for _ in range(options.kills):
            one_lost, one_dup = kill_run(folder, base_url, options.kill_readers, rng)
            lost, duplicates = lost + one_lost, duplicates + one_dup
        print(f"kill test: {options.kills} SIGKILLs of a worker among two: {lost} lost, "
              f"{duplicates} duplicates (at most 2 connections in flight per kill)")
    print(json.dumps({"runs": results, "kills": {"lost": lost, "duplicates": duplicates}}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "responder":
        run_responder(int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
