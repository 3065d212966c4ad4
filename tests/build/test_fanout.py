"""Pages rendered by worker processes are the same bytes, and their mistakes are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher import publish
from publisher.build import fanout
from publisher.errors import TemplateError
from tests.conftest import SiteFactory, article, settings_of, snapshot

FILES = {f"content/a{n:02}.md": article(f"Story {n}", f"2026-10-{n % 28 + 1:02} 09:{n:02}",
                                        tags=f"[t{n % 4}]", id=f"a{n}") for n in range(30)}


@pytest.fixture
def in_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "PARALLEL_MIN", 1)  # every build fans out, however small


def test_workers_write_the_same_site_as_one_process(make_site: SiteFactory, clock,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    alone = make_site(FILES, name="alone")
    publish.build(settings_of(alone), clock)
    monkeypatch.setattr(fanout, "PARALLEL_MIN", 1)
    shared = make_site(FILES, name="shared")
    report = publish.build(settings_of(shared), clock)
    assert snapshot(shared / "public") == snapshot(alone / "public")
    assert len(report.written) == len(snapshot(alone / "public"))
    assert publish.build(settings_of(shared), clock).written == ()


def test_a_template_error_in_a_worker_names_file_and_line_and_leaves_nothing(
    make_site: SiteFactory, clock, in_parallel: None
) -> None:
    root = make_site(FILES)
    publish.build(settings_of(root), clock)
    before = snapshot(root / "public")
    (root / "content/a00.md").write_text(FILES["content/a00.md"].replace("Tuesday", "Monday"))
    broken = root / "templates/site/article.html"
    broken.parent.mkdir(parents=True)
    broken.write_text('{% extends "site/base.html" %}\n{% block main %}\n{{ nope.x }}\n'
                      "{% endblock %}\n")
    with pytest.raises(TemplateError) as error:
        publish.build(settings_of(root), clock)
    problem = error.value.problem
    assert (Path(problem.path).name, problem.line) == ("article.html", 3)
    assert problem.message == "template error: 'nope' is undefined"
    assert snapshot(root / "public") == before  # no temporary file left behind either


def test_work_done_alongside_the_workers_overlaps_them_and_its_failure_leaves_nothing(
    make_site: SiteFactory, clock, in_parallel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_site(FILES)
    publish.build(settings_of(root), clock)
    before = snapshot(root / "public")
    (root / "content/a00.md").write_text(FILES["content/a00.md"].replace("Tuesday", "Monday"))
    (root / "templates/site").mkdir(parents=True)
    (root / "templates/site/icon.png").write_bytes((publish.theme.default_theme_path()
                                                    / "site/icon.png").read_bytes() + b"\0")

    def drawing_fails(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish.icons, "icon_files", drawing_fails)
    with pytest.raises(OSError, match="No space"):
        publish.build(settings_of(root), clock)
    assert snapshot(root / "public") == before  # the workers' pages were not kept either


def test_the_icons_are_drawn_while_the_workers_render(
    make_site: SiteFactory, clock, in_parallel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_site(FILES)
    drawn_in: list[bool] = []
    real = publish.icons.icon_files

    def drawing(icon: publish.icons.Icon) -> list[object]:
        drawn_in.append(fanout._job is not None)  # the workers' share is out
        return real(icon)  # type: ignore[return-value]

    monkeypatch.setattr(publish.icons, "icon_files", drawing)
    publish.build(settings_of(root), clock)
    assert drawn_in == [True]
    assert (root / "public/favicon.ico").is_file()
