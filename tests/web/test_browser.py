"""The archive and the subscription service in a real browser: Debian's chromium, headless.

A copy of the sample site is built for a base URL on 127.0.0.1 and served by a
real `publisher serve` in a subprocess; Playwright drives the system's chromium
(never a downloaded one). At 375 px (a phone) and 1280 px (a desktop) a reader
opens the index, follows an article, steps with Previous and Next, subscribes,
follows the confirmation link from the outbox and confirms; no page may scroll
sideways, and none may log an error (a blocked stylesheet, a CSP violation).
The digest's HTML gets the same width checks. Screenshots go to tmp_path.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import http.server
import mailbox
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import feedparser
import pytest

from publisher import publish
from publisher.config import load_settings
from publisher.digest.placeholders import fill, recipient_values
from publisher.digest.render import render_digest
from publisher.models import Digest
from publisher.send import render_options
from publisher.store.database import Store
from tests.conftest import NOW

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    REASON = ("no chromium executable on PATH: install Debian's chromium package "
              "(apt-get install chromium) to run the browser tests")
    print(f"\ntests/test_browser.py skipped: {REASON}", file=sys.stderr)
    pytest.skip(REASON, allow_module_level=True)

from playwright.sync_api import (  # noqa: E402
    Browser,
    ConsoleMessage,
    Page,
    Response,
    sync_playwright,
)

REPO = Path(__file__).resolve().parents[2]
SECRET = "a signing key for the browser tests"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]
WIDTHS = (375, 1280)
START_TIMEOUT = 20.0


@dataclass
class Served:
    root: Path
    url: str  # ends with "/"
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def config(url: str) -> str:
    return (f'title = "The Larkhaven Explainer"\n'
            f'description = "Short explainers on what is changing in Larkhaven."\n'
            f'base_url = "{url}"\nlanguage = "en"\ntimezone = "America/Chicago"\n'
            f'postal_address = "14 Tannery Row, Larkhaven"\n\n'
            f'[author]\nname = "The Explainer Desk"\n\n'
            f'[email]\nfrom_address = "digest@larkhaven.example"\n\n'
            f'[delivery]\ntransport = "outbox"\n')


def wait_until_up(process: subprocess.Popen[bytes], url: str) -> None:
    """Poll until the server answers (or fail with what it printed)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"publisher serve exited with {process.returncode}: {err.decode()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - our own server
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"publisher serve did not answer at {url} within {START_TIMEOUT} s")


@contextlib.contextmanager
def serving(root: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A real `publisher serve` for the site in `root`, on 127.0.0.1:`port`."""
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "PUBLISHER_SECRET_KEY": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-c", "from publisher.cli import main; main()", "--site", str(root),
         "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until_up(process, url)
        assert process.stdout is not None
        assert process.stdout.readline().decode() == (
            f"Serving public/ and the subscription service at {url} (Ctrl+C to stop)\n")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()


def sample_copy(root: Path) -> None:
    shutil.copytree(REPO / "content", root / "content")
    shutil.copytree(REPO / "static", root / "static")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("sample")
    sample_copy(root)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    (root / "publisher.toml").write_text(config(url), encoding="utf-8")
    publish.build(load_settings(root), lambda: NOW)
    with serving(root, port) as process:
        yield Served(root, url, process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Reader:
    """One browser tab at one width, checking every page it visits."""

    def __init__(self, page: Page, width: int, shots: Path) -> None:
        self.page, self.width, self.shots = page, width, shots
        self.errors: list[str] = []
        self.visited: list[str] = []
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Response) -> None:
        """Every resource must load; a browser asks for /favicon.ico on its own."""
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.errors.append(f"{response.status} for {response.url}")

    def check(self, name: str) -> None:
        """No sideways scrolling, no errors; a screenshot for the record."""
        self.page.wait_for_load_state("load")
        scroll, inner = self.page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        assert inner == self.width
        assert scroll <= inner, f"{name} at {self.width} px is {scroll} px wide"
        assert self.errors == [], f"{name}: {self.errors}"
        path = self.shots / f"{len(self.visited):02d}-{name}-{self.width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        self.visited.append(name)

    def heading(self) -> str:
        return self.page.locator("h1").first.inner_text()


def mailed_link(root: Path, address: str, path: str) -> str:
    """The first link to the service's `path` (`confirm`, `preferences`) in the plain-text
    part of the outbox's message to `address`."""
    box = mailbox.Maildir(root / "outbox", create=False)
    for key in box.iterkeys():
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        if message["To"] == address:
            part = cast(EmailMessage, message).get_body(("plain",))
            assert part is not None
            return re.findall(rf"http://\S+/{path}\?token=\S+", part.get_content())[0]
    raise AssertionError(f"no message to {address} in the outbox")


def browse(reader: Reader, url: str) -> None:
    """The index, the newest article, its older neighbour and back."""
    page = reader.page
    page.goto(url)
    assert reader.heading() == "Latest articles"
    reader.check("index")
    first = page.locator(".article-list h2 a").first
    title = first.inner_text()
    first.click()
    assert reader.heading() == title
    article_url = page.url
    reader.check("article")
    page.locator("a[rel=prev]", has_text="Previous").click()
    assert reader.heading() != title
    reader.check("previous")
    page.locator("a[rel=next]", has_text="Next").click()
    assert (reader.heading(), page.url) == (title, article_url)


def subscribe(reader: Reader, served: Served, address: str) -> None:
    """The form (with one topic), the link from the outbox, the button."""
    page = reader.page
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Subscribe").click()
    assert reader.heading() == "Subscribe"
    reader.check("subscribe")
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Transport").check()
    page.get_by_role("button", name="Subscribe").click()
    assert reader.heading() == "Check your inbox"
    reader.check("subscribed")
    page.goto(mailed_link(served.root, address, "confirm"))
    assert reader.heading() == "Confirm your subscription"
    reader.check("confirm")
    page.get_by_role("button", name="Confirm my subscription").click()
    assert reader.heading() == "You are subscribed"
    assert address in page.locator("main").inner_text()
    reader.check("confirmed")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_reader_browses_subscribes_and_confirms(served: Served, browser: Browser,
                                                   tmp_path: Path, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    reader = Reader(context.new_page(), width, tmp_path)
    browse(reader, served.url)
    address = f"reader{width}@example.org"
    subscribe(reader, served, address)
    context.close()
    assert reader.visited == ["index", "article", "previous", "subscribe", "subscribed",
                              "confirm", "confirmed"]
    with Store.open(load_settings(served.root).store_url) as store:
        subscriber = store.get_subscriber(address)
    assert subscriber is not None
    assert (subscriber.status, subscriber.tags) == ("active", ("transport",))


@pytest.fixture(scope="module")
def static_server(served: Served) -> Iterator[str]:
    """The output folder behind a plain static file server (as nginx or a CDN would serve it,
    with the file types it guesses from the names), not `publisher serve`."""
    folder = str(served.root / "public")

    class Files(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=folder, **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("path", ["rss.xml", "atom.xml", "tags/transport/rss.xml"])
def test_a_feed_opened_from_a_static_server_reads_as_a_page(
        served: Served, static_server: str, browser: Browser, tmp_path: Path, path: str) -> None:
    """No XSLT, so no browser warning: the feed's CSS says what it is and lists its items."""
    context = browser.new_context(viewport={"width": 375, "height": 900})
    reader = Reader(context.new_page(), 375, tmp_path)
    answer = reader.page.goto(static_server + path)
    assert answer is not None and answer.status == 200
    assert answer.headers["content-type"].startswith(("text/xml", "application/xml"))
    # What a person (or a screen reader) is shown, CSS-generated text included, in order.
    text = reader.page.locator(":root").aria_snapshot()
    feed = feedparser.parse((served.root / "public" / path).read_bytes())
    assert text.startswith(f'- text: "Web feed {feed.feed.title} {feed.feed.subtitle} '
                           "This is a web feed: subscribe by copying the address of this page")
    assert f"Feed address: {served.url}{path} Latest articles " in text
    titles = " ".join(e.title for e in feed.entries)
    assert len(feed.entries) >= 2 and text.endswith(f"Latest articles {titles}\"")
    assert "<p>" not in text and "rss.xml</link>" not in text  # no raw markup on show
    assert reader.errors == []
    reader.page.screenshot(path=str(tmp_path / f"feed-{path.replace('/', '-')}.png"))
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_digest_fits_a_phone_and_a_desktop(served: Served, browser: Browser,
                                               tmp_path: Path, width: int) -> None:
    """The message as a recipient sees it, and its web copy as the service serves it."""
    settings = load_settings(served.root)
    articles = publish.load(settings, readonly=True).published(NOW)[:6]
    digest = Digest("weekly-2026-11-25", "weekly", NOW, NOW, tuple(a.id for a in articles))
    rendered = render_digest(render_options(settings), digest, articles).rendered
    values = recipient_values("Ann Lima", "ann@example.org",
                              served.url + "unsubscribe?token=1.abc")
    message = tmp_path / "digest-message.html"
    message.write_text(fill(rendered.html, values, escape=True), encoding="utf-8")
    web_copy = served.root / "public/digests" / f"{digest.id}-{width}.html"
    web_copy.write_text(rendered.web_html, encoding="utf-8")
    for name, url in (("message", message.as_uri()),
                      ("web-copy", served.url + f"digests/{web_copy.name}")):
        context = browser.new_context(viewport={"width": width, "height": 900})
        reader = Reader(context.new_page(), width, tmp_path)
        reader.page.goto(url)
        assert reader.heading() == "Digest for 25 November 2026"
        container = reader.page.evaluate(
            "getComputedStyle(document.querySelector('.container')).maxWidth")
        assert container == "600px"  # the inlined styles apply (the CSP lets them)
        reader.check(f"digest-{name}")
        context.close()


def test_the_sample_site_as_built_for_production_previews_locally(
        tmp_path_factory: pytest.TempPathFactory, browser: Browser, tmp_path: Path) -> None:
    """A fresh clone: `publisher build && publisher serve`, publisher.toml untouched."""
    root = tmp_path_factory.mktemp("fresh-clone")
    sample_copy(root)
    shutil.copy(REPO / "publisher.toml", root / "publisher.toml")
    settings = load_settings(root)
    publish.build(settings, lambda: NOW)
    built = {p: p.read_bytes() for p in (root / "public").rglob("*") if p.is_file()}
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with serving(root, port) as process:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        reader = Reader(context.new_page(), 1280, tmp_path)
        page = reader.page
        page.goto(url)
        first = page.locator(".article-list h2 a").first
        first.click()
        reader.check("article")
        images = page.evaluate("[...document.images].map(i => [i.currentSrc, i.naturalWidth])")
        assert images and all(src.startswith(url) and width > 0 for src, width in images), \
            images
        links = page.evaluate("[...document.links].map(a => a.href)")
        assert not [link for link in links if link.startswith(settings.base_url)]
        page.goto(url)
        subscribe(reader, Served(root, url, process), "preview@example.org")
        context.close()
    after = {p: p.read_bytes() for p in (root / "public").rglob("*") if p.is_file()}
    assert after == built  # the production output is what the build wrote


@pytest.mark.parametrize("width", WIDTHS)
def test_a_reader_chooses_on_the_form_and_changes_it_later_without_javascript(
        served: Served, browser: Browser, tmp_path: Path, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  java_script_enabled=False)
    reader = Reader(context.new_page(), width, tmp_path)
    page = reader.page
    address = f"chooser{width}@example.org"
    page.goto(served.url + "subscribe/")
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Transport").check()
    page.get_by_label("Time zone").select_option("Pacific/Auckland")
    page.get_by_label("Hour").select_option("7")
    reader.check("subscribe-choices")
    page.get_by_role("button", name="Subscribe").click()
    assert reader.heading() == "Check your inbox"
    page.goto(mailed_link(served.root, address, "preferences"))
    assert reader.heading() == "Your preferences"
    reader.check("preferences")
    assert page.get_by_label("Transport").is_checked()
    assert page.get_by_label("Time zone").input_value() == "Pacific/Auckland"
    assert page.get_by_label("Hour").input_value() == "7"
    page.get_by_label("Transport").uncheck()
    page.get_by_label("Harbour").check()
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_label("Hour").select_option("18")
    page.get_by_role("button", name="Save my choices").click()
    assert reader.heading() == "Your preferences"
    assert "Your choices are saved." in page.locator("main").inner_text()
    reader.check("saved")
    context.close()
    with Store.open(load_settings(served.root).store_url) as store:
        subscriber = store.get_subscriber(address)
    assert subscriber is not None
    assert (subscriber.tags, subscriber.timezone, subscriber.hour) == (
        ("harbour",), "Asia/Tokyo", 18)
