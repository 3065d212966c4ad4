"""Send one digest to 10,000 and 100,000 subscribers on 127.0.0.1, and measure the sender.

Two sinks, each its own process: `aiosmtpd` discarding every message (a real
server, itself the bottleneck at a few hundred messages a second), and a
minimal asyncio responder that answers the SMTP dialogue without parsing it
(it reads DATA up to CRLF.CRLF and, like most MTAs, offers PIPELINING; the
`plain` sink is the same without it), so that what is measured is the
sender: `publisher digest send` as a library call, in its own process, with a
real SQLite ledger of N subscribers.

For each run it reports messages per second over the sending phase (first
message to last), the sender's CPU time per message over that phase (and over
the whole process, start-up, rendering and site build included), and the
sender's peak memory (its `ru_maxrss`). The naive pipeline — Jinja2, premailer
and `email.message.EmailMessage` per recipient, sent with smtplib over one
connection — runs in the same benchmark into the minimal sink as the baseline.

Run: python benchmarks/send.py [--sizes 10000 100000] [--naive 300]
                              [--sinks minimal plain aiosmtpd] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-25T13:00:00+00:00"
SECRET_ENV = {"PUBLISHER_SECRET_KEY": "a-benchmark-signing-secret-of-32-bytes"}
CONFIG = """\
title = "The Larkhaven Explainer"
base_url = "https://explainer.larkhaven.example/"
timezone = "America/Chicago"
postal_address = "14 Tannery Row, Larkhaven, IL 60999, USA"

[author]
name = "The Explainer Desk"

[email]
from_address = "digest@larkhaven.example"
from_name = "The Larkhaven Explainer"
unsubscribe_mailto = "unsubscribe@larkhaven.example"
period = "60d"

[delivery]
transport = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
concurrency = {concurrency}
"""
TARGET_RATE, TARGET_CPU_MS, TARGET_SPEEDUP, TARGET_MB, TARGET_GROWTH = 1500, 0.5, 20, 100, 0.10


# -- the sinks ----------------------------------------------------------------------------


class MinimalSink(asyncio.Protocol):
    """Answers every command with a canned reply; swallows DATA up to CRLF.CRLF."""

    ehlo = b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    self.buffer = self.buffer[-4:]  # the end mark may straddle two reads
                    return
                self.buffer, self.in_data = self.buffer[end + 5:], False
                self.transport.write(b"250 2.0.0 Ok: queued\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                return
            self.buffer = rest
            self.command(line[:4].upper())

    def command(self, verb: bytes) -> None:
        if verb in (b"EHLO", b"HELO"):
            self.transport.write(self.ehlo)
        elif verb == b"DATA":
            self.in_data = True
            # DATA's end mark is CRLF.CRLF; a message of no lines ends with ".CRLF" at once
            self.buffer = b"\r\n" + self.buffer
            self.transport.write(b"354 go ahead\r\n")
        elif verb == b"QUIT":
            self.transport.write(b"221 bye\r\n")
            self.transport.close()
        else:
            self.transport.write(b"250 Ok\r\n")


class PlainSink(MinimalSink):
    """The same, without PIPELINING: each command waits for its reply."""

    ehlo = b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"


def run_minimal_sink(port: int, pipelining: bool = True) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        sink = MinimalSink if pipelining else PlainSink
        server = await loop.create_server(sink, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def run_aiosmtpd_sink(port: int) -> None:
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 2.0.0 Ok: discarded"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, f"sink-{kind}", str(port)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                if probe.recv(64).startswith(b"220"):
                    return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the {kind} sink did not start")


# -- the sender, in its own process -------------------------------------------------------


def run_sender(site: Path) -> None:
    """Send the digest; print JSON with the sending phase's figures and the process's."""
    from publisher.clock import fixed_clock, parse_moment
    from publisher.config import load_settings
    from publisher.mail.outgoing import open_transport
    from publisher.models import DeliveryReport
    from publisher.send import DigestRun, default_plan, send_digest
    from publisher.store.database import Store

    settings = load_settings(site)
    clock = fixed_clock(parse_moment(NOW, UTC))
    marks: list[tuple[float, float]] = []

    def progress(report: object, total: int) -> None:
        if not marks:
            marks.append((time.perf_counter(), time.process_time()))

    with Store.open(settings.store_url) as store:
        run = DigestRun.of(settings, store, clock)
        report = send_digest(run, open_transport(settings), schedule=default_plan(settings),
                             progress=progress)
    end_wall, end_cpu = time.perf_counter(), time.process_time()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    assert isinstance(report, DeliveryReport) and report.stopped is None, report
    print(json.dumps({
        "sent": report.sent, "bounced": report.bounced, "deferred": report.deferred,
        "send_wall": end_wall - marks[0][0], "send_cpu": end_cpu - marks[0][1],
        "process_cpu": usage.ru_utime + usage.ru_stime, "max_rss_kb": usage.ru_maxrss,
    }))


def populate(folder: Path, subscribers: int) -> Path:
    """A site folder with the sample articles and a store of `subscribers` addresses."""
    from publisher.store.database import NewSubscriber, Store

    site = folder / f"site-{subscribers}"
    shutil.copytree(REPO / "content", site / "content")
    (site / "publisher.toml").write_text(CONFIG.format(port=1, concurrency=1))
    names = ("Ana Lima", "", "Zoë Ñandú", "Ben O'Neill", "Chidi")
    people = (NewSubscriber(f"reader{i}@example.org", names[i % len(names)])
              for i in range(subscribers))
    with Store.open(f"sqlite:///{site / 'template.db'}") as store:
        store.add_subscribers(people, now=datetime(2026, 11, 1, tzinfo=UTC))
    return site


def send_run(site: Path, port: int, concurrency: int) -> dict[str, float]:
    """One send of a fresh digest to the whole list, measured from outside too."""
    for leftover in ("publisher.db", "publisher.db-wal", "publisher.db-shm", "public",
                     ".publisher", "digests"):
        path = site / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    shutil.copyfile(site / "template.db", site / "publisher.db")
    (site / "publisher.toml").write_text(CONFIG.format(port=port, concurrency=concurrency))
    env = {**os.environ, **SECRET_ENV}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, "sender", str(site)],
                               stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"the sender failed with status {status}")
    figures = json.loads(output)
    figures["wall"] = time.perf_counter() - started
    figures["peak_mb"] = usage.ru_maxrss * 1024 / 1e6
    return figures


# -- the naive pipeline -------------------------------------------------------------------


def naive_rate(port: int, messages: int) -> float:
    """Jinja2 + premailer + EmailMessage per recipient, sent with smtplib: messages/second."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from message_build import Naive, recipients

    from publisher import publish
    from publisher.config import load_settings
    from publisher.digest.select import choose_articles
    from publisher.models import Digest

    settings = load_settings(REPO)
    now = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    articles = choose_articles(publish.load(settings, readonly=True).published(now), set(),
                               since=None, max_items=settings.email.max_items)
    digest = Digest("digest-20261125-1300", "digest", now, now, tuple(a.id for a in articles))
    naive = Naive(settings, digest, articles)
    people = recipients(messages)
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for person in people:
            smtp.sendmail(settings.email.from_address, [person[1]], naive.message(*person))
    return messages / (time.perf_counter() - started)


# -- the report ---------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: dict[tuple[str, int], dict[str, float]], naive: float) -> None:
    print(f"\nnaive pipeline: {naive:,.0f} messages/s")
    print(f"{'sink':<9} {'subscribers':>11} {'msg/s':>8} {'CPU ms/msg':>11} "
          f"{'(whole run)':>11} {'peak MB':>8} {'wall s':>7}")
    for (sink, size), r in sorted(results.items()):
        print(f"{sink:<9} {size:>11,} {r['sent'] / r['send_wall']:>8,.0f} "
              f"{r['send_cpu'] / r['sent'] * 1e3:>11.3f} "
              f"{r['process_cpu'] / r['sent'] * 1e3:>11.3f} {r['peak_mb']:>8.1f} "
              f"{r['wall']:>7.1f}")
    minimal = {size: r for (sink, size), r in results.items() if sink == "minimal"}
    if not minimal:
        return
    print()
    for size, r in sorted(minimal.items()):
        rate, cpu = r["sent"] / r["send_wall"], r["send_cpu"] / r["sent"] * 1e3
        print(f"{size:>7,}: rate {rate:,.0f}/s >= {TARGET_RATE:,}: {verdict(rate >= TARGET_RATE)}"
              f"; CPU {cpu:.3f} ms <= {TARGET_CPU_MS}: {verdict(cpu <= TARGET_CPU_MS)}"
              f"; {rate / naive:,.0f}x naive >= {TARGET_SPEEDUP}x: "
              f"{verdict(rate / naive >= TARGET_SPEEDUP)}")
    peaks = {size: r["peak_mb"] for size, r in minimal.items()}
    if len(peaks) > 1:
        small, large = peaks[min(peaks)], peaks[max(peaks)]
        print(f"peak memory {large:.1f} MB at {max(peaks):,} < {TARGET_MB} MB: "
              f"{verdict(large < TARGET_MB)}; {large / small - 1:+.1%} over {min(peaks):,} "
              f"(<= +{TARGET_GROWTH:.0%}): {verdict(large <= small * (1 + TARGET_GROWTH))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--sinks", nargs="+", default=["minimal", "aiosmtpd"],
                        choices=["minimal", "plain", "aiosmtpd"],
                        help="plain: the minimal sink without PIPELINING")
    parser.add_argument("--naive", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    results: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="publisher-send-") as tmp:
        sites = {size: populate(Path(tmp), size) for size in args.sizes}
        naive = 0.0
        for sink in args.sinks:
            process, port = start_sink(sink)
            try:
                if sink == "minimal" or (sink == "plain" and not naive):
                    naive = naive_rate(port, args.naive)
                for size, site in sites.items():
                    results[sink, size] = send_run(site, port, args.concurrency)
                    r = results[sink, size]
                    print(f"{sink} {size:,}: {r['sent']:,.0f} sent in {r['send_wall']:.1f} s",
                          flush=True)
            finally:
                process.kill()
                process.wait()
    report(results, naive or float("nan"))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(json.dumps({f"{sink}-{size}": r for (sink, size), r in results.items()}
                     | {"naive_rate": naive}))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "sink-minimal":
        run_minimal_sink(int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "sink-plain":
        run_minimal_sink(int(sys.argv[2]), pipelining=False)
    elif len(sys.argv) > 2 and sys.argv[1] == "sink-aiosmtpd":
        run_aiosmtpd_sink(int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "sender":
        run_sender(Path(sys.argv[2]))
    else:
        main()
