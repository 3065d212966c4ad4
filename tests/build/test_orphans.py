"""Builds are clean after anything: a SIGKILL, a full disk, a write that fails half-way.

The kills and write limits are real: `publisher build` runs as a process of its
own, is killed with SIGKILL while its workers render, or is started under a
file-size limit (`ulimit -f`) so that its writes fail as on a full disk.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from publisher import publish
from publisher.atomic import temp_name, write_temp, writer_of
from publisher.build import orphans
from tests.conftest import SiteFactory, article, settings_of, snapshot

PUBLISHER = [sys.executable, "-c", "from publisher.cli import main; main()"]
MANY = {f"content/a{n:03}.md": article(f"Story number {n}", f"2026-{n % 9 + 1:02}-{n % 27 + 1:02}",
                                       tags=f"[t{n % 7}]", id=f"id-{n}") for n in range(450)}


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.name.endswith(".tmp")]


def dead_pid() -> int:
    """The number of a process that has just ended."""
    with subprocess.Popen(["true"]) as process:
        process.wait()
    return process.pid


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def test_temporary_files_name_their_writer() -> None:
    target = "/site/public/2026/11/ferry/index.html"
    assert temp_name(target, 4242) == "/site/public/2026/11/ferry/.index.html.4242.tmp"
    assert writer_of(".index.html.4242.tmp") == 4242
    assert writer_of(".v.2.html.77.tmp") == 77
    assert writer_of(".a.md.901.k3j4l5m6.tmp") == 901
    assert writer_of(".a.md.swp") is None
    assert writer_of("index.html") is None


def test_a_sweep_removes_only_our_files_whose_writer_is_gone(tmp_path: Path) -> None:
    gone = dead_pid()
    (tmp_path / "2026/11/ferry").mkdir(parents=True)
    (tmp_path / "2026/11/ferry/index.html").write_text("kept")
    stale = [tmp_path / f".rss.xml.{gone}.tmp", tmp_path / f"2026/11/ferry/.index.html.{gone}.tmp",
             tmp_path / f"2026/12/x/.index.html.{gone}.tmp"]
    stale[2].parent.mkdir(parents=True)
    for path in stale:
        path.write_text("debris")
    mine = tmp_path / f".atom.xml.{os.getpid()}.tmp"
    mine.write_text("being written")
    other = tmp_path / ".notes.swp"
    other.write_text("someone else's")
    assert orphans.sweep(tmp_path, {"2026/11/ferry"}, prune=True) == 3
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        f".atom.xml.{os.getpid()}.tmp", ".notes.swp", "2026", "2026/11", "2026/11/ferry",
        "2026/11/ferry/index.html"]


def test_an_article_left_half_written_by_a_killed_writer_is_swept(tmp_path: Path) -> None:
    gone = dead_pid()
    leftover = write_temp(tmp_path / "a.md", b"half")
    os.rename(leftover, leftover.replace(f".{os.getpid()}.", f".{gone}."))
    assert orphans.sweep(tmp_path) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_worker_dies_with_its_build() -> None:
    script = ("import os, sys, time\n"
              "from publisher.build.orphans import die_with_parent\n"
              "parent = os.getpid()\n"
              "if os.fork() == 0:\n"
              "    die_with_parent(parent)\n"
              "    print(os.getpid(), flush=True)\n"
              "    time.sleep(60)\n"
              "    os._exit(0)\n"
              "time.sleep(60)\n")
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          text=True) as build:
        assert build.stdout is not None
        worker = int(build.stdout.readline())
        assert alive(worker)
        build.kill()
    assert wait_until(lambda: not alive(worker), timeout=5)


def test_a_build_killed_while_its_workers_render_leaves_nothing_behind(
        make_site: SiteFactory, clock) -> None:
    root = make_site(MANY)
    build = subprocess.Popen([*PUBLISHER, "--site", str(root), "build", "--now",
                              "2026-12-01T00:00:00+00:00"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    public = root / "public"
    workers: set[int] = set()

    def rendering() -> bool:
        workers.update(children(build.pid))
        return public.is_dir() and any(writer_of(p.name) != build.pid for p in temp_files(public))

    assert wait_until(rendering), "the build ended before its workers wrote a file"
    workers.update(children(build.pid))
    build.send_signal(signal.SIGKILL)
    build.wait()
    assert workers, "no render worker was seen"
    assert wait_until(lambda: not any(alive(w) for w in workers), timeout=5)
    left = temp_files(public)
    assert left, "the kill left nothing to clean (it came too late to test anything)"
    clean = make_site(MANY, name="clean")
    publish.build(settings_of(clean), clock)
    # Orphaned workers would have rendered their whole share: every file, in temporary form.
    assert len(left) < len(snapshot(clean / "public")), "the workers went on writing"
    report = publish.build(settings_of(root), clock)
    assert temp_files(public) == [] and temp_files(root / "content") == []
    assert report.articles == 450
    assert snapshot(public) == snapshot(clean / "public")


def limited(size: int) -> None:
    """In the child: writes past `size` bytes fail with EFBIG, as on a disk that is full."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs a POSIX file-size limit")
def test_a_write_that_fails_for_lack_of_room_leaves_the_previous_output(
        make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article("Alpha", "2026-10-01")})
    publish.build(settings_of(root), clock)
    before = snapshot(root / "public")
    huge = "A long paragraph that goes on. " * 40_000
    (root / "content/b.md").write_text(article("Beta", "2026-10-02", id="b", body=huge))
    result = subprocess.run([*PUBLISHER, "--site", str(root), "build"], capture_output=True,
                            text=True, preexec_fn=lambda: limited(400_000), check=False)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {root}/public/") and \
        lines[0].endswith(": cannot write the output: File too large")
    assert lines[1:] == ["  hint: the file is larger than this process may write: see "
                         "`ulimit -f`"]
    assert snapshot(root / "public") == before
    assert temp_files(root / "public") == []
    assert not (root / "public/2026/10/beta").exists()  # nor the folder made for it
