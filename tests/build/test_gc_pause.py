"""The collector rests while a build runs and is as it was once every build has ended."""

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
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_a_build_runs_without_the_collector_and_gives_it_back(
        make_site: SiteFactory, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_site({"content/a.md": article("Ferry", "2026-10-01")})
    seen: list[bool] = []
    real = load.load_content

    def spying(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(publish, "load_content", spying)
    publish.build(settings_of(root), clock)
    assert seen == [False]
    assert gc.isenabled()


def test_a_failed_build_gives_the_collector_back(make_site: SiteFactory, clock: Clock) -> None:
    root = make_site({"content/a.md": "---\ntitle: [unclosed\n---\nBody\n"})
    with pytest.raises(ContentError):
        publish.build(settings_of(root), clock)
    assert gc.isenabled()


def test_overlapping_pauses_resume_when_the_last_ends() -> None:
    first_in, second_out = threading.Event(), threading.Event()
    states: list[bool] = []

    def other() -> None:
        with gc_pause.paused():
            first_in.set()
            second_out.wait(5)
        states.append(gc.isenabled())

    thread = threading.Thread(target=other)
    with gc_pause.paused():
        thread.start()
        first_in.wait(5)
    states.append(gc.isenabled())  # the other thread's pause still holds
    second_out.set()
    thread.join(5)
    assert states == [False, True]


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    with gc_pause.paused():
        pass
    assert not gc.isenabled()
