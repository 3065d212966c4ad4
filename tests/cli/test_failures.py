"""What the command line says when the system refuses, or when there is a bug: one line each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from publisher.cli import cli
from publisher.errors import processing
from tests.conftest import SiteFactory, article


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_bug_is_one_line_naming_the_input_and_the_report(tmp_path: Path) -> None:
    @click.command(name="explode")
    def explode() -> None:
        with processing("content/ferry.md"):
            raise ValueError("a bug\nwith a second line")

    cli.add_command(explode)
    try:
        code, _, stderr = run("explode")
    finally:
        cli.commands.pop("explode")
    assert code == 1
    first, hint = stderr.splitlines()
    assert first == ("error: unexpected internal error while processing content/ferry.md: "
                     "ValueError: a bug")
    report = hint.removeprefix("  hint: the full report is in ").removesuffix(
        "; please send it with a bug report")
    text = Path(report).read_text()
    assert "Traceback (most recent call last)" in text and "ValueError: a bug" in text
    assert "while processing content/ferry.md" in text
    Path(report).unlink()


def test_a_file_operation_the_system_refuses_is_said_with_its_file_and_a_hint(
        make_site: SiteFactory) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01")})
    (root / ".publisher").write_text("a file where the state folder goes")
    code, _, stderr = run("--site", str(root), "build")
    assert code == 1
    assert stderr.splitlines() == [
        f"error: {root}/.publisher: File exists",
        "  hint: something of that name is already there: move it away"]


def test_site_may_follow_the_command_name(make_site: SiteFactory) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01")})
    code, stdout, _ = run("build", "--site", str(root))
    assert code == 0 and stdout.endswith("0 removed\n")
    code, stdout, _ = run("subscribers", "list", "--site", str(root))
    assert code == 0


def test_a_reader_that_goes_away_ends_the_output_quietly(make_site: SiteFactory) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01")})
    people = "".join(f"reader{n}@example.org\n" for n in range(5000))
    (root / "people.csv").write_text("email\n" + people)
    run("--site", str(root), "subscribers", "import", str(root / "people.csv"))
    command = f"{sys.executable} -c 'from publisher.cli import main; main()' --site {root} " \
              "subscribers export - | head -n 1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                            text=True, check=False)
    assert result.stdout == ("email,name,tags,status,created_at,status_changed_at,status_reason,"
                             "address_sha256,cadence,timezone,hour\n")
    assert result.stderr == ""
