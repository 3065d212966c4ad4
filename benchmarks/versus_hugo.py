"""publisher against Hugo on the same articles, in paired runs, beside the machine's floor.

For each size, both sites are written from the same seeded articles (`hugosite.py`
gives Hugo the same pages and feeds), then cold builds alternate, publisher, Hugo,
publisher, Hugo…, each from an empty output and cache; the ratio of each pair is
taken and the median of the pairs printed, so a burst of other work on the machine
lands on both sides of one pair rather than on one tool. Then publisher's
no-change and one-edit rebuilds (Hugo has no incremental build: each is a full one).

The floor is what no build of these articles can beat here: read every source,
render the Markdown with pyromark over every core, and write publisher's output
files (the same bytes) into a fresh folder.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyromark
from hugosite import write_hugo_site
from measure import Run, measure, show
from sitegen import edit_one_sentence, make_articles, write_publisher_site

COLD_1K_RATIO, COLD_10K_RATIO, COLD_10K_SECONDS = 0.6, 0.4, 2.5
NO_CHANGE_S = {10_000: 0.2, 30_000: 0.4}
EDIT_10K_S, MEMORY_SHARE, MEMORY_30K_MB, LINEAR_TOLERANCE = 0.3, 0.1, 500.0, 0.10


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SizeResult:
    articles: int
    ours_cold: list[Run]
    hugo_cold: list[Run]
    no_change: Run
    edit: Run
    floor_s: dict[str, float]

    @property
    def ratio(self) -> float:
        """Median of the pairs' ratios (publisher's time over Hugo's)."""
        return statistics.median(o.seconds / h.seconds
                                 for o, h in zip(self.ours_cold, self.hugo_cold, strict=True))

    @property
    def ours_s(self) -> float:
        return statistics.median(r.seconds for r in self.ours_cold)

    @property
    def hugo_s(self) -> float:
        return statistics.median(r.seconds for r in self.hugo_cold)

    @property
    def ours_mb(self) -> float:
        return max(r.peak_mb for r in [*self.ours_cold, self.no_change, self.edit])

    @property
    def hugo_mb(self) -> float:
        return max(r.peak_mb for r in self.hugo_cold)


def _clear(*paths: Path) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _in_child(work: Callable[..., T], *args: object) -> T:
    """Run `work` in a process of its own: a build's `ru_maxrss` counts what the
    benchmark held when it forked the build, so the benchmark holds no articles."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        return pool.submit(work, *args).result()


def write_sites(base: Path, count: int, seed: int) -> Path:
    """Both sites of `count` articles; the newest article's source in publisher's."""
    articles = make_articles(count, seed)
    write_publisher_site(base / "publisher", articles)
    write_hugo_site(base / "hugo", articles)
    (base / "logs").mkdir()
    os.sync()
    newest = max(articles, key=lambda a: a.date)
    return base / "publisher" / "content" / str(newest.year) / f"{newest.slug}.md"


def run_size(root: Path, count: int, args: argparse.Namespace, publisher: list[str]) -> SizeResult:
    base = root / f"{count}"
    base.mkdir()
    newest = _in_child(write_sites, base, count, args.seed)
    ours_site, hugo_site, logs = base / "publisher", base / "hugo", base / "logs"
    ours_cmd = [*publisher, "--site", str(ours_site), "build"]
    hugo_cmd = ["hugo", "--quiet", "--source", str(hugo_site)]
    print(f"{count:,} articles:")
    ours, hugo = [], []
    for pair in range(1, args.pairs + 1):
        _clear(ours_site / "public", ours_site / ".publisher")
        run, _ = measure(f"publisher cold #{pair}", ours_cmd, ours_site, ours_site / "public",
                         logs / f"publisher-{pair}.txt", args.sample_interval)
        ours.append(run)
        show(run)
        _clear(hugo_site / "public", hugo_site / "resources")
        run, _ = measure(f"hugo cold #{pair}", hugo_cmd, hugo_site, hugo_site / "public",
                         logs / f"hugo-{pair}.txt", args.sample_interval)
        hugo.append(run)
        show(run)
    again = []
    for i in range(args.repeat):
        run, _ = measure(f"publisher no change #{i + 1}", ours_cmd, ours_site,
                         ours_site / "public", logs / f"again-{i}.txt", args.sample_interval)
        again.append(run)
        show(run)
    edit_one_sentence(newest)
    edit, _ = measure("publisher, one article edited", ours_cmd, ours_site, ours_site / "public",
                      logs / "edit.txt", args.sample_interval)
    show(edit)
    floor = _in_child(machine_floor, ours_site, base / "floor")
    print(f"  floor: read {floor['read']:.2f} s + render {floor['render']:.2f} s + write "
          f"{floor['write']:.2f} s = {sum(floor.values()):.2f} s")
    if not args.keep:
        _clear(base)
    return SizeResult(count, ours, hugo, sorted(again, key=lambda r: r.seconds)[len(again) // 2],
                      edit, floor)


def _render(bodies: list[str]) -> int:
    return sum(len(pyromark.html(body)) for body in bodies)


def machine_floor(site: Path, into: Path) -> dict[str, float]:
    """Seconds to read the sources, render their Markdown on every core, and write the
    build's output files anew: the work no build of this site can skip."""
    sources = sorted((site / "content").rglob("*.md"))
    start = time.perf_counter()
    texts = [path.read_bytes() for path in sources]
    read = time.perf_counter() - start
    workers = len(os.sched_getaffinity(0))
    bodies = [text.decode().split("\n---\n", 1)[-1] for text in texts]
    chunks = [bodies[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        pool.submit(int).result()  # the pool's start-up is not rendering
        start = time.perf_counter()
        sum(pool.map(_render, chunks))
        render = time.perf_counter() - start
    write = 0.0
    for path in (site / "public").rglob("*"):
        if path.is_file():
            data, target = path.read_bytes(), into / path.relative_to(site / "public")
            start = time.perf_counter()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            write += time.perf_counter() - start
    _clear(into)
    return {"read": read, "render": render, "write": write}


def report(results: list[SizeResult]) -> dict[str, object]:
    """Print each size's paired figures and the issue's targets with PASS or FAIL."""
    print("publisher vs Hugo (median of the pairs; ratio = publisher's time / Hugo's):")
    print(f"  {'articles':>8}  {'publisher':>10}  {'hugo':>8}  {'ratio':>6}  {'floor':>6}  "
          f"{'no change':>9}  {'one edit':>8}  {'memory (ours / hugo)':>22}")
    for r in results:
        print(f"  {r.articles:>8,}  {r.ours_s:>8.2f} s  {r.hugo_s:>6.2f} s  {r.ratio:>6.2f}  "
              f"{sum(r.floor_s.values()):>4.2f} s  {r.no_change.seconds:>7.2f} s  "
              f"{r.edit.seconds:>6.2f} s  {r.ours_mb:>7.0f} / {r.hugo_mb:>5.0f} MB "
              f"({r.ours_mb / r.hugo_mb:.2f})")
    by_size = {r.articles: r for r in results}
    verdicts: dict[str, bool] = {}
    if 1_000 in by_size:
        verdicts["cold_1k_le_0.6x_hugo"] = by_size[1_000].ratio <= COLD_1K_RATIO
    if 10_000 in by_size:
        r = by_size[10_000]
        verdicts["cold_10k_le_2.5s"] = r.ours_s <= COLD_10K_SECONDS
        verdicts["cold_10k_le_0.4x_hugo"] = r.ratio <= COLD_10K_RATIO
        verdicts["edit_10k_le_0.3s"] = r.edit.seconds <= EDIT_10K_S
    for size, limit in NO_CHANGE_S.items():
        if size in by_size:
            verdicts[f"no_change_{size // 1000}k_le_{limit}s"] = (
                by_size[size].no_change.seconds <= limit)
    if 10_000 in by_size and 30_000 in by_size:
        per_10k = by_size[10_000].ours_s / 10_000
        per_30k = by_size[30_000].ours_s / 30_000
        verdicts["linear_30k_within_10pct"] = per_30k <= per_10k * (1 + LINEAR_TOLERANCE)
        verdicts["memory_30k_under_500mb"] = by_size[30_000].ours_mb < MEMORY_30K_MB
    verdicts["memory_le_0.1x_hugo_everywhere"] = all(
        r.ours_mb <= r.hugo_mb * MEMORY_SHARE for r in results)
    print("targets:")
    for name, ok in verdicts.items():
        print(f"  {name:<34} {'PASS' if ok else 'FAIL'}")
    return {"sizes": [{"articles": r.articles, "publisher_s": r.ours_s, "hugo_s": r.hugo_s,
                       "ratio": r.ratio, "floor_s": r.floor_s,
                       "no_change_s": r.no_change.seconds, "edit_s": r.edit.seconds,
                       "publisher_mb": r.ours_mb, "hugo_mb": r.hugo_mb} for r in results],
            "targets": verdicts}
