"""A no-change build answered from the stamps of its inputs and outputs, and every change
that must send the build back to the full path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.build import quick
from publisher.build.orphans import CLEAN_MARK
from publisher.content import stamps
from tests.conftest import SiteFactory, article, cli_ok

FILES = {f"content/a{n}.md": article(f"Story {n}", f"2026-10-{n:02d}", tags="[x]",
                                    id=f"urn:uuid:00000000-0000-4000-8000-00000000000{n}")
         for n in range(1, 4)}


def later() -> datetime:
    """A moment after every build so far."""
    return datetime.now(UTC) + timedelta(seconds=1)


HEAVY = ("pydantic", "jinja2", "yaml", "nh3", "publisher.publish", "publisher.config")


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written before a build are old enough to trust their stamps."""
    monkeypatch.setattr(stamps, "RACY_NS", 0)


@pytest.fixture
def built(make_site: SiteFactory, settled: None) -> Path:
    root = make_site(FILES)
    cli_ok(root, "build")
    return root


def test_an_unchanged_site_is_answered_with_the_full_builds_summary(built: Path) -> None:
    answer = quick.unchanged(built, later())
    assert answer is not None
    assert answer.output_dir == "public"
    assert (answer.report.articles, answer.report.drafts) == (3, 0)
    assert answer.report.unchanged == sum(1 for p in (built / "public").rglob("*")
                                          if p.is_file())
    summary = cli_ok(built, "build")
    assert summary == (f"Published 3 articles to public/: 0 written, "
                       f"{answer.report.unchanged:,} unchanged, 0 removed\n")


def test_the_answer_needs_neither_the_configuration_nor_the_templates(built: Path) -> None:
    probe = ("import sys; from publisher.cli import cli; "
             f"cli.main(['--site', {str(built)!r}, 'build'], standalone_mode=False); "
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    said = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    assert said[0].startswith("Published 3 articles to public/: 0 written")
    assert said[-1] == "[]"


def _rewrite_keeping_size_and_time(root: Path) -> None:
    path = root / "content/a1.md"
    info = path.stat()
    path.write_text(path.read_text("utf-8").replace("Story 1", "Story 9"), "utf-8")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # as `touch -d` or `cp -p` would


CHANGES: dict[str, Callable[[Path], object]] = {
    "an article edited": lambda root: (root / "content/a2.md").write_text(
        article("Story 2, corrected", "2026-10-02", tags="[x]",
                id="urn:uuid:00000000-0000-4000-8000-000000000002"), "utf-8"),
    "an article edited, its size and time put back": _rewrite_keeping_size_and_time,
    "an article added": lambda root: (root / "content/a9.md").write_text(
        article("Story 9", "2026-10-09", id="urn:uuid:00000000-0000-4000-8000-000000000009"),
        "utf-8"),
    "an article added in a new folder": lambda root: (root / "content/2026").mkdir(),
    "an article removed": lambda root: (root / "content/a3.md").unlink(),
    "the configuration edited": lambda root: (root / "publisher.toml").write_text(
        (root / "publisher.toml").read_text("utf-8").replace("Test Gazette", "Gazette"),
        "utf-8"),
    "a templates folder made": lambda root: (root / "templates/site").mkdir(parents=True),
    "a static file added": lambda root: (root / "static").mkdir(),
    "a schedule added": lambda root: (root / "schedules").mkdir(),
    "an output file deleted": lambda root: (root / "public/feed.json").unlink(),
    "an output file edited": lambda root: (root / "public/index.html").write_text("x", "utf-8"),
    "the last build killed before it ended": lambda root: (
        root / ".publisher" / CLEAN_MARK).unlink(),
    "the answer's own file damaged": lambda root: (
        root / ".publisher" / quick.QUICK_NAME).write_text("{", "utf-8"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_change_goes_to_the_full_build(built: Path, change: Callable[[Path], object]
                                              ) -> None:
    change(built)
    assert quick.unchanged(built, later()) is None
    cli_ok(built, "build")  # the full build puts things right, then answers quickly again
    assert (built / "public/feed.json").read_text("utf-8").startswith("{")
    assert quick.unchanged(built, later()) is not None


def test_an_edit_shows_in_the_feed_of_the_next_build(built: Path) -> None:
    CHANGES["an article edited, its size and time put back"](built)
    cli_ok(built, "build")
    assert "Story 9" in (built / "public/feed.json").read_text("utf-8")


def test_a_copied_site_is_not_answered_for_its_original(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    assert quick.unchanged(copy, later()) is None


def test_a_future_article_coming_due_ends_the_answer(make_site: SiteFactory, settled: None
                                                     ) -> None:
    due = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    root = make_site({**FILES, "content/later.md": article(
        "Later", due.isoformat(), id="urn:uuid:00000000-0000-4000-8000-000000000007")})
    assert "1 article scheduled for later" in cli_ok(root, "build")
    assert quick.unchanged(root, due - timedelta(seconds=1)) is not None
    assert quick.unchanged(root, due) is None


def test_warnings_are_repeated_and_strict_goes_to_the_full_build(make_site: SiteFactory,
                                                                  settled: None) -> None:
    root = make_site({**FILES, "content/odd.md": article(
        "Odd", "2026-10-05", colour="red", id="urn:uuid:00000000-0000-4000-8000-000000000008")})
    cli_ok(root, "build")
    answer = quick.unchanged(root, later())
    assert answer is not None and [w.path for w in answer.report.warnings] == ["content/odd.md"]
    assert quick.unchanged(root, later(), strict=True) is None


def test_inputs_written_too_recently_to_trust_leave_no_answer(make_site: SiteFactory) -> None:
    root = make_site(FILES)  # written just now: a second write in the same tick could hide
    cli_ok(root, "build")
    assert not (root / ".publisher" / quick.QUICK_NAME).exists()
    assert quick.unchanged(root, later()) is None


def test_work_inside_a_hidden_folder_of_the_content_changes_nothing(
        make_site: SiteFactory, settled: None) -> None:
    root = make_site({**FILES, "content/.git/HEAD": "ref: refs/heads/main\n"})
    cli_ok(root, "build")
    (root / "content/.git/HEAD").write_text("ref: refs/heads/draft\n", "utf-8")
    (root / "content/.git/index").write_bytes(b"DIRC")
    assert quick.unchanged(root, later()) is not None


def test_a_build_for_a_later_moment_is_not_an_answer_for_now(make_site: SiteFactory,
                                                             settled: None) -> None:
    due = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    root = make_site({**FILES, "content/later.md": article(
        "Later", due.isoformat(), id="urn:uuid:00000000-0000-4000-8000-000000000006")})
    assert cli_ok(root, "build", "--now", (due + timedelta(days=1)).isoformat()).startswith(
        "Published 4 articles")
    assert quick.unchanged(root, due + timedelta(days=1)) is not None
    assert quick.unchanged(root, later()) is None
    assert cli_ok(root, "build").startswith("Published 3 articles")
