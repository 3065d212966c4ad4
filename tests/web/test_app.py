"""`publisher serve` over HTTP: the published folder, and subscribe / confirm / unsubscribe.

Requests go through Starlette's test client to the real application, with a real
SQLite store in tmp_path and the outbox transport: messages are read back from
the Maildir. Time is a clock the test moves by hand.
"""

from __future__ import annotations

import email
import email.policy
import gzip
import html
import logging
import mailbox
import os
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import anyio
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message

from publisher import publish
from publisher.cli import cli
from publisher.config import Settings
from publisher.errors import ConfigError, DeliveryError, OutputError
from publisher.models import Subscriber
from publisher.send import default_plan
from publisher.store.database import Store
from publisher.subscribers.tokens import confirm_token, unsubscribe_token
from publisher.web.app import create_app
from tests.conftest import BASE_CONFIG, NOW, SiteFactory, article, settings_of
from tests.postgres import NEEDS_POSTGRES, postgres_url
from tests.sending import send_digest

SECRET = "a signing key for the tests, long enough"
SITE = "https://news.example.org/"
ARTICLES = {
    "content/ferry.md": article("Ferry fares rise", "2026-11-20 09:00", slug="ferry-fares-rise",
                                tags="[Transport, Harbour]", id="ferry"),
    "content/bridge.md": article("Bridge closes", "2026-11-22 18:30", slug="bridge-closes",
                                 tags="[Transport]", id="bridge"),
    "static/images/map.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                             '<rect width="10" height="10"/></svg>\n',
}
CONFIG = BASE_CONFIG + "\n[web]\nsubscribe_per_hour = 50\nconfirm_ttl_hours = 48\n"
STRICT_CONFIG = CONFIG.replace("subscribe_per_hour = 50", "subscribe_per_hour = 4")
INVALID_LINK = ("This link is not valid.",
                "It may have been cut short when copied: use the whole link from the latest "
                "email.")
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy",
                    "x-frame-options")


class Ticking:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Outbox:
    """The messages the service handed to the outbox transport, each read once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: set[str] = set()

    def new(self) -> list[EmailMessage]:
        if not self.folder.exists():
            return []
        box = mailbox.Maildir(self.folder, create=False)
        keys = sorted(set(box.keys()) - self.seen)
        self.seen |= set(keys)
        return [cast(EmailMessage, email.message_from_bytes(box.get_bytes(key),
                                                            policy=email.policy.default))
                for key in keys]

    def one(self) -> EmailMessage:
        messages = self.new()
        assert len(messages) == 1, [m["Subject"] for m in messages]
        return messages[0]


class Web:
    """One running service: its client, clock, outbox and site."""

    def __init__(self, root: Path, client: TestClient, clock: Ticking) -> None:
        self.root, self.client, self.clock = root, client, clock
        self.outbox = Outbox(root / "outbox")
        self.public = root / "public"

    @property
    def settings(self) -> Settings:
        return settings_of(self.root)

    def store(self) -> Store:
        return Store.open(self.settings.store_url)

    def subscribers(self) -> list[tuple[str, str, tuple[str, ...]]]:
        with self.store() as store:
            return [(s.email, s.status, s.tags) for s in store.iter_subscribers()]

    def status_of(self, address: str) -> str | None:
        with self.store() as store:
            found = store.get_subscriber(address)
        return found.status if found else None

    def subscriber(self, address: str) -> Subscriber:
        with self.store() as store:
            found = store.get_subscriber(address)
        assert found is not None
        return found


@pytest.fixture
def clock() -> Ticking:
    return Ticking(NOW)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", SECRET)
    return SECRET


@pytest.fixture
def site(make_site: SiteFactory, clock: Ticking, secret: str) -> Path:
    root = make_site(ARTICLES, config=CONFIG)
    publish.build(settings_of(root), clock)
    return root


@pytest.fixture
def web(site: Path, clock: Ticking) -> Iterator[Web]:
    with TestClient(create_app(settings_of(site), clock=clock)) as client:
        yield Web(site, client, clock)


def path_of(url: str) -> str:
    """The path and query of an absolute link, to request it from the test client."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}/" == SITE
    return parts.path + ("?" + parts.query if parts.query else "")


def body_of(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None, f"no text/{kind} part"
    return str(part.get_content())


def link_in(message: EmailMessage, action: str) -> str:
    text = body_of(message, "plain")
    found = re.findall(rf"{re.escape(SITE)}{action}\?token=[A-Za-z0-9._-]+", text)
    assert len(found) == 1, text
    html = body_of(message, "html")
    assert f'href="{found[0]}"' in html
    return path_of(found[0])


def texts(body: str) -> list[str]:
    """The headings and paragraphs of a page's main element, as plain text."""
    main = body.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return [html.unescape(re.sub(r"<[^>]+>", "", chunk)).strip()
            for chunk in re.findall(r"<(?:h1|p)>(.*?)</(?:h1|p)>", main, re.S)]


def raw_request(app: ASGIApp, path: str, method: str = "GET") -> tuple[int, bytes]:
    """Send a path exactly as given (an HTTP client would tidy away "..")."""
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"testserver")],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    anyio.run(app, scope, receive, send)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body


# -- the published folder ----------------------------------------------------------------


@pytest.mark.parametrize(("path", "media_type", "cache"), [
    ("/rss.xml", "application/rss+xml; charset=utf-8", "public, max-age=300"),
    ("/atom.xml", "application/atom+xml; charset=utf-8", "public, max-age=300"),
    ("/feed.json", "application/feed+json; charset=utf-8", "public, max-age=300"),
    ("/tags/transport/rss.xml", "application/rss+xml; charset=utf-8", "public, max-age=300"),
    ("/feed.css", "text/css; charset=utf-8", "public, max-age=86400"),
    ("/", "text/html; charset=utf-8", "public, max-age=300"),
    ("/2026/11/bridge-closes/", "text/html; charset=utf-8", "public, max-age=300"),
    ("/style.css", "text/css; charset=utf-8", "public, max-age=86400"),
    ("/images/map.svg", "image/svg+xml", "public, max-age=86400"),
])
def test_files_have_their_content_type_and_cache_lifetime(web: Web, path: str, media_type: str,
                                                          cache: str) -> None:
    answer = web.client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == media_type
    assert answer.headers["cache-control"] == cache
    index = "index.html" if path.endswith("/") else ""
    assert answer.content == (web.public / (path.lstrip("/") + index)).read_bytes()


@pytest.mark.parametrize("path", ["/rss.xml", "/atom.xml"])
def test_a_browser_gets_a_feed_as_xml_so_that_its_stylesheet_applies(web: Web, path: str
                                                                    ) -> None:
    browser = web.client.get(path, headers={"accept": "text/html,application/xml;q=0.9"})
    reader = web.client.get(path, headers={"accept": "application/rss+xml, */*;q=0.1"})
    assert browser.headers["content-type"] == "application/xml; charset=utf-8"
    assert reader.headers["content-type"].startswith(("application/rss+xml",
                                                      "application/atom+xml"))
    assert browser.content == reader.content
    assert browser.headers["vary"] == reader.headers["vary"] == "Accept-Encoding, Accept"


def test_a_folder_url_serves_its_index_and_gains_its_slash(web: Web) -> None:
    answer = web.client.get("/tags/transport?page=1", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (301, "/tags/transport/?page=1")
    assert web.client.get("/tags/transport/").content == \
        (web.public / "tags/transport/index.html").read_bytes()


def test_a_folder_named_in_another_script_is_found(web: Web) -> None:
    (web.public / "tags/дороги").mkdir()
    (web.public / "tags/дороги/index.html").write_text("<h1>Дороги</h1>", encoding="utf-8")
    answer = web.client.get("/tags/дороги", follow_redirects=False)
    assert answer.headers["location"] == "/tags/%D0%B4%D0%BE%D1%80%D0%BE%D0%B3%D0%B8/"
    assert web.client.get("/tags/дороги/").text == "<h1>Дороги</h1>"


def test_a_folder_without_an_index_is_not_listed(web: Web) -> None:
    answer = web.client.get("/images/")
    assert answer.status_code == 404
    assert "map.svg" not in answer.text


def test_a_missing_page_gets_the_sites_404_page(web: Web) -> None:
    answer = web.client.get("/2026/11/no-such-article/")
    assert answer.status_code == 404
    assert answer.content == (web.public / "404.html").read_bytes()
    assert answer.headers["cache-control"] == "no-cache"
    assert "<h1>Page not found</h1>" in answer.text


@pytest.mark.parametrize("path", [
    "/../publisher.toml", "/tags/../../publisher.toml", "/%2e%2e/publisher.toml",
    "/tags/%2E%2E/%2e%2e/publisher.toml", "/..%2fpublisher.toml", "//etc/passwd",
    "/../../../../../../etc/passwd", "/%2fetc%2fpasswd", "/./publisher.toml",
    "/.publisher/manifest.json", "/style.css%00.html", "/..\\publisher.toml",
])
def test_no_path_leaves_the_published_folder(web: Web, path: str) -> None:
    answer = web.client.get(path)
    assert answer.status_code == 404
    assert "Test Gazette" in answer.text  # the site's 404 page, not the file
    assert "base_url" not in answer.text and "root:" not in answer.text


@pytest.mark.parametrize("path", ["/../publisher.toml", "/tags/../../publisher.toml",
                                  "/./../publisher.toml", "/../../etc/passwd"])
def test_dot_segments_sent_as_they_are_find_nothing(site: Path, clock: Ticking,
                                                    path: str) -> None:
    app = create_app(settings_of(site), clock=clock)
    status, body = raw_request(app, path)
    assert status == 404
    assert b"base_url" not in body and b"root:" not in body


def test_a_link_out_of_the_folder_is_not_followed(web: Web) -> None:
    (web.public / "escape.txt").symlink_to(web.root / "publisher.toml")
    (web.public / "inside.txt").symlink_to(web.public / "style.css")
    assert web.client.get("/escape.txt").status_code == 404
    assert web.client.get("/inside.txt").status_code == 200


def test_only_get_and_head_are_answered_for_files(web: Web) -> None:
    answer = web.client.post("/index.html", data={"a": "b"})
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"
    assert texts(answer.text)[:2] == ["Method not allowed", "This address answers only GET, HEAD."]
    assert web.client.put("/confirm").headers["allow"] == "GET, HEAD, POST"
    assert web.client.delete("/subscribe").status_code == 405


def test_head_has_the_headers_of_get_and_no_body(web: Web) -> None:
    got = web.client.get("/rss.xml")
    head = web.client.head("/rss.xml")
    assert head.status_code == 200 and head.content == b""
    for name in ("content-type", "etag", "last-modified", "content-length", "cache-control"):
        assert head.headers[name] == got.headers[name]


# -- validators and conditional GET -------------------------------------------------------


def test_etag_is_a_strong_hash_of_the_bytes_and_last_modified_the_file_time(web: Web) -> None:
    first = web.client.get("/rss.xml", headers={"accept-encoding": "identity"})
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    mtime = int((web.public / "rss.xml").stat().st_mtime)
    assert first.headers["last-modified"] == format_datetime(
        datetime.fromtimestamp(mtime, UTC), usegmt=True)
    assert web.client.get("/rss.xml", headers={"accept-encoding": "identity"}
                          ).headers["etag"] == etag


def test_if_none_match_answers_304_without_a_body(web: Web) -> None:
    etag = web.client.get("/rss.xml", headers={"accept-encoding": "identity"}).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        answer = web.client.get("/rss.xml", headers={"if-none-match": header,
                                                     "accept-encoding": "identity"})
        assert answer.status_code == 304, header
        assert answer.content == b""
        assert answer.headers["etag"] == etag
        assert answer.headers["cache-control"] == "public, max-age=300"
    other = web.client.get("/rss.xml", headers={"if-none-match": '"other"'})
    assert other.status_code == 200


def test_if_modified_since_compares_dates_not_strings(web: Web) -> None:
    modified = web.client.get("/atom.xml").headers["last-modified"]
    moment = datetime.fromtimestamp(int((web.public / "atom.xml").stat().st_mtime), UTC)
    rfc850 = moment.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    asctime = moment.strftime("%a %b ") + f"{moment.day:>2}" + moment.strftime(" %H:%M:%S %Y")
    for header in (modified, rfc850, asctime, format_datetime(moment + timedelta(days=1),
                                                              usegmt=True)):
        assert web.client.get("/atom.xml", headers={"if-modified-since": header}
                              ).status_code == 304, header
    for header in (format_datetime(moment - timedelta(seconds=1), usegmt=True), "yesterday"):
        assert web.client.get("/atom.xml", headers={"if-modified-since": header}
                              ).status_code == 200, header


def test_if_none_match_takes_precedence_over_if_modified_since(web: Web) -> None:
    modified = web.client.get("/feed.json").headers["last-modified"]
    answer = web.client.get("/feed.json", headers={"if-none-match": '"stale"',
                                                   "if-modified-since": modified})
    assert answer.status_code == 200


def test_a_changed_file_gets_a_new_etag_and_a_full_answer(web: Web) -> None:
    identity = {"accept-encoding": "identity"}
    old = web.client.get("/rss.xml", headers=identity).headers["etag"]
    feed = web.public / "rss.xml"
    stamp = feed.stat().st_mtime_ns
    feed.write_bytes(feed.read_bytes().replace(b"Bridge closes", b"Bridge reopens"))
    os.utime(feed, ns=(stamp + 2_000_000_000, stamp + 2_000_000_000))
    answer = web.client.get("/rss.xml", headers={**identity, "if-none-match": old})
    assert answer.status_code == 200
    assert answer.headers["etag"] != old
    assert b"Bridge reopens" in answer.content


def test_rewriting_the_same_bytes_keeps_the_etag(web: Web) -> None:
    old = web.client.get("/rss.xml").headers["etag"]
    feed = web.public / "rss.xml"
    feed.write_bytes(feed.read_bytes())
    os.utime(feed, ns=(feed.stat().st_mtime_ns + 5_000_000_000,) * 2)
    answer = web.client.get("/rss.xml", headers={"if-none-match": old})
    assert answer.status_code == 304


def test_gzip_when_accepted_with_its_own_etag(web: Web) -> None:
    original = (web.public / "rss.xml").read_bytes()
    packed = web.client.get("/rss.xml", headers={"accept-encoding": "gzip, br"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding, Accept"
    assert packed.content == original  # the client decoded it
    assert int(packed.headers["content-length"]) < len(original) // 2
    identity = web.client.get("/rss.xml", headers={"accept-encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in identity.headers
    assert int(identity.headers["content-length"]) == len(original)
    assert identity.headers["vary"] == "Accept-Encoding, Accept"
    assert packed.headers["etag"] != identity.headers["etag"]
    again = web.client.get("/rss.xml", headers={"accept-encoding": "gzip",
                                                "if-none-match": packed.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_gzip_body_is_a_valid_gzip_stream(site: Path, clock: Ticking) -> None:
    with TestClient(create_app(settings_of(site), clock=clock)) as client, \
            client.stream("GET", "/atom.xml", headers={"accept-encoding": "gzip"}) as answer:
        raw = b"".join(answer.iter_raw())
    assert gzip.decompress(raw) == (site / "public/atom.xml").read_bytes()


def test_images_are_not_compressed_again(web: Web) -> None:
    (web.public / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    answer = web.client.get("/photo.png", headers={"accept-encoding": "gzip"})
    assert answer.headers["content-type"] == "image/png"
    assert "content-encoding" not in answer.headers


# -- subscribe, confirm, receive, unsubscribe ---------------------------------------------


def subscribe(web: Web, address: str, *topics: str) -> Any:
    """POST the subscribe form, as the archive's page does."""
    return web.client.post("/subscribe", data={"email": address, "topics": list(topics)})


def subscribe_and_confirm(web: Web, address: str) -> None:
    """The form, the message, a look at the link (changing nothing), the button."""
    answer = subscribe(web, address, "transport")
    assert answer.status_code == 200
    assert texts(answer.text)[0] == "Check your inbox"
    assert web.status_of(address) == "pending"
    mail = web.outbox.one()
    assert (mail["To"], mail["From"]) == (address, "digest@example.org")
    assert mail["Subject"] == "Confirm your subscription to Test Gazette"
    link = link_in(mail, "confirm")
    before = web.subscribers()
    page = web.client.get(link)
    assert page.status_code == 200
    assert '<button type="submit">Confirm my subscription</button>' in page.text
    assert web.subscribers() == before  # looking changes nothing
    done = web.client.post("/confirm", data={"token": link.split("token=", 1)[1]})
    assert done.status_code == 200
    assert texts(done.text)[:2] == ["You are subscribed", f"Thank you. Test Gazette will now "
                                    f"arrive by email at {address}. Every message has a "
                                    "link to unsubscribe."]
    assert web.status_of(address) == "active"


def send_digest_now(web: Web) -> dict[str, EmailMessage]:
    """Send the next digest through the outbox; each recipient's message."""
    report = send_digest(web.settings, web.clock, schedule=default_plan(web.settings))
    assert report is not None and report.stopped is None
    return {str(m["To"]): m for m in web.outbox.new()}


def test_the_whole_journey_of_a_subscriber(web: Web, clock: Ticking) -> None:
    with web.store() as store:
        store.add_subscriber("bob@example.org", now=NOW)  # already on the list, for comparison
    subscribe_and_confirm(web, "Ann@example.org")
    digests = send_digest_now(web)
    assert set(digests) == {"Ann@example.org", "bob@example.org"}
    header = str(digests["Ann@example.org"]["List-Unsubscribe"])
    one_click = path_of(re.findall(r"<(https://[^>]+)>", header)[0])
    assert digests["Ann@example.org"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    left = web.client.post(one_click, content=b"List-Unsubscribe=One-Click",
                           headers={"content-type": "application/x-www-form-urlencoded"},
                           follow_redirects=False)
    assert left.status_code == 200
    assert "set-cookie" not in left.headers
    assert web.status_of("ann@example.org") == "unsubscribed"

    (web.root / "content/late.md").write_text(article("Late news", "2026-11-26 08:00",
                                                      id="late"), encoding="utf-8")
    clock.advance(days=2)
    assert list(send_digest_now(web)) == ["bob@example.org"]


def test_one_click_unsubscribe_is_idempotent_and_takes_multipart_too(web: Web) -> None:
    with web.store() as store:
        ann, _ = store.add_subscriber("ann@example.org", now=NOW)
    url = "/unsubscribe?token=" + unsubscribe_token(SECRET, ann)
    first = web.client.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    assert first.headers["content-type"].startswith("text/html")
    assert first.status_code == 200
    assert web.status_of("ann@example.org") == "unsubscribed"
    second = web.client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert (second.status_code, second.text) == (200, first.text)
    assert texts(second.text)[:2] == ["You are unsubscribed", "ann@example.org will receive "
                                      "no more email from Test Gazette."]


def test_the_unsubscribe_page_asks_first_and_its_button_unsubscribes(web: Web) -> None:
    with web.store() as store:
        ann, _ = store.add_subscriber("ann@example.org", now=NOW)
    token = unsubscribe_token(SECRET, ann)
    page = web.client.get(f"/unsubscribe?token={token}")
    assert page.status_code == 200
    assert f'<input type="hidden" name="token" value="{token}">' in page.text
    assert '<form class="service" method="post" action="unsubscribe">' in page.text
    assert web.status_of("ann@example.org") == "active"
    done = web.client.post("/unsubscribe", data={"token": token})
    assert done.status_code == 200
    assert web.status_of("ann@example.org") == "unsubscribed"


def test_looking_at_links_never_changes_anything(web: Web) -> None:
    subscribe(web, "ann@example.org")
    confirm = link_in(web.outbox.one(), "confirm")
    with web.store() as store:
        bob, _ = store.add_subscriber("bob@example.org", now=NOW)
    leave = f"/unsubscribe?token={unsubscribe_token(SECRET, bob)}"
    before = web.subscribers()
    for _ in range(3):
        assert web.client.get(confirm).status_code == 200
        assert web.client.head(confirm).status_code == 200
        assert web.client.get(leave).status_code == 200
        assert web.client.head(leave).status_code == 200
    assert web.subscribers() == before
    assert ("ann@example.org", "pending", ()) in before
    assert ("bob@example.org", "active", ()) in before


def test_the_answer_is_the_same_whatever_the_list_knows(web: Web) -> None:
    with web.store() as store:
        for address, status in (("active@example.org", "active"),
                                ("pending@example.org", "pending"),
                                ("left@example.org", "unsubscribed"),
                                ("bounced@example.org", "bounced")):
            store.add_subscriber(address, status=status, now=NOW)
    answers = [subscribe(web, f"{who}@example.org")
               for who in ("unknown", "active", "pending", "left", "bounced")]
    first = answers[0]
    for answer in answers[1:]:
        assert answer.status_code == first.status_code == 200
        assert answer.content == first.content
        assert answer.headers == first.headers
    mails = {m["To"]: m for m in web.outbox.new()}
    assert len(mails) == 5  # one message each, whatever the state
    assert mails["active@example.org"]["Subject"] == "Your subscription to Test Gazette"
    leave = link_in(mails["active@example.org"], "unsubscribe")
    assert web.client.post(leave).status_code == 200
    for who in ("unknown", "pending", "left", "bounced"):
        assert mails[f"{who}@example.org"]["Subject"] == \
            "Confirm your subscription to Test Gazette"
    assert web.status_of("left@example.org") == "pending"
    assert web.status_of("bounced@example.org") == "pending"
    assert web.status_of("active@example.org") == "unsubscribed"


def test_an_invalid_address_gets_a_400_page_and_no_mail(web: Web) -> None:
    for value in ("not an address", "", "a@b@example.org", "x" * 400 + "@example.org"):
        answer = subscribe(web, value)
        assert answer.status_code == 400, value
        assert texts(answer.text)[0] == "This request cannot be used"
    answer = subscribe(web, "ann.example.org")
    assert texts(answer.text)[1:3] == [
        '"ann.example.org" is not a valid address: an email address must have an '
        "@-sign.", "Write it as name@example.org."]
    assert web.outbox.new() == []
    assert web.subscribers() == []


def test_an_address_shaped_like_an_encoded_word_is_refused_by_the_form(web: Web) -> None:
    answer = subscribe(web, "=?utf-8?q?ann?=@example.org")
    assert answer.status_code == 400
    assert texts(answer.text)[1:3] == [
        '"=?utf-8?q?ann?=@example.org" is not a valid address: it is shaped like an encoded '
        "word (=?…?=), which mail programs decode into another text.",
        "Write it as name@example.org."]
    assert web.outbox.new() == []
    assert web.subscribers() == []


def test_topics_are_kept_only_if_the_site_has_them(web: Web) -> None:
    subscribe(web, "ann@example.org", "transport", "harbour", "../../etc", "unknown",
              "Transport")
    assert web.subscribers() == [("ann@example.org", "pending", ("transport", "harbour"))]


def test_confirming_twice_is_harmless(web: Web) -> None:
    subscribe(web, "ann@example.org")
    token = link_in(web.outbox.one(), "confirm").split("token=", 1)[1]
    assert texts(web.client.post("/confirm", data={"token": token}).text)[0] == \
        "You are subscribed"
    again = web.client.post("/confirm", data={"token": token})
    assert again.status_code == 200
    assert texts(again.text)[:2] == ["Already confirmed", "This subscription is already "
                                     "confirmed; there is nothing more to do."]
    assert texts(web.client.get(f"/confirm?token={token}").text)[0] == "Already confirmed"
    assert web.status_of("ann@example.org") == "active"


def test_a_confirm_link_does_not_bring_back_someone_who_left(web: Web) -> None:
    subscribe(web, "ann@example.org")
    token = link_in(web.outbox.one(), "confirm").split("token=", 1)[1]
    web.client.post("/confirm", data={"token": token})
    leave = unsubscribe_token(SECRET, web.subscriber("ann@example.org"))
    web.client.post(f"/unsubscribe?token={leave}")
    answer = web.client.post("/confirm", data={"token": token})
    assert answer.status_code == 200
    assert texts(answer.text)[:2] == ["This link no longer applies", "The address left the "
                                      "list after this link was sent, so it stays off the list."]
    assert web.status_of("ann@example.org") == "unsubscribed"
    web.clock.advance(hours=1)  # [web] resend_after: one message an hour to an address
    subscribe(web, "ann@example.org")  # asking again is the way back, confirmed again
    assert web.status_of("ann@example.org") == "pending"
    fresh = link_in(web.outbox.one(), "confirm").split("token=", 1)[1]
    web.client.post("/confirm", data={"token": fresh})
    assert web.status_of("ann@example.org") == "active"


def test_forged_tokens_get_a_plain_400_page(web: Web) -> None:
    subscribe(web, "ann@example.org")
    token = link_in(web.outbox.one(), "confirm").split("token=", 1)[1]
    ann = web.subscriber("ann@example.org")
    ident, stamp, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    forged = [f"{ident}.{stamp}.{flipped}", f"{ident}.{int(stamp) + 3600}.{signature}",
              f"{int(ident) + 1}.{stamp}.{signature}", "", "garbage", token[:-5],
              unsubscribe_token(SECRET, ann),  # made for the other purpose
              confirm_token("another key entirely, as long", ann, now=NOW)]
    before = web.subscribers()
    for value in forged:
        for answer in (web.client.get("/confirm", params={"token": value}),
                       web.client.post("/confirm", data={"token": value})):
            assert answer.status_code == 400, value
            assert texts(answer.text)[1:3] == list(INVALID_LINK)
            assert "Traceback" not in answer.text
    for value in (token, f"{ann.id}.AAAA", "1", ""):
        answer = web.client.post("/unsubscribe", params={"token": value},
                                 data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 400, value
        assert texts(answer.text)[1:3] == list(INVALID_LINK)
    assert web.subscribers() == before


def test_an_expired_confirm_link_is_refused(web: Web, clock: Ticking) -> None:
    subscribe(web, "ann@example.org")
    token = link_in(web.outbox.one(), "confirm").split("token=", 1)[1]
    clock.advance(hours=47, minutes=59)
    assert web.client.get(f"/confirm?token={token}").status_code == 200
    clock.advance(minutes=2)
    for answer in (web.client.get(f"/confirm?token={token}"),
                   web.client.post("/confirm", data={"token": token})):
        assert answer.status_code == 400
        assert texts(answer.text)[1:3] == ["This confirmation link has expired.",
                                           "Subscribe again to receive a new link."]
    assert web.status_of("ann@example.org") == "pending"


def test_an_unsubscribe_link_never_expires(web: Web, clock: Ticking) -> None:
    with web.store() as store:
        ann, _ = store.add_subscriber("ann@example.org", now=NOW)
    clock.advance(days=3650)
    answer = web.client.post(f"/unsubscribe?token={unsubscribe_token(SECRET, ann)}")
    assert answer.status_code == 200
    assert web.status_of("ann@example.org") == "unsubscribed"


@pytest.fixture
def strict_site(make_site: SiteFactory, clock: Ticking, secret: str) -> Path:
    """A site that takes four subscribe requests an hour from each client."""
    root = make_site(ARTICLES, config=STRICT_CONFIG, name="strict")
    publish.build(settings_of(root), clock)
    return root


def test_subscribe_requests_are_limited_per_client(strict_site: Path, clock: Ticking) -> None:
    site = strict_site
    app = create_app(settings_of(site), clock=clock)
    with TestClient(app, client=("203.0.113.7", 5000)) as client, \
            TestClient(app, client=("198.51.100.1", 5000)) as neighbour:
        for number in range(4):
            clock.advance(minutes=10)
            answer = client.post("/subscribe", data={"email": f"a{number}@example.org"})
            assert answer.status_code == 200
        limited = client.post("/subscribe", data={"email": "b@example.org"})
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "1800"  # when the first of the four leaves
        assert texts(limited.text)[:3] == ["Too many requests", "Too many subscribe requests "
                                           "came from your network.", "Please try again in "
                                           "30 minutes."]
        assert neighbour.post("/subscribe", data={"email": "c@example.org"}).status_code == 200
        clock.advance(minutes=29, seconds=59)
        assert client.post("/subscribe", data={"email": "b@example.org"}).status_code == 429
        clock.advance(seconds=1)
        assert client.post("/subscribe", data={"email": "b@example.org"}).status_code == 200
        assert client.post("/subscribe", data={"email": "d@example.org"}).status_code == 429
    with Store.open(settings_of(site).store_url) as store:
        assert store.get_subscriber("d@example.org") is None


def test_ipv6_clients_are_counted_per_64_block(strict_site: Path, clock: Ticking) -> None:
    app = create_app(settings_of(strict_site), clock=clock)
    for number in range(5):
        with TestClient(app, client=(f"2001:db8:1:2::{number + 1}", 5000)) as client:
            answer = client.post("/subscribe", data={"email": f"a{number}@example.org"})
        assert answer.status_code == (429 if number == 4 else 200)


def test_every_answer_carries_the_security_headers(site: Path, clock: Ticking) -> None:
    (site / "templates/site").mkdir(parents=True)
    (site / "templates/site/unsubscribe.html").write_text(
        '{% extends "site/base.html" %}{% block main %}{{ missing.name }}{% endblock %}\n')
    app = create_app(settings_of(site), clock=clock)
    etag = ""
    with TestClient(app, raise_server_exceptions=False) as client:
        answers = {
            "page": client.get("/"), "feed": client.get("/rss.xml"),
            "304": client.get("/rss.xml", headers={"if-none-match": "*"}),
            "404": client.get("/nothing"), "redirect": client.get("/tags", follow_redirects=False),
            "subscribed": client.post("/subscribe", data={"email": "a@example.org"}),
            "400": client.get("/confirm?token=x"),
            "500": client.get("/unsubscribe?token=x.y"),
        }
        etag = answers["feed"].headers["etag"]
    assert answers["304"].status_code == 304 and etag
    for name, answer in answers.items():
        for header in SECURITY_HEADERS:
            assert header in answer.headers, (name, header)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        policy = answer.headers["content-security-policy"]
        assert policy.startswith("default-src 'self';"), name
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert "script-src" not in policy
    service = answers["subscribed"].headers
    assert service["referrer-policy"] == "no-referrer"  # links carry tokens
    assert service["cache-control"] == "no-store"
    assert "style-src 'self';" in service["content-security-policy"]


def test_a_digest_web_copy_may_keep_its_inline_styles(web: Web) -> None:
    (web.public / "digests").mkdir(exist_ok=True)
    (web.public / "digests/weekly-1.html").write_text('<p style="color: red">Hi</p>')
    policy = web.client.get("/digests/weekly-1.html").headers["content-security-policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy


def test_an_error_is_a_500_page_without_a_traceback_and_is_logged(
        site: Path, clock: Ticking, caplog: pytest.LogCaptureFixture) -> None:
    (site / "templates/site").mkdir(parents=True)
    (site / "templates/site/confirm.html").write_text(
        '{% extends "site/base.html" %}{% block main %}{{ missing.name }}{% endblock %}\n')
    subscribe_token = "1.2.3"
    with TestClient(create_app(settings_of(site), clock=clock)) as client:
        client.post("/subscribe", data={"email": "ann@example.org"})
        with Store.open(settings_of(site).store_url) as store:
            ann = store.get_subscriber("ann@example.org")
        assert ann is not None
        subscribe_token = confirm_token(SECRET, ann, now=NOW)
        with caplog.at_level(logging.ERROR, logger="publisher.web"):
            answer = client.get(f"/confirm?token={subscribe_token}")
    assert answer.status_code == 500
    assert "<h1>Something went wrong</h1>" in answer.text
    assert "Traceback" not in answer.text and "missing" not in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert [r.getMessage() for r in caplog.records] == ["error while answering GET /confirm"]
    assert "'missing' is undefined" in caplog.text


class Unreachable:
    """A transport whose mail server cannot be reached."""

    concurrency = 1

    def __enter__(self) -> Unreachable:
        raise DeliveryError("cannot connect to mail.example.org:587: connection refused")

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, sender: str, recipient: str, message: bytes) -> str:
        raise AssertionError("never reached")


def test_a_mail_server_that_cannot_be_reached_gets_a_503_page(site: Path,
                                                             clock: Ticking) -> None:
    app = create_app(settings_of(site), clock=clock, transport_factory=Unreachable)
    with TestClient(app) as client:
        known = client.post("/subscribe", data={"email": "ann@example.org"})
        with Store.open(settings_of(site).store_url) as store:
            store.set_subscriber_status(1, "active", now=NOW)
        active = client.post("/subscribe", data={"email": "ann@example.org"})
    assert known.status_code == active.status_code == 503
    assert known.content == active.content
    assert texts(known.text)[:3] == ["Please try again later", "The confirmation message "
                                     "could not be sent just now.", "Please try again in a few "
                                     "minutes."]


def test_the_configured_transport_is_used_when_none_is_given(site: Path, clock: Ticking
                                                             ) -> None:
    with TestClient(create_app(settings_of(site), clock=clock)) as client:
        client.post("/subscribe", data={"email": "ann@example.org"})
    messages = Outbox(settings_of(site).path("outbox")).new()  # [delivery] outbox_dir
    assert [m["To"] for m in messages] == ["ann@example.org"]


def test_a_large_body_is_refused(web: Web) -> None:
    answer = web.client.post("/subscribe", data={"email": "a@example.org", "x": "y" * 70_000})
    assert answer.status_code == 413
    assert texts(answer.text)[:2] == ["Too much data", "The request is larger than this "
                                      "service accepts."]
    assert web.outbox.new() == []


def test_the_confirmation_mail_is_well_formed(web: Web) -> None:
    subscribe(web, "ann@example.org")
    mail = web.outbox.one()
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert mail["Date"].datetime == NOW
    assert mail["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<confirm\.\d+\.[0-9a-f]{16}@news\.example\.org>", mail["Message-ID"])
    text = body_of(mail, "plain")
    assert "The link works for 48 hours." in text
    assert "1 Test Street, Testville" in text


def test_a_site_may_override_the_confirmation_mail(site: Path, clock: Ticking) -> None:
    (site / "templates/email").mkdir(parents=True)
    (site / "templates/email/confirm.txt").write_text(
        "Bonjour ! {{ confirm_url or unsubscribe_url }}\n")
    with TestClient(create_app(settings_of(site), clock=clock)) as client:
        client.post("/subscribe", data={"email": "ann@example.org"})
    text = body_of(Outbox(site / "outbox").one(), "plain")
    assert re.fullmatch(r"Bonjour ! https://news\.example\.org/confirm\?token=\S+\n", text)


def test_an_international_address_is_welcome(web: Web) -> None:
    assert subscribe(web, "Jörg@Exämple.org").status_code == 200
    mail = web.outbox.one()
    assert mail["To"] == "Jörg@exämple.org"
    assert web.subscribers() == [("Jörg@exämple.org", "pending", ())]
    token = link_in(mail, "confirm").split("token=", 1)[1]
    assert web.client.post("/confirm", data={"token": token}).status_code == 200
    assert web.status_of("jörg@exämple.org") == "active"


# -- starting the service -----------------------------------------------------------------


def test_a_missing_secret_stops_the_start(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLISHER_SECRET_KEY")
    with pytest.raises(ConfigError) as caught:
        create_app(settings_of(site))
    assert str(caught.value.problems[0]) == (
        "the environment variable PUBLISHER_SECRET_KEY is not set\n"
        "  hint: export PUBLISHER_SECRET_KEY=... (the key that signs confirm, unsubscribe and "
        "preference links); secrets are never read from publisher.toml")
    result = CliRunner().invoke(cli, ["--site", str(site), "serve", "--port", "8765"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: the environment variable PUBLISHER_SECRET_KEY is not set\n"
        "  hint: export PUBLISHER_SECRET_KEY=... (the key that signs confirm, unsubscribe and "
        "preference links); secrets are never read from publisher.toml\n")


def test_a_port_in_use_is_said_plainly(site: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--site", str(site), "serve", "--port", str(port)])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
        "  hint: another program is using the port: choose another with --port, or stop it\n")


@pytest.mark.parametrize(("host", "message", "hint"), [
    ("192.0.2.1", "Cannot assign requested address", "--host is not an address of this "
     "machine: use 127.0.0.1, 0.0.0.0 (every address) or one that `ip addr` lists"),
    ("no-such-host.invalid", "", "--host is not an address or a name this machine can look "
     "up: use an IP address such as 127.0.0.1 or 0.0.0.0"),
])
def test_a_host_that_cannot_be_listened_on_is_said_as_such(site: Path, host: str, message: str,
                                                           hint: str) -> None:
    result = CliRunner().invoke(cli, ["--site", str(site), "serve", "--host", host])
    assert (result.exit_code, result.stdout) == (1, "")
    first, second = result.stderr.splitlines()
    assert first.startswith(f"error: cannot listen on {host}:8000: {message}")
    assert second == f"  hint: {hint}"


def test_an_unbuilt_site_is_refused_with_a_hint(make_site: SiteFactory, secret: str) -> None:
    root = make_site(ARTICLES, config=CONFIG)
    with pytest.raises(OutputError) as caught:
        create_app(settings_of(root))
    assert str(caught.value) == (f"{root / 'public'}: there is nothing to serve yet\n"
                                 "  hint: run `publisher build` first")



# -- the form cannot be turned into a mail cannon ------------------------------------------

def test_one_address_gets_one_message_an_hour_whoever_asks(site: Path, clock: Ticking) -> None:
    """30 requests from 30 clients for one victim: one message; every answer the same."""
    app = create_app(settings_of(site), clock=clock)
    outbox = Outbox(site / "outbox")
    answers = set()
    for number in range(30):
        with TestClient(app, client=(f"198.51.100.{number}", 40000)) as client:
            answer = client.post("/subscribe", data={"email": "victim@example.org"})
            answers.add((answer.status_code, answer.text))
    assert len(answers) == 1 and next(iter(answers))[0] == 200
    assert len(outbox.new()) == 1
    clock.advance(minutes=59)
    with TestClient(app, client=("198.51.100.99", 40000)) as client:
        client.post("/subscribe", data={"email": "victim@example.org"})
    assert outbox.new() == []
    clock.advance(minutes=1)
    with TestClient(app, client=("198.51.100.99", 40000)) as client:
        client.post("/subscribe", data={"email": "Victim@Example.org"})
    assert [m["To"] for m in outbox.new()] == ["victim@example.org"]


@pytest.mark.parametrize("headers", [
    {"origin": "https://evil.example.net"},
    {"referer": "https://evil.example.net/page.html"},
    {"origin": "null"},
    {"sec-fetch-site": "cross-site", "origin": SITE.rstrip("/")},
])
def test_a_cross_site_form_post_is_refused(web: Web, headers: dict[str, str]) -> None:
    answer = web.client.post("/subscribe", data={"email": "ann@example.org"}, headers=headers)
    assert answer.status_code == 403
    assert texts(answer.text)[:3] == ["This form cannot be sent from here",
                                      "This form can only be sent from the site's own subscribe "
                                      "page.", "Open the subscribe page and send it from there."]
    assert web.subscribers() == [] and web.outbox.new() == []


def test_a_post_from_the_sites_own_page_is_accepted(web: Web) -> None:
    answer = web.client.post("/subscribe", data={"email": "ann@example.org"},
                             headers={"origin": SITE.rstrip("/"), "sec-fetch-site": "same-origin",
                                      "referer": SITE + "subscribe/"})
    assert answer.status_code == 200
    assert [m["To"] for m in web.outbox.new()] == ["ann@example.org"]


def test_a_forged_forwarded_for_header_does_not_escape_the_client_limit(
        strict_site: Path, clock: Ticking) -> None:
    """No proxy is trusted by default: the header is ignored, even from 127.0.0.1."""
    app = create_app(settings_of(strict_site), clock=clock)
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        codes = [client.post("/subscribe", data={"email": f"x{n}@example.org"},
                             headers={"x-forwarded-for": f"203.0.113.{n}"}).status_code
                 for n in range(10)]
    assert codes == [200] * 4 + [429] * 6


def test_forwarded_for_counts_from_a_trusted_proxy_only(make_site: SiteFactory,
                                                        clock: Ticking, secret: str) -> None:
    root = make_site(ARTICLES, config=STRICT_CONFIG + 'trusted_proxies = ["127.0.0.1"]\n')
    publish.build(settings_of(root), clock)
    app = create_app(settings_of(root), clock=clock)
    with TestClient(app, client=("127.0.0.1", 40000)) as proxied:
        # The proxy appends the real client last; what the client wrote itself is ignored.
        codes = [proxied.post("/subscribe", data={"email": f"x{n}@example.org"},
                              headers={"x-forwarded-for": f"10.9.9.{n}, 203.0.113.{n}"}
                              ).status_code for n in range(6)]
        same = [proxied.post("/subscribe", data={"email": f"y{n}@example.org"},
                             headers={"x-forwarded-for": "203.0.113.50"}).status_code
                for n in range(5)]
    assert codes == [200] * 6
    assert same == [200] * 4 + [429]
    with TestClient(app, client=("192.0.2.7", 40000)) as direct:  # not a proxy: header ignored
        direct_codes = [direct.post("/subscribe", data={"email": f"z{n}@example.org"},
                                    headers={"x-forwarded-for": f"203.0.113.{100 + n}"}
                                    ).status_code for n in range(5)]
    assert direct_codes == [200] * 4 + [429]


def test_the_hidden_field_catches_a_bot_and_tells_it_nothing(web: Web) -> None:
    page = web.client.get("/subscribe/").text
    assert re.search(r'<p class="trap" aria-hidden="true"><label for="subscribe-website">'
                     r'Leave this field empty</label> <input id="subscribe-website" '
                     r'name="website" type="text" tabindex="-1" autocomplete="off"></p>', page)
    human = web.client.post("/subscribe", data={"email": "ann@example.org", "website": ""})
    bot = web.client.post("/subscribe", data={"email": "bot@example.org",
                                              "website": "http://spam.example"})
    assert bot.status_code == human.status_code == 200
    assert texts(bot.text) == texts(human.text)
    assert [m["To"] for m in web.outbox.new()] == ["ann@example.org"]
    assert [s[0] for s in web.subscribers()] == ["ann@example.org"]


def test_confirmations_over_smtp_share_one_connection_and_arrive(
        make_site: SiteFactory, clock: Ticking, smtp_server, secret: str) -> None:
    from tests.conftest import SMTP_CONFIG

    root = make_site(ARTICLES, config=SMTP_CONFIG.format(port=smtp_server.port)
                     + "\n[web]\nsubscribe_per_hour = 50\n")
    publish.build(settings_of(root), clock)
    with TestClient(create_app(settings_of(root), clock=clock)) as client:
        for n in range(5):
            assert client.post("/subscribe", data={"email": f"r{n}@example.org"}
                               ).status_code == 200
    assert sorted(smtp_server.received()) == [f"r{n}@example.org" for n in range(5)]
    assert smtp_server.connections == 1


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=NEEDS_POSTGRES)])
def test_three_replicas_enforce_one_limit(strict_site: Path, clock: Ticking,
                                          monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """Three services on one store, as behind a load balancer: one count for them all."""
    urls = postgres_url() if backend == "postgresql" else iter([None])
    for url in urls:
        if url is not None:
            monkeypatch.setenv("PUBLISHER_STORE_URL", url)
        apps = [create_app(settings_of(strict_site), clock=clock) for _ in range(3)]
        outbox = Outbox(strict_site / "outbox")
        answers = []
        for number in range(6):  # round robin: replica 0, 1, 2, 0, 1, 2
            with TestClient(apps[number % 3], client=("203.0.113.7", 5000)) as client:
                answers.append(client.post("/subscribe",
                                           data={"email": f"a{number}@example.org"}).status_code)
        assert answers == [200, 200, 200, 200, 429, 429]  # four an hour, whichever answers
        for app in apps:
            with TestClient(app, client=(f"198.51.100.{id(app) % 200}", 5000)) as client:
                client.post("/subscribe", data={"email": "victim@example.org"})
        assert [m["To"] for m in outbox.new()].count("victim@example.org") == 1
