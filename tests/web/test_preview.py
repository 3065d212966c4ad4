"""The local preview: pages opened on a local address point at it, production stays as built.

The real application behind Starlette's test client, whose `base_url` sets the
Host header each request carries; the site is built for a production address.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from publisher import publish
from publisher.web.app import create_app
from publisher.web.preview import PreviewMode, is_local_host
from tests.conftest import NOW, SiteFactory, article, settings_of
from tests.web.test_app import ARTICLES, CONFIG, SECRET, SITE, Outbox, Ticking, body_of

LOCAL = "http://127.0.0.1:8000/"
ARTICLE = "/2026/11/bridge-closes/"


@pytest.fixture
def clock() -> Ticking:
    return Ticking(NOW)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", SECRET)
    return SECRET


@pytest.fixture
def site(make_site: SiteFactory, clock: Ticking, secret: str) -> Path:
    """The service's test site, with an article that shows an image of the site's own."""
    files = {**ARTICLES, "content/bridge.md": article(
        "Bridge closes", "2026-11-22 18:30", slug="bridge-closes", tags="[Transport]",
        id="bridge", body="The bridge closes.\n\n![The map](/images/map.svg)\n")}
    root = make_site(files, config=CONFIG)
    publish.build(settings_of(root), clock)
    return root


def client(site: Path, clock: Ticking, url: str = LOCAL,
           mode: PreviewMode = PreviewMode.AUTO) -> TestClient:
    return TestClient(create_app(settings_of(site), clock=clock, preview=mode), base_url=url)


@pytest.fixture
def local(site: Path, clock: Ticking) -> Iterator[TestClient]:
    with client(site, clock) as opened:
        yield opened


def test_a_page_opened_locally_points_at_the_local_address(local: TestClient, site: Path
                                                            ) -> None:
    built = (site / "public" / "index.html").read_text(encoding="utf-8")
    assert SITE in built
    answer = local.get("/")
    assert answer.status_code == 200
    assert SITE not in answer.text
    assert answer.text == built.replace(SITE, LOCAL)
    assert answer.headers["cache-control"] == "no-store"  # a rebuild shows at once
    assert "etag" not in answer.headers
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert (site / "public" / "index.html").read_text(encoding="utf-8") == built


def test_the_subscribe_form_posts_to_the_preview(local: TestClient) -> None:
    page = local.get("/subscribe/").text
    assert re.findall(r'<form[^>]+action="([^"]+)"', page) == [LOCAL + "subscribe"]


def test_images_in_articles_load_from_the_preview(local: TestClient) -> None:
    page = local.get(ARTICLE).text
    sources = re.findall(r'<img[^>]+src="([^"]+)"', page)
    assert sources and all(s.startswith(LOCAL) for s in sources), sources
    image = local.get(sources[0].removeprefix(LOCAL.rstrip("/")))
    assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml"


def test_feeds_keep_their_exact_bytes(local: TestClient, site: Path) -> None:
    """A feed names the site it belongs to; a reader pointed at the preview gets the same."""
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert local.get("/" + name).content == (site / "public" / name).read_bytes()


def test_the_confirmation_link_leads_back_to_the_preview(local: TestClient, site: Path) -> None:
    answer = local.post("/subscribe", data={"email": "reader@example.com"},
                        headers={"origin": LOCAL.rstrip("/")})
    assert answer.status_code == 200
    mail = Outbox(site / "outbox").one()
    links = re.findall(r"\S+/confirm\?token=\S+", body_of(mail, "plain"))
    assert len(links) == 1 and links[0].startswith(LOCAL + "confirm?token="), links
    confirm = local.get(links[0].removeprefix(LOCAL.rstrip("/")))
    assert confirm.status_code == 200 and "Confirm my subscription" in confirm.text


@pytest.mark.parametrize("url", [SITE, "http://testserver/"])
def test_a_public_address_gets_the_bytes_the_build_wrote(site: Path, clock: Ticking,
                                                          url: str) -> None:
    with client(site, clock, url) as public:
        answer = public.get(ARTICLE)
    assert answer.content == (site / "public" / ARTICLE.strip("/") / "index.html").read_bytes()
    assert "etag" in answer.headers


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded", "x-real-ip"])
def test_behind_a_proxy_nothing_is_rewritten(local: TestClient, site: Path, header: str
                                             ) -> None:
    """nginx passing `Host: 127.0.0.1:8000` is still production: it says it is a proxy."""
    answer = local.get("/", headers={header: "for=203.0.113.9"})
    assert answer.content == (site / "public" / "index.html").read_bytes()


def test_no_preview_serves_the_built_bytes_even_locally(site: Path, clock: Ticking) -> None:
    with client(site, clock, mode=PreviewMode.OFF) as plain:
        assert plain.get("/").content == (site / "public" / "index.html").read_bytes()


def test_preview_on_rewrites_for_any_address(site: Path, clock: Ticking) -> None:
    """`--preview`: a preview opened from another machine on the network."""
    with client(site, clock, "http://192.168.1.20:8000/", PreviewMode.ON) as lan:
        page = lan.get("/").text
    assert SITE not in page and "http://192.168.1.20:8000/rss.xml" in page


def test_a_gzip_client_gets_the_rewritten_page_uncompressed(local: TestClient) -> None:
    answer = local.get("/", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in answer.headers and SITE not in answer.text


def test_the_service_pages_are_previewed_too(local: TestClient) -> None:
    answer = local.get("/confirm?token=forged")
    assert answer.status_code == 400
    assert SITE not in answer.text


@pytest.mark.parametrize(("host", "local_host"), [
    ("localhost", True), ("localhost:8000", True), ("site.localhost:3000", True),
    ("127.0.0.1", True), ("127.1.2.3:80", True), ("[::1]:8000", True), ("::1", True),
    ("news.example.org", False), ("192.168.1.20:8000", False), ("[2001:db8::1]:80", False),
    ("localhost.example.org", False), ("", False),
])
def test_local_hosts(host: str, local_host: bool) -> None:
    assert is_local_host(host) is local_host


@given(st.text(max_size=40))
def test_any_host_header_is_judged_without_an_error(host: str) -> None:
    assert isinstance(is_local_host(host), bool)
