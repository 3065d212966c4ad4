"""Generated articles: never a traceback, check agrees with build, a failed build changes
nothing, and nothing that could run reaches a page, a feed or an email."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import event, given
from hypothesis import strategies as st

from tests.properties.harness import (
    EXPENSIVE,
    NOW,
    active_in_output,
    active_parts,
    built_site,
    environment_clean,
    fresh_site,
    run,
    snapshot,
    temp_files,
)
from tests.properties.inputs import article_texts, as_file, hostile_bodies


@EXPENSIVE
@given(files=st.lists(as_file(article_texts()), min_size=1, max_size=3),
       strict=st.sampled_from([False, False, True]))
def test_check_passes_exactly_when_build_succeeds_and_a_failed_build_changes_nothing(
        files: list[bytes], strict: bool) -> None:
    environment_clean()
    extra = ("--strict",) if strict else ()
    with tempfile.TemporaryDirectory() as folder:
        root = built_site(Path(folder) / "site")
        before = snapshot(root / "public")
        for number, data in enumerate(files):
            (root / f"content/new-{number}.md").write_bytes(data)
        checked = run(root, "check", *NOW, *extra)
        built = run(root, "build", *NOW, *extra)
        assert checked.code == built.code, (checked.stderr, built.stderr)
        event(f"build {'succeeds' if built.code == 0 else 'fails'}")
        if built.code != 0:
            assert built.stderr.startswith(("error: ", "warning: ")), built.stderr
            assert snapshot(root / "public") == before
        assert temp_files(root) == []


@EXPENSIVE
@given(body=hostile_bodies, summary=st.sampled_from(["", "summary: '<img src=x onerror=alert(1)>"
                                                        " [x](javascript:alert(1))'"]))
def test_nothing_that_could_run_reaches_a_page_a_feed_or_an_email(body: str, summary: str
                                                                  ) -> None:
    environment_clean()
    article = ("---\ntitle: \"<script>alert(1)</script>\"\ndate: 2026-11-25 08:00\n"
               f"tags: [harbour]\n{summary}\n---\n{body}\n")
    with tempfile.TemporaryDirectory() as folder:
        root = fresh_site(Path(folder) / "site", {"content/hostile.md": article})
        outcome = run(root, "build", *NOW)
        assert outcome.code == 0, outcome.stderr
        assert active_in_output(root / "public") == []
        preview = run(root, "digest", "preview", *NOW)
        assert preview.code == 0, preview.stderr
        for page in (root / "preview").glob("*.html"):
            assert active_parts(page.read_text("utf-8")) == [], page.name
