"""Unchanged article files are recognised by their stamp, and never at the cost of an edit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from publisher import publish
from publisher.content import stamps
from publisher.content.load import scan
from tests.conftest import SiteFactory, article, settings_of

FILES = {f"content/a{n}.md": article(f"Story {n}", f"2026-10-{n:02d}", tags="[x]",
                                    id=f"urn:uuid:00000000-0000-4000-8000-00000000000{n}")
         for n in range(1, 4)}


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written before a build are old enough to trust (as they are on a real site,
    where they were written minutes or years before it)."""
    monkeypatch.setattr(stamps, "RACY_NS", 0)


def scanned(root: Path) -> dict[str, tuple[bytes | None, str]]:
    settings = settings_of(root)
    context = publish.parse_context(settings)
    known = stamps.read_index(settings.state_path, context.fingerprint())
    return {f.source: (f.raw, f.key)
            for f in scan(settings.content_path, settings.root, context, known)}


def feed_text(root: Path) -> str:
    return (root / "public/feed.json").read_text("utf-8")


def test_an_unchanged_file_is_keyed_without_being_read(make_site: SiteFactory, clock,
                                                       settled: None) -> None:
    root = make_site(FILES)
    publish.build(settings_of(root), clock)
    fresh = {source: key for source, (_, key) in scanned_without_index(root).items()}
    assert scanned(root) == {source: (None, key) for source, key in fresh.items()}


def scanned_without_index(root: Path) -> dict[str, tuple[bytes | None, str]]:
    settings = settings_of(root)
    files = scan(settings.content_path, settings.root, publish.parse_context(settings))
    assert all(f.raw is not None for f in files)
    return {f.source: (f.raw, f.key) for f in files}


def test_an_edit_that_keeps_the_size_and_the_modification_time_is_seen(
        make_site: SiteFactory, clock, settled: None) -> None:
    root = make_site(FILES)
    publish.build(settings_of(root), clock)
    path = root / "content/a2.md"
    before = os.stat(path)
    text = path.read_text("utf-8")
    path.write_text(text.replace("Tuesday", "Thursda"), "utf-8")  # the same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `touch -r` or `cp -p`
    assert os.stat(path).st_size == before.st_size
    assert scanned(root)["content/a2.md"][0] is not None  # read again
    publish.build(settings_of(root), clock)
    assert "Thursda" in feed_text(root)


def test_a_file_written_just_before_the_build_is_read_again_next_time(
        make_site: SiteFactory, clock) -> None:
    root = make_site(FILES)  # written moments ago: within the filesystem's clock tick
    publish.build(settings_of(root), clock)
    assert all(raw is not None for raw, _ in scanned(root).values())


def test_a_lost_cache_is_refilled_from_the_files(make_site: SiteFactory, clock,
                                                 settled: None) -> None:
    root = make_site(FILES)
    publish.build(settings_of(root), clock)
    first = feed_text(root)
    settings = settings_of(root)
    (settings.state_path / publish.CACHE_NAME).unlink()
    (root / "public/feed.json").unlink()  # so that the build renders again
    report = publish.build(settings, clock)
    assert report.articles == 3
    assert feed_text(root) == first


@pytest.mark.parametrize("damage", [b"", b"{", b'{"format": 1}', b"[1, 2]",
                                    b'{"format": 1, "context": "x", "files": {"a": 1}}'])
def test_a_damaged_index_is_ignored_and_written_again(make_site: SiteFactory, clock,
                                                      settled: None, damage: bytes) -> None:
    root = make_site(FILES)
    publish.build(settings_of(root), clock)
    index = settings_of(root).state_path / stamps.INDEX_NAME
    index.write_bytes(damage)
    assert all(raw is not None for raw, _ in scanned(root).values())
    publish.build(settings_of(root), clock)
    assert len(json.loads(index.read_bytes())["files"]) == 3


def test_other_settings_read_every_file(make_site: SiteFactory, clock, settled: None) -> None:
    root = make_site(FILES)
    publish.build(settings_of(root), clock)
    config = root / "publisher.toml"
    config.write_text(config.read_text("utf-8").replace(
        "https://news.example.org/", "https://www.example.net/"), "utf-8")
    assert all(raw is not None for raw, _ in scanned(root).values())
    publish.build(settings_of(root), clock)
    assert "https://www.example.net/" in feed_text(root)


def test_a_file_given_its_id_is_read_again_and_then_remembered(
        make_site: SiteFactory, clock, settled: None) -> None:
    root = make_site({"content/new.md": article("New", "2026-10-01")})
    report = publish.build(settings_of(root), clock)
    assert report.ids_assigned == ("content/new.md",)
    assert scanned(root)["content/new.md"][0] is not None
    publish.build(settings_of(root), clock)  # nothing to do, but it read the file
    assert scanned(root)["content/new.md"][0] is None
