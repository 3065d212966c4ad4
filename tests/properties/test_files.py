"""Generated publisher.toml files, schedule files, plain-text imports and subscriber CSVs:
every one gets an answer, never a traceback, and what passes `check` works."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import event, given
from hypothesis import strategies as st

from tests.properties.harness import (
    EXPENSIVE,
    NOW,
    SITE_CONFIG,
    built_site,
    environment_clean,
    fresh_site,
    run,
    snapshot,
    temp_files,
)
from tests.properties.inputs import (
    as_file,
    config_texts,
    inline_text,
    plain_texts,
    schedule_texts,
)


@EXPENSIVE
@given(config=config_texts(SITE_CONFIG))
def test_any_configuration_is_answered_and_check_agrees_with_build_and_digest(config: str
                                                                              ) -> None:
    environment_clean()
    with tempfile.TemporaryDirectory() as folder:
        root = built_site(Path(folder) / "site")
        before = snapshot(root)
        (root / "publisher.toml").write_text(config, encoding="utf-8")
        checked = run(root, "check", *NOW)
        built = run(root, "build", *NOW)
        if built.code != 0:
            after = snapshot(root)
            after.pop("publisher.toml")
            before.pop("publisher.toml")
            assert after == before  # nothing written anywhere, the site folder included
        assert temp_files(Path(folder)) == []
        # check also renders the digest: it passes when the build and the digest both would
        previewed = run(root, "digest", "preview", *NOW)
        event(f"check {'passes' if checked.code == 0 else 'fails'}")
        works = built.code == 0 and previewed.code == 0
        assert (checked.code == 0) == works, (config, checked.stderr, built.stderr,
                                              previewed.stderr)


@EXPENSIVE
@given(schedules=st.lists(schedule_texts(), min_size=1, max_size=3),
       moment=st.sampled_from(["2026-11-25T07:00:30-06:00", "2026-03-08T02:30:00-06:00",
                               "2026-11-01T01:30:00-05:00", "2026-11-25T07:00:30-06:00",
                               "2027-02-28T23:59:59+14:00", "2026-10-25T01:30:00+00:00",
                               "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+05:00"]))
def test_any_schedule_file_is_answered_by_check_list_and_tick(schedules: list[str],
                                                              moment: str) -> None:
    environment_clean()
    with tempfile.TemporaryDirectory() as folder:
        files = {f"schedules/s{n}.toml": text for n, text in enumerate(schedules)}
        root = fresh_site(Path(folder) / "site", files)
        checked = run(root, "check", "--now", moment)
        listed = run(root, "schedule", "list", "--now", moment)
        assert (checked.code == 0) == (listed.code == 0), (checked.stderr, listed.stderr)
        ticked = run(root, "tick", "--now", moment)
        event(f"check {'passes' if checked.code == 0 else 'fails'}")
        if checked.code != 0:
            assert ticked.code != 0
            assert ticked.stderr.startswith(("error: ", "Usage: ")), ticked.stderr


@EXPENSIVE
@given(text=as_file(plain_texts), tags=st.lists(inline_text, max_size=2))
def test_an_import_either_refuses_a_file_or_writes_an_article_that_builds(
        text: bytes, tags: list[str]) -> None:
    environment_clean()
    with tempfile.TemporaryDirectory() as folder:
        root = fresh_site(Path(folder) / "site", {})
        source = Path(folder) / "old.txt"
        source.write_bytes(text)
        options = [part for tag in tags for part in ("--tag", tag)]
        imported = run(root, "import", str(source), "--date", "2026-11-02T09:00", *options)
        event(f"import {'works' if imported.code == 0 else 'refused'}")
        if imported.code == 0:
            assert run(root, "check", *NOW).code == 0
            assert run(root, "build", *NOW).code == 0


@EXPENSIVE
@given(rows=st.lists(st.lists(st.one_of(
    inline_text, st.sampled_from(["ann@example.org", "=?utf-8?q?x?=@example.org",
                                  "a@b@c", "Ann <ann@example.org>", "news;ferry", "bounced",
                                  "active", '"', "\r\n", "=cmd()"])), max_size=4), max_size=6))
def test_any_subscriber_file_is_answered_and_every_stored_address_is_plain(
        rows: list[list[str]]) -> None:
    environment_clean()
    with tempfile.TemporaryDirectory() as folder:
        root = fresh_site(Path(folder) / "site", {})
        csv = Path(folder) / "people.csv"
        csv.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
        run(root, "subscribers", "import", str(csv))
        exported = run(root, "subscribers", "export", "-")
        assert exported.code == 0
        for line in exported.stdout.splitlines()[1:]:
            address = line.split(",", 1)[0].lstrip("'")
            assert "=?" not in address and "\r" not in address and " " not in address, line
