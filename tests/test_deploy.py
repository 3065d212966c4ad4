"""The files in deploy/: systemd accepts the units, cron gets the secrets, the README links them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
UNITS = sorted(p for p in DEPLOY.iterdir() if p.suffix in (".service", ".timer"))
SITE = "/srv/news"


def test_every_deploy_file_is_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    linked = set(re.findall(r"\]\((deploy/[^)]+)\)", readme))
    assert {f"deploy/{p.name}" for p in DEPLOY.iterdir()} == linked


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_no_unit_line_carries_a_comment_after_its_value(unit: Path) -> None:
    """systemd reads `TimeoutStopSec=120  # …` as a bad time and drops the setting."""
    for number, line in enumerate(unit.read_text("utf-8").splitlines(), start=1):
        if "=" in line and not line.startswith(("#", ";")):
            assert "#" not in line.split("=", 1)[1], f"{unit.name}:{number}: {line}"


def test_the_units_start_publisher_with_the_environment_file() -> None:
    services = {p.name: p.read_text("utf-8") for p in UNITS if p.suffix == ".service"}
    starts = {name: re.search(r"^ExecStart=(.*)$", text, re.M).group(1)
              for name, text in services.items()}
    assert starts == {
        "publisher-serve.service": f"{SITE}/.venv/bin/publisher serve --host 127.0.0.1 "
                                   "--port 8000 --no-preview",
        "publisher-tick.service": f"{SITE}/.venv/bin/publisher tick",
        "publisher.service": f"{SITE}/.venv/bin/publisher run",
    }
    for text in services.values():
        assert re.search(r"^EnvironmentFile=/etc/publisher/env$", text, re.M)
        assert re.search(rf"^WorkingDirectory={SITE}$", text, re.M)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (Debian: apt-get install systemd)")
def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    """The units as shipped, with /srv/news moved to a folder holding this venv's publisher."""
    site = tmp_path / "srv-news"
    (site / ".venv/bin").mkdir(parents=True)
    (site / ".venv/bin/publisher").symlink_to(Path(sys.executable).parent / "publisher")
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text("utf-8").replace(SITE, str(site)))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no",
                             *(str(tmp_path / u.name) for u in UNITS)],
                            capture_output=True, text=True, check=False,
                            env={**os.environ, "SYSTEMD_LOG_COLOR": "0"})
    assert (result.returncode, result.stderr) == (0, "")


def test_the_crontab_line_reads_the_environment_file_before_the_tick() -> None:
    lines = [line for line in (DEPLOY / "crontab").read_text("utf-8").splitlines()
             if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert lines == [f"* * * * * cd {SITE} && {{ set -a && . /etc/publisher/env && set +a && "
                     "./.venv/bin/publisher tick; } >> /var/log/publisher/tick.log 2>&1"]


def test_the_environment_file_reads_the_same_in_sh_and_systemd(tmp_path: Path) -> None:
    """Plain KEY=value lines: what `. file` exports is what EnvironmentFile= sets."""
    text = (DEPLOY / "publisher.env").read_text("utf-8")
    settings = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Z_]+=[A-Za-z0-9_.:/@+-]+", line) for line in settings)
    shell = subprocess.run(["sh", "-c", f"set -a && . {DEPLOY / 'publisher.env'} && set +a && "
                            "env"], capture_output=True, text=True, check=True, env={})
    exported = dict(line.split("=", 1) for line in shell.stdout.splitlines() if "=" in line)
    assert {k: exported[k] for k in ("PUBLISHER_SECRET_KEY", "PUBLISHER_SMTP_PASSWORD")} == \
        dict(line.split("=", 1) for line in settings)
