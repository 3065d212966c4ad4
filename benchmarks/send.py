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

`--cadences` runs the scenario of readers who choose: N readers spread over
three cadences (two schedules marked `choosable` and `local`, a daily and a
weekly at 07:00 in each reader's zone, and "every digest"), 24 time zones and 6
topic combinations, with a history: each group's last weekly and last daily were
sent already (into the minimal sink, unmeasured), then 5 % of the readers changed
cadence. The measured send is every group's daily digest, as `publisher tick`
runs them; in the same run, a plain daily digest of the same site (one rendering
for everyone) goes to all N readers: the single-cohort figure. It prints the
renderings made (counted by wrapping the renderer in the sender's process)
against the distinct article sets the store recorded, both rates and their
ratio, and the tailored send's peak memory at each size.

Run: python benchmarks/send.py [--sizes 10000 100000] [--naive 300]
                              [--sinks minimal plain aiosmtpd] [--concurrency 2]
     python benchmarks/send.py --cadences [--sizes 10000 100000]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from publisher.models import DeliveryReport, NoReaders, Schedule

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
    return fresh_run(site, CONFIG.format(port=port, concurrency=concurrency), "sender")


def fresh_run(site: Path, config: str, *command: str) -> dict[str, float]:
    """Run this script as `command` on a fresh copy of the site's template store, with
    `config` as its publisher.toml: its own figures, with its wall time and peak memory."""
    for leftover in ("publisher.db", "publisher.db-wal", "publisher.db-shm", "public",
                     ".publisher", "digests"):
        path = site / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    shutil.copyfile(site / "template.db", site / "publisher.db")
    (site / "publisher.toml").write_text(config)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, *command, str(site)],
                               stdout=subprocess.PIPE, env={**os.environ, **SECRET_ENV})
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{command[0]} failed with status {status}")
    figures: dict[str, float] = json.loads(output)
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


# -- readers who choose their cadence, zone and topics ------------------------------------

ZONES = (
    "Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles",
    "America/Denver", "America/Chicago", "America/New_York", "America/Halifax",
    "America/Sao_Paulo", "Atlantic/South_Georgia", "Atlantic/Azores", "Europe/London",
    "Europe/Paris", "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi",
    "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney",
    "Pacific/Noumea", "Pacific/Auckland",
)
TAGS = ("transport", "housing", "council", "harbour")
TOPICS: tuple[tuple[str, ...], ...] = (
    (), ("transport",), ("housing",), ("council",), ("harbour",), ("transport", "housing"))
CADENCES: tuple[str | None, ...] = ("daily", "weekly", None)  # None: every digest
CHANGED = {"daily": "weekly", "weekly": "daily", None: "daily"}  # 5 % change cadence
SCHEDULES = {
    "daily": 'action = "digest"\ncron = "0 7 * * *"\nchoosable = true\nlocal = true\n'
             'label = "Every morning"\n',
    "weekly": 'action = "digest"\ncron = "0 7 * * sat"\nchoosable = true\nlocal = true\n'
              'label = "Saturday mornings"\n',
    # the single cohort: one digest, one rendering, for everyone
    "everyone": 'action = "digest"\ncron = "0 7 * * *"\ntimezone = "UTC"\n',
}
ARTICLE_DAYS, ARTICLES_A_DAY, TARGET_RATIO = 21, 6, 0.8
PARAGRAPH = ("The council met again on Tuesday to hear how the new timetable and the harbour "
             "works will change the daily routine of people who cross the river, and what "
             "the budget committee thinks the city can afford before the spring. ") * 3


def write_articles(content: Path) -> None:
    """Six articles a day for three weeks up to the measured digest, tagged in turn."""
    import uuid

    end = datetime(2026, 11, 25, 6, 0)  # noqa: DTZ001 - read in the site's timezone
    count = ARTICLE_DAYS * ARTICLES_A_DAY
    for k in range(count):
        date = end - timedelta(hours=24 / ARTICLES_A_DAY * (count - 1 - k))
        tags = [TAGS[k % 4]] + ([TAGS[(k + 1) % 4]] if k % 3 == 0 else [])
        ident = uuid.uuid5(uuid.NAMESPACE_URL, f"publisher-bench-{k}")
        (content / f"story-{k:04d}.md").write_text(
            f'---\ntitle: "Story number {k}"\nslug: "story-{k:04d}"\n'
            f"date: {date:%Y-%m-%d %H:%M}\ntags: [{', '.join(tags)}]\n"
            f'summary: "What happened in story {k}, in one sentence."\n'
            f'id: "urn:uuid:{ident}"\n---\n' + f"{PARAGRAPH}\n\n" * 4)


def populate_cadences(folder: Path, readers: int) -> Path:
    """A site with daily and weekly local, choosable schedules and `readers` who chose."""
    from publisher.store.database import NewSubscriber, Store

    site = folder / f"cadences-{readers}"
    (site / "content").mkdir(parents=True)
    (site / "schedules").mkdir()
    write_articles(site / "content")
    for name, text in SCHEDULES.items():
        (site / "schedules" / f"{name}.toml").write_text(text)
    (site / "publisher.toml").write_text(
        CONFIG.format(port=1, concurrency=1).replace('period = "60d"', 'period = "14d"'))
    people = (NewSubscriber(f"reader{i}@example.org", "Ana Lima" if i % 2 else "",
                            TOPICS[(i // 72) % 6], cadence=CADENCES[i % 3],
                            timezone=ZONES[(i // 3) % 24]) for i in range(readers))
    with Store.open(f"sqlite:///{site / 'template.db'}") as store:
        store.add_subscribers(people, now=datetime(2026, 11, 1, tzinfo=UTC))
    return site


class Sender:
    """One process's sends of the scenario's digests: its store, transport and articles."""

    def __init__(self, site: Path) -> None:
        from publisher import publish
        from publisher.config import load_settings
        from publisher.mail.outgoing import open_transport
        from publisher.schedule.files import load_schedules
        from publisher.store.database import Store

        self.settings = load_settings(site)
        self.store = Store.open(self.settings.store_url)
        self.transport = open_transport(self.settings)
        self.source = publish.read_source(self.settings)
        self.schedules = {s.name: s for s in load_schedules(self.settings)}
        self.cadences = [s.name for s in self.schedules.values()
                         if s.action == "digest" and s.choosable]

    def groups(self, family: str, before: datetime) -> dict[str, tuple[Schedule, datetime]]:
        """Each zone's copy of the local schedule `family` and its last due time before."""
        from publisher.schedule.local import expand_local
        from publisher.schedule.times import previous_due

        found = {}
        for group in expand_local([self.schedules[family]], self.store.reader_groups()):
            due = previous_due(group, before)
            assert group.group is not None and due is not None
            found[group.group.zone] = (group, due)
        return found

    def send(self, schedule: Schedule, due: datetime, *, publish_site: bool
             ) -> tuple[DeliveryReport | NoReaders | None, float, float]:
        """Send one schedule's digest for `due`, at `due`: the report and its sending phase
        (wall and CPU seconds, from the first message to the end)."""
        from publisher import publish
        from publisher.clock import fixed_clock
        from publisher.digest.issue import plan_of
        from publisher.send import DigestRun, default_plan, send_digest

        clock, source, settings = fixed_clock(due), self.source, self.settings
        run = DigestRun(settings, self.store, clock, source,
                        (lambda changed: publish.build(settings, clock, source=source))
                        if publish_site else (lambda changed: None))
        plan = plan_of(schedule, due, default_plan(settings), self.cadences)
        marks: list[tuple[float, float]] = []

        def progress(report: object, total: int) -> None:
            if not marks:
                marks.append((time.perf_counter(), time.process_time()))

        report = send_digest(run, self.transport, schedule=plan, due_at=due, progress=progress)
        if not marks:
            return report, 0.0, 0.0
        return report, time.perf_counter() - marks[0][0], time.process_time() - marks[0][1]


def run_history(site: Path) -> None:
    """Each zone's last weekly, then its last daily, sent; then 5 % change cadence."""
    sender = Sender(site)
    after = datetime.fromisoformat(NOW) + timedelta(minutes=1)
    measured = sender.groups("daily", after)
    for family in ("weekly", "daily"):
        from publisher.schedule.times import previous_due

        for zone, (group, _) in sender.groups(family, after).items():
            due = previous_due(group, measured[zone][1])
            assert due is not None
            sender.send(group, due, publish_site=False)
    store, changed = sender.store, 0
    for reader in list(store.iter_subscribers("active")):
        if reader.id % 20 == 7:
            store.set_preferences(reader.id, tags=reader.tags, cadence=CHANGED[reader.cadence],
                                  timezone=reader.timezone, hour=reader.hour)
            changed += 1
    store.close()
    print(json.dumps({"changed": changed}))


def run_cadence_sender(site: Path, mode: str) -> None:
    """Send the measured digest: every zone's daily (`tailored`) or the plain daily to
    everyone (`single`); print JSON with the sending phase's figures."""
    import publisher.digest.tailor as tailor
    from publisher.models import DeliveryReport
    from publisher.schedule.times import previous_due

    renderings = [0]
    render = vars(tailor)["render_digest"]

    def counted(*args: Any, **kwargs: Any) -> Any:
        renderings[0] += 1
        return render(*args, **kwargs)

    vars(tailor)["render_digest"] = counted  # the tailor's renderings, counted
    sender = Sender(site)
    after = datetime.fromisoformat(NOW) + timedelta(minutes=1)
    if mode == "tailored":
        runs = list(sender.groups("daily", after).values())
    else:
        everyone = sender.schedules["everyone"]
        due = previous_due(everyone, after)
        assert due is not None
        runs = [(everyone, due)]
    totals = dict.fromkeys(("sent", "skipped", "deferred", "bounced", "send_wall", "send_cpu",
                            "digests", "article_sets"), 0.0)
    for schedule, due in runs:
        report, wall, cpu = sender.send(schedule, due, publish_site=True)
        if not isinstance(report, DeliveryReport):
            continue
        assert report.stopped is None, report
        readership = sender.store.readership(report.digest_id)
        for key in ("sent", "skipped", "deferred", "bounced"):
            totals[key] += getattr(report, key)
        totals["send_wall"] += wall
        totals["send_cpu"] += cpu
        totals["digests"] += 1
        totals["article_sets"] += readership.article_sets if readership else 0
    sender.store.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps(totals | {"renderings": renderings[0], "max_rss_kb": usage.ru_maxrss,
                               "process_cpu": usage.ru_utime + usage.ru_stime}))


def checkpoint(database: Path) -> None:
    """Fold the write-ahead log into the database file, so that one file is a copy."""
    import sqlite3

    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def subprocess_figures(site: Path, port: int, concurrency: int, *command: str
                       ) -> dict[str, float]:
    """Run this script as `command` on a fresh copy of the site's template store."""
    return fresh_run(site, re_port(site, port, concurrency), *command)


def re_port(site: Path, port: int, concurrency: int) -> str:
    text = (site / "publisher.toml").read_text()
    head, _, _ = text.partition("[delivery]")
    return head + "[delivery]" + CONFIG.partition("[delivery]")[2].format(
        port=port, concurrency=concurrency)


def cadence_scenario(sizes: list[int], concurrency: int) -> dict[str, dict[str, float]]:
    """The history, then the single cohort and the tailored digests, for each size."""
    results: dict[str, dict[str, float]] = {}
    process, port = start_sink("minimal")
    try:
        with tempfile.TemporaryDirectory(prefix="publisher-cadences-") as tmp:
            for size in sizes:
                site = populate_cadences(Path(tmp), size)
                history = subprocess_figures(site, port, concurrency, "history")
                checkpoint(site / "publisher.db")
                for stale in ("template.db-wal", "template.db-shm"):
                    (site / stale).unlink(missing_ok=True)
                shutil.copyfile(site / "publisher.db", site / "template.db")
                print(f"{size:,}: history sent; {history['changed']:,.0f} readers changed "
                      f"cadence ({history['wall']:.0f} s)", flush=True)
                for mode in ("single", "tailored"):
                    r = results[f"{mode}-{size}"] = subprocess_figures(
                        site, port, concurrency, "cadence-sender", mode)
                    print(f"{size:,} {mode}: {r['sent']:,.0f} sent, {r['skipped']:,.0f} "
                          f"skipped, in {r['digests']:.0f} digests, {r['send_wall']:.1f} s",
                          flush=True)
                shutil.rmtree(site)
    finally:
        process.kill()
        process.wait()
    cadence_report(sizes, results)
    return results


def cadence_report(sizes: list[int], results: dict[str, dict[str, float]]) -> None:
    print(f"\n{'readers':>8} {'run':<9} {'digests':>7} {'sent':>7} {'skipped':>7} "
          f"{'renderings':>10} {'sets':>5} {'msg/s':>7} {'CPU ms/msg':>10} {'peak MB':>8}")
    for size in sizes:
        for mode in ("single", "tailored"):
            r = results[f"{mode}-{size}"]
            print(f"{size:>8,} {mode:<9} {r['digests']:>7.0f} {r['sent']:>7,.0f} "
                  f"{r['skipped']:>7,.0f} {r['renderings']:>10.0f} {r['article_sets']:>5.0f} "
                  f"{r['sent'] / r['send_wall']:>7,.0f} "
                  f"{r['send_cpu'] / r['sent'] * 1e3:>10.3f} {r['peak_mb']:>8.1f}")
    print()
    for size in sizes:
        single, tailored = results[f"single-{size}"], results[f"tailored-{size}"]
        ratio = (tailored["sent"] / tailored["send_wall"]) / (single["sent"] / single["send_wall"])
        renders, sets = tailored["renderings"], tailored["article_sets"]
        print(f"{size:>7,}: renderings {renders:.0f} for {sets:.0f} distinct article sets: "
              f"{verdict(renders <= sets)}; tailored/single-cohort rate {ratio:.2f} >= "
              f"{TARGET_RATIO}: {verdict(ratio >= TARGET_RATIO)}")
    peaks = {size: results[f"tailored-{size}"]["peak_mb"] for size in sizes}
    if len(peaks) > 1:
        small, large = peaks[min(peaks)], peaks[max(peaks)]
        print(f"tailored peak memory {small:.1f} MB at {min(peaks):,}, {large:.1f} MB at "
              f"{max(peaks):,}: {large / small - 1:+.1%} (<= +{TARGET_GROWTH:.0%}): "
              f"{verdict(large <= small * (1 + TARGET_GROWTH))}")


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
    parser.add_argument("--cadences", action="store_true",
                        help="readers who choose cadence, zone and topics (see above)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    if args.cadences:
        figures = cadence_scenario(args.sizes, args.concurrency)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
        print(json.dumps(figures))
        return
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
    elif len(sys.argv) > 2 and sys.argv[1] == "history":
        run_history(Path(sys.argv[2]))
    elif len(sys.argv) > 3 and sys.argv[1] == "cadence-sender":
        run_cadence_sender(Path(sys.argv[3]), sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == "sender":
        run_sender(Path(sys.argv[2]))
    else:
        main()
