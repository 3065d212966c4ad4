"""The command line as a user meets it: messages, exit statuses, and a new site from `init`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import feedparser
from click.testing import CliRunner

from publisher.cli import cli
from tests.conftest import SiteFactory, article, snapshot

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_build_reports_what_it_did(make_site: SiteFactory) -> None:
    root = make_site({
        "content/a.md": article("A", "2026-11-01", tags="[x]", id="a"),
        "content/d.md": article("D", "2026-11-01", draft="true", id="d"),
        "content/later.md": article("Later", "2030-01-01", id="l"),
    })
    code, out, err = run("--site", str(root), "build", "--now", "2026-11-25T12:00:00")
    assert (code, err) == (0, "")
    assert out == ("Published 1 article to public/: 22 written, 0 unchanged, 0 removed "
                   "(1 draft skipped, 1 article scheduled for later)\n")
    code, out, _ = run("--site", str(root), "build", "--now", "2026-11-25T12:00:00")
    assert out.startswith("Published 1 article to public/: 0 written, 22 unchanged")


def test_bad_input_gives_messages_exit_1_and_no_traceback(make_site: SiteFactory) -> None:
    root = make_site({
        "content/a.md": "---\ntitle: A\n---\nx\n",
        "content/b.md": "---\ntitle: [B\ndate: 2026-01-01\n---\n",
    })
    code, out, err = run("--site", str(root), "build")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "error: content/a.md:1: date: missing date",
        "  hint: write a date as 2026-11-03, 2026-11-03 09:30 or 2026-11-03T09:30:00+01:00",
        "error: content/b.md:2: broken YAML in the front matter: did not find expected ',' or "
        "']' (while parsing a flow sequence)",
        "  hint: quote values that contain ':' or start with a special character, and close "
        "every bracket and quote",
        "2 problems in 2 files; nothing was written",
    ]
    assert "Traceback" not in err
    assert not (root / "public").exists()


def test_strict_turns_warnings_into_errors(make_site: SiteFactory) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01", colour="red", id="a")})
    code, _, err = run("--site", str(root), "build", "--strict")
    assert code == 1
    assert err.startswith("error: content/a.md:4: colour: unknown front-matter key (ignored)")
    code, _, err = run("--site", str(root), "build")
    assert code == 0 and err.startswith("warning: content/a.md:4: colour:")


def test_check_lists_problems_and_writes_nothing(make_site: SiteFactory) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01")})
    before = snapshot(root)
    code, out, err = run("--site", str(root), "check")
    assert (code, err) == (0, "")
    assert out == "OK: 1 article, 0 warnings; 1 article will get a permanent id at the next build\n"
    assert snapshot(root) == before


def test_a_bad_config_is_reported_by_key(make_site: SiteFactory) -> None:
    root = make_site(config='title = "T"\nbase_url = "https://x.org/"\n[author]\nnam = "A"\n')
    code, _, err = run("--site", str(root), "check")
    assert code == 1
    assert err.splitlines() == [
        f"error: {root}/publisher.toml:3: author.name: required key is missing",
        "  hint: add `name = ...`",
        f"error: {root}/publisher.toml:4: author.nam: unknown key",
        "  hint: did you mean 'name'?",
        "2 problems found",
    ]


def test_a_bad_now_is_a_usage_error(make_site: SiteFactory) -> None:
    root = make_site()
    code, _, err = run("--site", str(root), "build", "--now", "tomorrow")
    assert code == 2 and "'tomorrow' is not an ISO 8601 date-time" in err


def test_init_makes_a_site_that_builds_at_once(tmp_path: Path) -> None:
    code, out, err = run("init", str(tmp_path / "new"), "--title", 'The "Quoted" Times')
    assert code == 0, err
    assert "created" in out and "publisher build" in out
    assert (tmp_path / "new/templates").is_dir()
    assert "/public/" in (tmp_path / "new/.gitignore").read_text().splitlines()
    code, out, err = run("--site", str(tmp_path / "new"), "build")
    assert code == 0, err
    parsed = feedparser.parse((tmp_path / "new/public/atom.xml").read_bytes())
    assert parsed.bozo == 0 and parsed.feed.title == 'The "Quoted" Times'
    assert [e.title for e in parsed.entries] == ["Welcome to your new publication"]
    code, _, err = run("init", str(tmp_path / "new"))
    assert code == 1 and "a site already exists here" in err


def test_the_wheel_carries_the_default_theme_and_init_works_from_it(tmp_path: Path) -> None:
    """`publisher init` outside the repository uses the theme packaged in the wheel."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(REPO)],
        check=True, capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("publisher_feeds-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    theme_files = sorted(p.relative_to(REPO / "templates").as_posix()
                         for p in (REPO / "templates").rglob("*") if p.is_file())
    assert theme_files and all(f"publisher/_theme/{f}" in names for f in theme_files)
    assert "publisher/scaffold/publisher.toml" in names
    zipfile.ZipFile(wheel).extractall(tmp_path / "installed")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "installed")}
    site = tmp_path / "elsewhere"
    for command in (["init", str(site)], ["--site", str(site), "build"]):
        subprocess.run([sys.executable, "-c", "from publisher.cli import main; main()", *command],
                       check=True, capture_output=True, cwd=tmp_path, env=env)
    assert (site / "templates" / theme_files[0]).read_bytes() == (
        REPO / "templates" / theme_files[0]).read_bytes()
    feed = json.loads((site / "public/feed.json").read_text("utf-8"))
    assert feed["items"][0]["title"] == "Welcome to your new publication"


def test_check_reports_schedule_and_article_problems_together(make_site: SiteFactory) -> None:
    root = make_site({
        "content/a.md": "---\ntitle: A\n---\nx\n",
        "schedules/feed.toml": 'action = "build"\nevery = "15m"\ncolour = "red"\n',
    })
    code, out, err = run("--site", str(root), "check")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0] == "error: schedules/feed.toml:3: colour: unknown key"
    assert "error: content/a.md:1: date: missing date" in lines
    assert lines[-1] == "2 problems found; nothing was written"


def test_a_first_build_of_many_articles_names_ten_and_counts_the_rest(make_site: SiteFactory
                                                                       ) -> None:
    root = make_site({f"content/a{n:02}.md": article(f"Story {n}", "2026-11-01")
                      for n in range(12)})
    code, out, _ = run("--site", str(root), "build")
    lines = out.splitlines()
    assert code == 0
    assert lines[:10] == [f"assigned a permanent id to content/a{n:02}.md" for n in range(10)]
    assert lines[10] == "... and to 2 other articles"
