"""Run one build as its own process and measure it from outside.

Wall time from start to exit (start-up included); CPU time of the build and of
every worker process it waited for; memory two ways: the kernel's high-water
mark of the largest single process (`ru_maxrss` from `wait4`), and the sampled
peak of the summed PSS (and RSS) of the build and all its descendants — the
figure judged is the larger of the first and the summed PSS, since forked
workers share the build's pages and summed RSS would count those once per
process; and the output files written or removed, from a before/after listing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    seconds: float
    cpu_seconds: float
    max_process_rss_mb: float  # kernel high-water mark of the largest single process
    tree_rss_mb: float  # sampled peak of the summed RSS of the build and its descendants
    tree_pss_mb: float  # the same for PSS (shared pages divided among their users)
    peak_processes: int
    files_written: int
    files_removed: int

    @property
    def peak_mb(self) -> float:
        """The memory the build occupied at its peak.

        Worker processes forked from the build share its pages until they change
        them; summing their RSS counts every shared page once per process, PSS
        counts it once in all. The largest single process's own high-water mark
        is the floor, in case sampling missed a short peak.
        """
        return max(self.max_process_rss_mb, self.tree_pss_mb)


class TreeSampler(threading.Thread):
    """Polls /proc for the peak summed RSS and PSS of a process and its descendants.

    RSS (/proc/PID/statm) costs microseconds and is read at every tick. Looking
    for new worker processes (a scan of /proc) and PSS (smaps_rollup, a walk of
    the page tables) cost milliseconds, so the scan runs every 0.1 s and PSS is
    read only when the RSS sum has grown 5% past where PSS was last read: near
    the peak, at a cost of a few dozen reads a build.
    """

    RESCAN_S, PSS_STEP = 0.1, 1.05

    def __init__(self, root_pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.interval = root_pid, interval
        self.peak_rss = self.peak_pss = self.peak_processes = 0
        self._done = threading.Event()

    def run(self) -> None:
        pids: list[int] = []
        scanned, measured_at = 0.0, 0
        while not self._done.is_set():
            now = time.monotonic()
            if now - scanned >= self.RESCAN_S:
                pids, scanned = _descendants(self.root_pid), now
                self.peak_processes = max(self.peak_processes, len(pids))
            rss = sum(_rss(pid) for pid in pids)
            self.peak_rss = max(self.peak_rss, rss)
            if rss > measured_at * self.PSS_STEP:
                self.peak_pss = max(self.peak_pss, sum(_pss(pid) for pid in pids))
                measured_at = rss
            self._done.wait(self.interval)

    def finish(self) -> None:
        self._done.set()
        self.join()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    ppid = int(handle.read().rpartition(b")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _rss(pid: int) -> int:
    """Resident bytes of a process, or 0 for one that has gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    """Proportional set size in bytes: shared pages divided among the processes sharing them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            match = re.search(rb"^Pss:\s+(\d+) kB", handle.read(), re.MULTILINE)
    except OSError:
        return 0
    return int(match.group(1)) * 1024 if match else 0


def _snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    files = {}
    for path in folder.rglob("*") if folder.is_dir() else ():
        if path.is_file():
            stat = path.stat()
            files[str(path)] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return files


def measure(label: str, command: list[str], cwd: Path, output: Path, log: Path,
            interval: float) -> tuple[Run, str]:
    """Run one build to its end; its output goes to `log`, its figures come back."""
    before = _snapshot(output)
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid, interval)
        if interval > 0:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if interval > 0:
            sampler.finish()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"{label} failed (exit {proc.returncode}); its output:\n{text[-4000:]}")
    after = _snapshot(output)
    written = sum(1 for p, s in after.items() if before.get(p) != s)
    run = Run(label, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / MB,
              sampler.peak_rss / MB, sampler.peak_pss / MB, sampler.peak_processes, written,
              len(set(before) - set(after)))
    return run, text


def show(run: Run) -> None:
    memory = "largest process; no sampling"
    if run.peak_processes:
        memory = (f"summed RSS {run.tree_rss_mb:.1f}, largest process "
                  f"{run.max_process_rss_mb:.1f}, {run.peak_processes} proc")
    print(f"  {run.label:<34} {run.seconds:7.2f} s   cpu {run.cpu_seconds:6.2f} s   "
          f"peak {run.peak_mb:6.1f} MB ({memory})   "
          f"wrote {run.files_written}, removed {run.files_removed}")
