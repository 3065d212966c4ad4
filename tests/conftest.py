"""Shared fixtures: throwaway sites built from a dict, and a fixed clock."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from publisher.cli import cli
from publisher.clock import fixed_clock
from publisher.config import Settings, load_settings
from publisher.models import Clock
from tests.smtp_server import SMTPServer

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# Property tests: `ci` (the default) is quick and the same on every run; `long`, for a
# local run before a release, tries twenty times as many inputs, each run new ones,
# and keeps the failures it finds in .hypothesis/ to try them first next time.
HYPOTHESIS_PROFILE_ENV = "PUBLISHER_HYPOTHESIS_PROFILE"
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True,
                          database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get(HYPOTHESIS_PROFILE_ENV, "ci"))

BASE_CONFIG = """\
title = "Test Gazette"
description = "A site made by a test"
base_url = "https://news.example.org/"
language = "en"
timezone = "Europe/Lisbon"
postal_address = "1 Test Street, Testville"

[author]
name = "Desk"
email = "desk@example.org"
"""


def article(title: str = "Ferry fares rise", date: str = "2026-11-02 09:00", body: str = "",
            **fields: object) -> str:
    """The text of an article file with the given front matter."""
    lines = ["---", f"title: {title}", f"date: {date}"]
    lines += [f"{k}: {v}" for k, v in fields.items()]
    lines.append("---")
    text = body or "The council voted on Tuesday.\n\n## Why it matters\n\nFares pay for boats.\n"
    return "\n".join(lines) + "\n" + textwrap.dedent(text)


MAIL_CONFIG = BASE_CONFIG + """
[email]
from_address = "digest@news.example.org"
"""
SMTP_CONFIG = MAIL_CONFIG + """
[delivery]
transport = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
concurrency = 2
"""  # a site that sends through tests.smtp_server; `.format(port=...)`

SiteFactory = Callable[..., Path]


@pytest.fixture
def make_site(tmp_path: Path) -> SiteFactory:
    """Write a site: `files` maps paths (relative to the site) to text or bytes."""

    def make(files: dict[str, str | bytes] | None = None, config: str = BASE_CONFIG,
             name: str = "site") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        (root / "publisher.toml").write_text(config, encoding="utf-8")
        (root / "content").mkdir(exist_ok=True)
        for relative, data in (files or {}).items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(data, encoding="utf-8")
        return root

    return make


@pytest.fixture
def clock() -> Clock:
    return fixed_clock(NOW)


def settings_of(root: Path) -> Settings:
    return load_settings(root)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` with its bytes, for before/after comparisons."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A real aiosmtpd server on 127.0.0.1 (a free port), recording what it accepts."""
    with SMTPServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_site_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own PUBLISHER_SITE or PUBLISHER_STORE_URL must not reach a test."""
    monkeypatch.delenv("PUBLISHER_SITE", raising=False)
    monkeypatch.delenv("PUBLISHER_STORE_URL", raising=False)


def cli_ok(root: Path, *args: str) -> str:
    """Run `publisher --site ROOT ARGS…` in this process; it must succeed. Its output."""
    result = CliRunner().invoke(cli, ["--site", str(root), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout
