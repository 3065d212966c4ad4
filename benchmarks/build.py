"""Time `publisher build` on a synthetic archive, and Pelican on the same articles.

`sitegen.py` writes N articles (10,000 by default) twice, once for each tool, into
a temporary folder. publisher builds them cold (which also writes an id into every
article), again with nothing changed, and again after one sentence changed;
Pelican, if installed, builds them cold and then with its content cache. Each
build is a process of its own, measured from outside by `measure.py`: wall and CPU
time, and peak memory including the worker processes that parse the articles.
The targets are printed with PASS or FAIL, and the last line holds every figure
as JSON.

Run: python benchmarks/build.py [--articles N] [--keep DIR] [--no-pelican]

With `--vs-hugo`, it instead times publisher against Debian's Hugo (`apt install hugo`)
on the same articles at 1,000, 10,000 and 30,000 articles (`--sizes`), in alternating
cold builds (`--pairs`), beside the floor of the machine (`versus_hugo.py`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from measure import Run, measure, show
from sitegen import (
    START,
    TAGS,
    Article,
    edit_one_sentence,
    make_articles,
    write_pelican_site,
    write_publisher_site,
)
from versus_hugo import report, run_size

REBUILD_TARGET_S, MEMORY_TARGET_MB, SPEEDUP_TARGET = 1.0, 500.0, 3.0


# --- the two tools ---------------------------------------------------------------------


def console(script: str, module: str) -> list[str]:
    """The tool's own command beside this interpreter, as a user would type it."""
    path = Path(sys.executable).parent / script
    return [str(path)] if path.is_file() else [sys.executable, "-c",
                                               f"import {module} as m; m.main()"]


def bench_publisher(site: Path, newest: Article, args: argparse.Namespace) -> dict[str, Run]:
    command = [*console("publisher", "publisher.cli"), "--site", str(site), "build"]
    logs, output = site.parent / "logs", site / "public"
    runs: dict[str, Run] = {}
    print("publisher build:")
    runs["cold"], text = measure("cold (empty cache and output)", command, site, output,
                                 logs / "publisher-cold.txt", args.sample_interval)
    _expect(text, rf"Published {args.articles:,} articles?\b", "publisher cold build")
    show(runs["cold"])
    again = []
    for i in range(args.repeat):
        run, _ = measure(f"no change #{i + 1}", command, site, output,
                         logs / f"publisher-again-{i + 1}.txt", args.sample_interval)
        again.append(run)
        show(run)
    runs["rebuild"] = again[0]  # the second build, the one a user meets first
    runs["rebuild_median"] = sorted(again, key=lambda r: r.seconds)[len(again) // 2]
    edit_one_sentence(site / "content" / str(newest.year) / f"{newest.slug}.md")
    runs["edit"], _ = measure("one article edited (the newest)", command, site, output,
                              logs / "publisher-edit.txt", args.sample_interval)
    show(runs["edit"])
    return runs


def bench_first_build(site: Path, args: argparse.Namespace) -> Run:
    """The one-time cost of an archive from elsewhere: every article gets its id written
    (and flushed to disk) on top of a cold build."""
    command = [*console("publisher", "publisher.cli"), "--site", str(site), "build"]
    run, text = measure("cold, writing an id into every article", command, site,
                        site / "public", site.parent / "logs" / "publisher-ids.txt",
                        args.sample_interval)
    _expect(text, rf"Published {args.articles:,} articles?\b", "publisher first build")
    show(run)
    return run


def bench_pelican(site: Path, args: argparse.Namespace) -> dict[str, Run]:
    base = [*console("pelican", "pelican"), "content", "-o", "output", "-s"]
    logs, output = site.parent / "logs", site / "output"
    print("pelican:")
    runs: dict[str, Run] = {}
    steps = (("cold", "cold (defaults: no content cache)", "pelicanconf.py"),
             ("priming", "cold, writing its content cache", "pelicanconf_cached.py"),
             ("rebuild", "no change (content cache loaded)", "pelicanconf_cached.py"))
    for key, label, settings in steps:
        runs[key], text = measure(label, [*base, settings], site, output,
                                  logs / f"pelican-{key}.txt", args.sample_interval)
        _expect(text, rf"Processed\s+{args.articles}\s+articles?", f"pelican {key} build")
        show(runs[key])
    return runs


def _expect(text: str, pattern: str, what: str) -> None:
    if not re.search(pattern, text):
        sys.exit(f"{what}: expected /{pattern}/ in its output, got:\n{text[-2000:]}")


# --- report ----------------------------------------------------------------------------


def machine_info() -> dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory = Path("/proc/meminfo").read_text().split()[1]
    return {"cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "cpu": model, "memory_gb": round(int(memory) * 1024 / 1e9, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_before": os.getloadavg()[0]}


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ("publisher", "pelican", "markdown"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    spec = importlib.util.find_spec("publisher.cli")
    checkout = Path(spec.origin).parent.parent.parent if spec and spec.origin else None
    found["publisher_path"] = str(checkout) if checkout else None
    found["publisher_commit"] = _commit(checkout) if checkout else None
    return found


def _commit(repo: Path) -> str | None:
    """The checkout's commit, marked when publisher/ has changes not yet committed."""
    def git(*words: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *words], capture_output=True,
                              text=True, check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if commit and git("status", "--porcelain", "--", "publisher"):
        commit += "+uncommitted"
    return commit or None


def targets(ours: dict[str, Run], theirs: dict[str, Run] | None) -> dict[str, object]:
    peak = max(r.peak_mb for r in ours.values())
    result: dict[str, object] = {
        "rebuild_under_1s": ours["rebuild"].seconds < REBUILD_TARGET_S,
        "peak_memory_under_500mb": peak < MEMORY_TARGET_MB,
        "cold_3x_faster_than_pelican": None,
    }
    print("targets:")
    if theirs:
        speedup = theirs["cold"].seconds / ours["cold"].seconds
        result["cold_3x_faster_than_pelican"] = speedup >= SPEEDUP_TARGET
        print(f"  cold build ≥3× faster than Pelican's   {speedup:5.2f}× as fast   "
              f"{_verdict(speedup >= SPEEDUP_TARGET)}")
        if "first_build" in ours:
            first = theirs["cold"].seconds / ours["first_build"].seconds
            print(f"  (first build that also writes every id: {first:.2f}× as fast as "
                  "Pelican's cold build; a one-time cost, no target)")
    else:
        print("  cold build ≥3× faster than Pelican's   (no Pelican run)   SKIP")
    print(f"  no-change rebuild < 1 s               {ours['rebuild'].seconds:5.2f} s   "
          f"{_verdict(ours['rebuild'].seconds < REBUILD_TARGET_S)}   (the second build; "
          f"median of the no-change builds {ours['rebuild_median'].seconds:.2f} s)")
    print(f"  peak memory < 500 MB                  {peak:5.1f} MB   "
          f"{_verdict(peak < MEMORY_TARGET_MB)}")
    return result


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def ratios(ours: dict[str, Run], theirs: dict[str, Run]) -> dict[str, float]:
    cold = ours["cold"].seconds / theirs["cold"].seconds
    again = ours["rebuild"].seconds / theirs["rebuild"].seconds
    memory = max(r.peak_mb for r in ours.values()) / max(r.peak_mb for r in theirs.values())
    print(f"publisher/Pelican: cold {cold:.3f} (publisher {1 / cold:.1f}× as fast), no-change "
          f"rebuild {again:.3f} ({1 / again:.1f}× as fast), peak memory {memory:.2f}")
    return {"cold": cold, "rebuild": again, "peak_memory": memory}


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000, metavar="N",
                        help="how many articles to generate (default 10000)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="generate the sites in DIR (new or empty) and keep them")
    parser.add_argument("--no-pelican", action="store_true", help="skip the Pelican baseline")
    parser.add_argument("--repeat", type=int, default=3,
                        help="no-change builds to run (default 3); the first is the one the "
                        "target is judged on, the median is shown beside it")
    parser.add_argument("--seed", type=int, default=1, help="seed of the article generator")
    parser.add_argument("--no-first-build", dest="first_build", action="store_false",
                        help="skip the first build of a copy whose articles have no ids yet")
    parser.add_argument("--vs-hugo", action="store_true",
                        help="time publisher against Hugo in paired cold builds instead")
    parser.add_argument("--sizes", default="1000,10000,30000", metavar="N,N,…",
                        help="site sizes for --vs-hugo (default 1000,10000,30000)")
    parser.add_argument("--pairs", type=int, default=5,
                        help="alternating cold builds of each tool for --vs-hugo (default 5)")
    parser.add_argument("--sample-interval", type=float, default=0.01, metavar="SECONDS",
                        help="how often /proc is polled for memory; 0 turns sampling off")
    args = parser.parse_args(argv)
    if args.articles < 1 or args.repeat < 1:
        parser.error("--articles and --repeat must be at least 1")
    try:
        args.sizes = [int(n) for n in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes {args.sizes}: give whole numbers separated by commas")
    if min(args.sizes) < 1 or args.pairs < 1:
        parser.error("--sizes and --pairs must be at least 1")
    if args.vs_hugo and shutil.which("hugo") is None:
        parser.error("--vs-hugo needs Hugo on PATH: apt install hugo")
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: the folder is not empty")
    return args


def pelican_available(args: argparse.Namespace) -> bool:
    if args.no_pelican:
        return False
    if importlib.util.find_spec("pelican") is None:
        print('Pelican is not installed, so there is no baseline; install it with\n'
              '  pip install "pelican[markdown]>=4.9"   (or: pip install -e ".[bench]")')
        return False
    return True


SETTLE_S = 2.1  # publisher.content.stamps.RACY_NS, and a little more


def generate(root: Path, args: argparse.Namespace, with_pelican: bool) -> list[Article]:
    start = time.perf_counter()
    articles = make_articles(args.articles, args.seed)
    write_publisher_site(root / "publisher", articles)
    if args.first_build:
        write_publisher_site(root / "publisher-no-ids", articles, with_ids=False)
    if with_pelican:
        write_pelican_site(root / "pelican", articles)
    (root / "logs").mkdir()
    os.sync()  # the generator's writes go to disk now, not during the first timed build
    # A real site's files were written long before its build. A file written within two
    # seconds of a build is rightly not trusted by its stamps (publisher.content.stamps),
    # which would make the first no-change build below a full one.
    took = time.perf_counter() - start
    time.sleep(SETTLE_S)
    words = statistics.mean(len(a.body.split()) for a in articles)
    per_tag = statistics.mean(len(a.tags) for a in articles)
    print(f"site: {len(articles):,} article(s), {words:.0f} words each on average, "
          f"{len(TAGS)} tags ({per_tag:.2f} per article), {START.year}–{START.year + 11}, "
          f"in {root} (written in {took:.1f} s, then left to settle for {SETTLE_S} s)")
    return articles


def main_vs_hugo(args: argparse.Namespace) -> None:
    hugo = subprocess.run(["hugo", "version"], capture_output=True, text=True, check=False)
    print(f"hugo: {hugo.stdout.strip()}")
    root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="publisher-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        results = [run_size(root, n, args, console("publisher", "publisher.cli"))
                   for n in args.sizes]
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    summary = report(results)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(json.dumps({"machine": machine_info(), "versions": versions(), **summary},
                     separators=(",", ":")))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.vs_hugo:
        main_vs_hugo(args)
        return
    with_pelican = pelican_available(args)
    machine, found = machine_info(), versions()
    print(f"machine: {machine['cores']} cores ({machine['usable_cores']} usable), "
          f"{machine['cpu']}, {machine['memory_gb']} GB RAM, {machine['platform']}, "
          f"Python {machine['python']}, load average {machine['load_average_before']:.2f}")
    print(f"versions: publisher {found['publisher']} ({found['publisher_path']}, commit "
          f"{found['publisher_commit'] or 'unknown'}), "
          f"pelican {found['pelican'] if with_pelican else '-'}")
    root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="publisher-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        articles = generate(root, args, with_pelican)
        newest = max(articles, key=lambda a: a.date)
        ours = bench_publisher(root / "publisher", newest, args)
        if args.first_build:
            ours["first_build"] = bench_first_build(root / "publisher-no-ids", args)
        theirs = bench_pelican(root / "pelican", args) if with_pelican else None
        compared = ratios(ours, theirs) if theirs else None
        verdicts = targets(ours, theirs)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    machine["load_average_after"] = os.getloadavg()[0]
    print(f"load average at the end: {machine['load_average_after']:.2f} (other work on the "
          "machine makes the figures noisier)")
    print(json.dumps({
        "articles": args.articles, "machine": machine, "versions": found,
        "publisher": {k: asdict(r) for k, r in ours.items()},
        "pelican": {k: asdict(r) for k, r in theirs.items()} if theirs else None,
        "ratios": compared, "targets": verdicts,
    }, separators=(",", ":")))


if __name__ == "__main__":
    main()
