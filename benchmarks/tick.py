"""How much a `publisher tick` costs, and whether a dense timetable makes it cost more.

Two figures: the time `schedule.times.previous_due` takes for timetables from
per-minute to once a leap year (a digest's first issue reaches back to the
previous due time), and the wall and CPU time of a whole `publisher tick` that
sends a per-minute digest, as its own process, against one that sends a daily one.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from publisher.models import Schedule
from publisher.schedule.times import previous_due

CRONS = ("* * * * *", "*/5 * * * *", "0 * * * *", "0 7 * * mon-fri", "* * 1 * *",
         "0 0 1 1 *", "0 12 29 2 *")
CONFIG = """\
title = "Tick bench"
base_url = "https://bench.example.org/"
timezone = "America/Chicago"
[author]
name = "Desk"
[email]
from_address = "digest@bench.example.org"
period = "30d"
"""
ARTICLE = "---\ntitle: Story {n}\ndate: 2026-11-{day:02d} 08:{n:02d}\nid: s{n}\n---\nText {n}.\n"
NOW = "2026-11-25T07:00:30-06:00"


def time_previous_due(repeat: int) -> None:
    before = datetime(2026, 11, 25, 13, 0, 30, tzinfo=UTC)
    print(f"previous_due, median of {repeat} calls:")
    for cron in CRONS:
        schedule = Schedule("bench", "digest", "America/Chicago", cron=cron)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            found = previous_due(schedule, before)
            times.append(time.perf_counter() - start)
        median = sorted(times)[len(times) // 2]
        print(f"  {cron:18} {median * 1000:7.2f} ms   -> {found:%Y-%m-%d %H:%M} UTC")


def make_site(root: Path, cron: str, articles: int) -> None:
    (root / "content").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "publisher.toml").write_text(CONFIG)
    (root / "schedules/digest.toml").write_text(f'action = "digest"\ncron = "{cron}"\n'
                                                'catch_up = "1h"\n')
    for n in range(articles):
        (root / f"content/s{n}.md").write_text(ARTICLE.format(n=n % 60, day=n % 24 + 1))
    # One article of the last minute, so that even the per-minute digest has news.
    (root / "content/fresh.md").write_text("---\ntitle: Fresh\ndate: 2026-11-25 07:00\n"
                                           "id: fresh\n---\nJust in.\n")


def time_tick(root: Path, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of a tick that sends the digest (each on a fresh store)."""
    walls, cpus = [], []
    env = {**os.environ, "PUBLISHER_SECRET_KEY": "a-benchmark-signing-secret-of-32-bytes"}
    for _ in range(runs):
        for leftover in ("publisher.db", "publisher.db-wal", "publisher.db-shm"):
            (root / leftover).unlink(missing_ok=True)
        shutil.rmtree(root / "outbox", ignore_errors=True)
        shutil.rmtree(root / "digests", ignore_errors=True)
        subprocess.run([sys.executable, "-c", "from publisher.cli import main; main()",
                        "--site", str(root), "subscribers", "add", "reader@example.org"],
                       env=env, check=True, capture_output=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "from publisher.cli import main; main()",
                               "--site", str(root), "tick", "--now", NOW], env=env, check=True,
                              capture_output=True, text=True)
        if "digest " not in done.stdout or "sent" not in done.stdout:
            raise SystemExit(f"the tick sent no digest: {done.stdout}")
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return sorted(walls)[runs // 2], sorted(cpus)[runs // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--articles", type=int, default=50)
    options = parser.parse_args()
    time_previous_due(max(options.runs, 5) * 10)
    with tempfile.TemporaryDirectory() as folder:
        print(f"publisher tick sending a digest of {options.articles} articles, median of "
              f"{options.runs} runs:")
        for label, cron in (("per minute", "* * * * *"), ("daily", "0 7 * * *")):
            root = Path(folder) / label.replace(" ", "-")
            make_site(root, cron, options.articles)
            wall, cpu = time_tick(root, options.runs)
            print(f"  {label:10} ({cron:9}): {wall:.2f} s wall, {cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
