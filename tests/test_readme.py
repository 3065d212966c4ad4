"""The README is the first thing a newcomer runs: keep its commands and samples true."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from publisher.config import load_settings

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text("utf-8")


def block_after(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)\n```", README, re.DOTALL)
    assert match, f"README.md has no block after <!-- {marker} -->"
    return match.group(1)


def test_the_readme_opens_with_the_two_commands() -> None:
    first_blocks = re.findall(r"```\w*\n(.*?)\n```", README, re.DOTALL)[:2]
    assert first_blocks == [block_after("main-command"), block_after("test-command")]
    assert "pip install -e ." in first_blocks[0] and "publisher build" in first_blocks[0]
    assert "pip install -e '.[test]'" in first_blocks[1] and first_blocks[1].endswith("pytest")


def test_ci_runs_the_readme_test_command() -> None:
    script = (REPO / ".ci/run").read_text()
    extract = re.search(r"command=\$\((awk .*?)\)\n", script).group(1)
    found = subprocess.run(["bash", "-c", extract], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert found == block_after("test-command")


def test_the_configuration_sample_is_valid(tmp_path: Path) -> None:
    section = README.split("## Configuration", 1)[1]
    sample = re.search(r"```toml\n(.*?)```", section, re.DOTALL).group(1)
    (tmp_path / "publisher.toml").write_text(sample, "utf-8")
    settings = load_settings(tmp_path)
    assert settings.title == "The Larkhaven Explainer"


def test_the_schedule_and_delivery_samples_are_valid(tmp_path: Path) -> None:
    from publisher.schedule.files import load_schedules

    schedule = re.search(r"```toml\n(# schedules/morning-digest.toml\n.*?)```", README,
                         re.DOTALL).group(1)
    delivery = re.search(r"```toml\n(\[delivery\]\ntransport = \"smtp\"\n.*?)```", README,
                         re.DOTALL).group(1)
    config = README.split("## Configuration", 1)[1]
    config = re.search(r"```toml\n(.*?)```", config, re.DOTALL).group(1)
    (tmp_path / "publisher.toml").write_text(config + "\n" + delivery, "utf-8")
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules/morning-digest.toml").write_text(schedule, "utf-8")
    settings = load_settings(tmp_path)
    assert settings.delivery.transport == "smtp"
    [loaded] = load_schedules(settings)
    assert (loaded.name, loaded.action, loaded.cron) == ("morning-digest", "digest",
                                                         "0 7 * * mon-fri")
