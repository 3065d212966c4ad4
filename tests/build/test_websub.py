"""WebSub publish pings against real hubs on 127.0.0.1: success, retries, giving up."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from publisher.build.websub import HubNotifier, Ping, PingReport


class Hub:
    """A hub that records each publish ping and answers with the statuses it is given."""

    def __init__(self, statuses: list[int] | None = None, *, default: int = 204,
                 hang: bool = False) -> None:
        self.statuses = list(statuses or [])
        self.default = default
        self.hang = hang
        self.release = threading.Event()
        self.pings: list[dict[str, list[str]]] = []
        self.content_types: list[str] = []
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hub._lock:
                    hub.pings.append(parse_qs(body.decode()))
                    hub.content_types.append(self.headers.get("Content-Type", ""))
                    status = hub.statuses.pop(0) if hub.statuses else hub.default
                if hub.hang:
                    hub.release.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"

    @property
    def topics(self) -> list[str]:
        return [url for ping in self.pings for url in ping["hub.url"]]


@contextmanager
def running(*hubs: Hub) -> Iterator[None]:
    threads = [threading.Thread(target=h.server.serve_forever, args=(0.05,), daemon=True)
               for h in hubs]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for hub in hubs:
            hub.release.set()
            hub.server.shutdown()
            hub.server.server_close()
        for thread in threads:
            thread.join(5)


class Sleeps:
    """Records the back-off pauses instead of waiting them out."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


FEEDS = ["https://news.example.org/rss.xml", "https://news.example.org/atom.xml"]


def test_each_hub_is_told_of_each_feed_with_a_form_encoded_publish_ping() -> None:
    one, two = Hub(), Hub()
    with running(one, two):
        report = HubNotifier(sleep=Sleeps()).notify([one.url, two.url], FEEDS)
    for hub in (one, two):
        assert sorted(hub.topics) == sorted(FEEDS)
        assert all(ping["hub.mode"] == ["publish"] for ping in hub.pings)
        assert set(hub.content_types) == {"application/x-www-form-urlencoded"}
    assert [p.ok for p in report.pings] == [True] * 4
    assert report.summary() == "notified 2 hubs of 2 changed feeds"


def test_a_hub_that_is_down_for_a_while_is_tried_again_with_growing_pauses() -> None:
    hub, sleeps = Hub([503, 502]), Sleeps()
    with running(hub):
        report = HubNotifier(sleep=sleeps, workers=1).notify([hub.url], FEEDS[:1])
    assert report.pings == (Ping(hub.url, FEEDS[0], True, 3),)
    assert sleeps.pauses == [1.0, 2.0]
    assert len(hub.pings) == 3


def test_a_hub_that_stays_down_is_given_up_and_the_others_are_still_told() -> None:
    down, up, sleeps = Hub(default=500), Hub(), Sleeps()
    with running(down, up):
        report = HubNotifier(sleep=sleeps, attempts=4).notify([down.url, up.url], FEEDS)
    assert len(down.pings) == 8 and sorted(up.topics) == sorted(FEEDS)
    assert sorted(sleeps.pauses) == [1.0, 1.0, 2.0, 2.0, 4.0, 4.0]
    assert report.summary() == (f"notified 1 of 2 hubs of 2 changed feeds; {down.url} gave up "
                                "after 4 attempts: HTTP 500 Internal Server Error")


def test_a_hub_that_refuses_is_not_asked_twice() -> None:
    hub, sleeps = Hub(default=400), Sleeps()
    with running(hub):
        report = HubNotifier(sleep=sleeps).notify([hub.url], FEEDS[:1])
    assert report.pings == (Ping(hub.url, FEEDS[0], False, 1, "HTTP 400 Bad Request"),)
    assert sleeps.pauses == [] and len(hub.pings) == 1


def test_a_hub_nobody_answers_at_is_given_up() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    report = HubNotifier(sleep=Sleeps()).notify([closed], FEEDS[:1])
    [ping] = report.pings
    assert (ping.ok, ping.attempts) == (False, 3)
    assert ping.error.startswith("ConnectError")


def test_a_hub_that_hangs_times_out_without_holding_up_the_other_hub() -> None:
    stuck, quick = Hub(hang=True), Hub()
    with running(stuck, quick):
        started = time.monotonic()
        report = HubNotifier(sleep=Sleeps(), timeout=0.3).notify([stuck.url, quick.url], FEEDS)
        took = time.monotonic() - started
    assert took < 3  # three attempts of 0.3 s per feed, side by side
    assert sorted(quick.topics) == sorted(FEEDS)
    failed = report.failed
    assert [(p.hub, p.attempts) for p in failed] == [(stuck.url, 3), (stuck.url, 3)]
    assert failed[0].error.startswith("ReadTimeout")


def test_nothing_to_tell_sends_nothing() -> None:
    assert HubNotifier().notify(["http://127.0.0.1:9/"], []) == PingReport(())
