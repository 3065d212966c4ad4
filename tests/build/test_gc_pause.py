"""The collector rests while a build loads its articles, runs while it renders with the
articles frozen out of its sight, and is as it was once every build has ended."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from publisher import publish
from publisher.build import gc_pause
from publisher.content import load
from publisher.errors import ContentError
from publisher.models import Clock
from tests.conftest import SiteFactory, article, settings_of


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    if was:
        gc.enable()
    else:
        gc.disable()


def test_a_build_loads_without_the_collector_and_renders_with_it(
        make_site: SiteFactory, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_site({"content/a.md": article("Ferry", "2026-10-01")})
    seen: dict[str, tuple[bool, int]] = {}
    real_load, real_pages = load.load_content, publish._stage_pages

    def loading(*args: object, **kwargs: object) -> object:
        seen["load"] = (gc.isenabled(), gc.get_freeze_count())
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    def rendering(*args: object, **kwargs: object) -> None:
        seen["pages"] = (gc.isenabled(), gc.get_freeze_count())
        real_pages(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(publish, "load_content", loading)
    monkeypatch.setattr(publish, "_stage_pages", rendering)
    publish.build(settings_of(root), clock)
    assert seen["load"] == (False, 0)
    enabled, frozen = seen["pages"]
    assert enabled and frozen > 0
    assert (gc.isenabled(), gc.get_freeze_count()) == (True, 0)


def test_a_failed_build_gives_the_collector_back(make_site: SiteFactory, clock: Clock) -> None:
    root = make_site({"content/a.md": "---\ntitle: [unclosed\n---\nBody\n"})
    with pytest.raises(ContentError):
        publish.build(settings_of(root), clock)
    assert (gc.isenabled(), gc.get_freeze_count()) == (True, 0)


def test_overlapping_builds_resume_it_when_none_loads_and_thaw_when_none_is_left() -> None:
    other_in, other_may_load, other_loaded, other_may_end = (threading.Event()
                                                             for _ in range(4))
    states: list[tuple[bool, int]] = []

    def other() -> None:
        with gc_pause.building() as loaded:
            other_in.set()
            other_may_load.wait(5)
            loaded()
            other_loaded.set()
            other_may_end.wait(5)

    thread = threading.Thread(target=other)
    with gc_pause.building() as loaded:
        thread.start()
        other_in.wait(5)
        loaded()
        states.append((gc.isenabled(), gc.get_freeze_count() > 0))  # the other still loads
        other_may_load.set()
        other_loaded.wait(5)
        states.append((gc.isenabled(), gc.get_freeze_count() > 0))
    states.append((gc.isenabled(), gc.get_freeze_count() > 0))  # the other still renders
    other_may_end.set()
    thread.join(5)
    states.append((gc.isenabled(), gc.get_freeze_count() > 0))
    assert states == [(False, True), (True, True), (True, True), (True, False)]


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    with gc_pause.building() as loaded:
        loaded()
    assert not gc.isenabled()
