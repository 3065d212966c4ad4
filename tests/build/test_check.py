"""`publisher check` passes exactly when `publisher build` would succeed, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher import publish
from publisher.config import load_settings
from publisher.errors import ConfigError, ContentError, PublisherError
from publisher.models import Clock
from tests.conftest import BASE_CONFIG, SiteFactory, article, settings_of, snapshot


def outcome(root: Path, clock: Clock, *, strict: bool = False) -> tuple[list[str], list[str]]:
    """What check says, then what build says ([] for success), for one site."""
    said = []
    for run in (publish.check, publish.build):
        try:
            run(load_settings(root), clock, strict=strict)
            said.append([])
        except PublisherError as exc:
            said.append([str(p) for p in exc.problems if not p.warning])
    return said[0], said[1]


def test_a_good_site_passes_and_check_writes_nothing(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01")})
    before = snapshot(root)
    assert publish.check(settings_of(root), clock)[0].articles[0].title == "A"
    assert snapshot(root) == before
    assert not (root / "public").exists()


def test_a_template_mistake_only_rendering_shows_fails_check_as_it_fails_build(
        make_site: SiteFactory, clock) -> None:
    root = make_site({
        "content/a.md": article("A", "2026-11-01"),
        "templates/site/article.html": '{% extends "site/base.html" %}\n{% block main %}\n'
                                       "{{ article.title.nope.x }}\n{% endblock %}\n",
    })
    checked, built = outcome(root, clock)
    assert checked == built
    assert len(checked) == 1
    assert checked[0].startswith(f"{root}/templates/site/article.html:3: template error: ")


def test_a_template_that_calls_a_failing_method_is_a_located_error(make_site: SiteFactory,
                                                                   clock) -> None:
    root = make_site({
        "content/a.md": article("Café", "2026-11-01"),
        "templates/site/article.html": '{% extends "site/base.html" %}\n{% block main %}\n'
                                       "{{ article.title.encode('ascii') }}\n{% endblock %}\n",
    })
    checked, built = outcome(root, clock)
    assert checked == built == [
        f"{root}/templates/site/article.html:3: template error: UnicodeEncodeError: 'ascii' "
        "codec can't encode character '\\xe9' in position 3: ordinal not in range(128)\n"
        "  hint: check what the template does at that line"]


def test_a_slug_that_takes_an_archive_page_fails_both(make_site: SiteFactory, clock) -> None:
    config = BASE_CONFIG.replace("[author]", 'permalink = "{slug}/"\n[author]')
    root = make_site({"content/a.md": article("Tags", "2026-11-01")}, config=config)
    checked, built = outcome(root, clock)
    assert checked == built == [
        "content/a.md: the article's page 'tags/index.html' would replace one of the "
        "archive's own pages\n  hint: change the `permalink` setting or the article's slug"]


def test_a_file_where_the_build_needs_a_folder_fails_check(make_site: SiteFactory,
                                                           clock) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01"), "public/2026": "in the way"})
    checked, built = outcome(root, clock)
    assert checked == [f"{root}/public: cannot write '2026/11/a/index.html' into the output "
                       "folder: '2026' is a file, not a folder\n  hint: rename what stands in "
                       "the way, or change what the build makes there"]
    assert built == [f"{root}/public/2026/11/a/index.html: cannot write the output: Not a "
                     "directory\n  hint: a file stands where a folder is needed: move it away"]


def test_a_broken_email_template_is_found_by_check(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01"),
                      "templates/email/digest.txt": "{% for a in articles %}\n"})
    with pytest.raises(ContentError) as error:
        publish.check(settings_of(root), clock)
    assert [str(p) for p in error.value.problems] == [
        f"{root}/templates/email/digest.txt:1: broken template: Unexpected end of template. "
        "Jinja was looking for the following tags: 'endfor' or 'else'. The innermost block "
        "that needs to be closed is 'for'.\n  hint: fix the Jinja2 syntax at that line"]


def test_a_digest_template_that_fails_to_render_is_found_by_check(make_site: SiteFactory,
                                                                  clock) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01"),
                      "templates/email/digest.txt": "{{ digest.nope.x }}\n"})
    with pytest.raises(ContentError) as error:
        publish.check(settings_of(root), clock)
    assert [str(p) for p in error.value.problems] == [
        f"{root}/templates/email/digest.txt:1: template error: 'publisher.digest.render.DigestView "
        "object' has "
        "no attribute 'nope'\n  hint: check the names the template uses"]


def test_a_missing_content_folder_stops_check_and_build(make_site: SiteFactory, clock) -> None:
    config = BASE_CONFIG.replace("[author]", 'content_dir = "articels"\n[author]')
    root = make_site({"content/a.md": article("A", "2026-11-01")}, config=config)
    publish_root = root / "public"
    for run in (publish.check, publish.build):
        with pytest.raises(ConfigError) as error:
            run(settings_of(root), clock)
        assert [str(p) for p in error.value.problems] == [
            f"{root}/publisher.toml:8: content_dir: the content folder 'articels' does not exist "
            f"({root}/articels)\n  hint: create it, or correct content_dir; a build from a "
            "missing folder would remove every article page"]
    assert not publish_root.exists()


def test_a_damaged_digest_web_copy_fails_check_as_it_fails_build(make_site: SiteFactory,
                                                                 clock) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01"),
                      "digests/d-1.json": '{"id": "d-1", "title": "D", "date": "2026-11-01"}',
                      "digests/d-1.html": "<p>copy</p>"})
    checked, built = outcome(root, clock)
    assert checked == built == [
        "digests/d-1.json: cannot read this digest's web copy: the date '2026-11-01' has no "
        "time zone offset\n  hint: restore the file, or delete it and its .html twin"]


def test_an_unreadable_static_file_fails_both(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01")})
    (root / "static").mkdir()
    (root / "static/logo.png").symlink_to(root / "nowhere.png")
    checked, built = outcome(root, clock)
    assert checked == built == [
        f"{root}/static/logo.png: cannot be read: No such file or directory\n"
        "  hint: a folder on the way does not exist (was it moved or unmounted?)"]
