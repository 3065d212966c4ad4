"""The preference page over HTTP: GET shows, POST changes, every value checked first.

The real application through Starlette's test client, a real SQLite store in
tmp_path and the outbox transport; the links come from the messages the
service and a digest really sent. Time is a clock the test moves by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from publisher import publish
from publisher.models import Subscriber
from publisher.send import plan_for
from publisher.subscribers.tokens import confirm_token, preferences_token, unsubscribe_token
from publisher.web.app import create_app
from tests.conftest import NOW, SiteFactory, article, settings_of
from tests.sending import send_digest
from tests.web.test_app import (
    ARTICLES,
    CONFIG,
    INVALID_LINK,
    SECRET,
    Ticking,
    Web,
    link_in,
    send_digest_now,
    subscribe,
    texts,
)

SCHEDULES = {
    "schedules/harbour.toml": 'action = "digest"\nevery = "4w"\ntags = ["harbour"]\n',
    "schedules/daily.toml": 'action = "digest"\ncron = "0 7 * * *"\nchoosable = true\n'
                            'label = "Every morning"\n',
    "schedules/weekly.toml": 'action = "digest"\ncron = "0 9 * * sat"\nchoosable = true\n'
                             'label = "Once a week"\n',
    "schedules/special.toml": 'action = "digest"\ncron = "0 9 1 * *"\n',
}
SAVE = {"topics": ["harbour"], "cadence": "weekly", "timezone": "Pacific/Auckland",
        "hour": "7"}


@pytest.fixture
def clock() -> Ticking:
    return Ticking(NOW)


@pytest.fixture
def web(make_site: SiteFactory, clock: Ticking, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Web]:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", SECRET)
    root = make_site({**ARTICLES, **SCHEDULES}, config=CONFIG)
    publish.build(settings_of(root), clock)
    with TestClient(create_app(settings_of(root), clock=clock)) as client:
        yield Web(root, client, clock)


def row(web: Web, address: str = "ann@example.org") -> Subscriber:
    return web.subscriber(address)


def choices(web: Web) -> tuple[Any, ...]:
    ann = row(web)
    return ann.tags, ann.cadence, ann.timezone, ann.hour, ann.status, ann.updated_at


def token_of(web: Web, address: str = "ann@example.org") -> str:
    return preferences_token(SECRET, row(web, address), issued=web.clock())


def checked(page: str) -> list[str]:
    """The values of the checked boxes and buttons, and of the selected options."""
    boxes = re.findall(r'<input id="[^"]+" name="(\w+)" type="\w+" value="([^"]*)" checked>',
                       page)
    options = re.findall(r'<option(?: value="([^"]*)")? selected>([^<]*)</option>', page)
    return [f"{name}={value}" for name, value in boxes] + [
        value or label for value, label in options]


@pytest.fixture
def ann(web: Web) -> Subscriber:
    with web.store() as store:
        found, _ = store.add_subscriber("ann@example.org", "", ("transport",), now=NOW)
    return found


def test_the_confirmation_message_links_to_the_page_which_shows_the_choices(web: Web) -> None:
    subscribe(web, "ann@example.org", "transport")
    link = link_in(web.outbox.one(), "preferences")
    page = web.client.get(link)
    assert page.status_code == 200
    assert texts(page.text)[:2] == ["Your preferences", "Choose what Test Gazette sends to "
                                    "ann@example.org, and when."]
    assert re.findall(r'name="topics" type="checkbox" value="([^"]+)"', page.text) == [
        "harbour", "transport"]
    assert '<label for="topic-harbour">Harbour</label>' in page.text
    assert re.findall(r'<label for="cadence-[^"]+">([^<]+)</label>', page.text) == [
        "Every digest", "Every morning", "Once a week"]  # not the special digest
    assert checked(page.text) == ["topics=transport", "cadence=", "The site's (Europe/Lisbon)",
                                  "The digest's usual time"]
    assert '<option>Pacific/Auckland</option>' in page.text
    unsubscribe = unsubscribe_token(SECRET, row(web))
    assert f'<input type="hidden" name="token" value="{unsubscribe}">' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_the_page_saves_the_choices_and_shows_them(web: Web, ann: Subscriber) -> None:
    token = token_of(web)
    saved = web.client.post("/preferences", data={"token": token, **SAVE})
    assert saved.status_code == 200
    assert texts(saved.text)[1] == ("Your choices are saved. The next digest sent to "
                                    "ann@example.org follows them.")
    assert checked(saved.text) == ["topics=harbour", "cadence=weekly", "Pacific/Auckland",
                                   "7"]
    assert choices(web) == (("harbour",), "weekly", "Pacific/Auckland", 7, "active",
                            ann.updated_at)
    back = web.client.post(f"/preferences?token={token}",
                           data={"cadence": "", "timezone": "", "hour": ""})
    assert back.status_code == 200
    assert choices(web)[:4] == ((), None, None, None)


def test_looking_at_the_page_never_changes_anything(web: Web, ann: Subscriber) -> None:
    token = token_of(web)
    web.client.post("/preferences", data={"token": token, **SAVE})
    before = choices(web)
    for _ in range(3):
        assert web.client.get(f"/preferences?token={token}").status_code == 200
        assert web.client.head(f"/preferences?token={token}").status_code == 200
        # a link scanner that adds what it finds in the form to the query changes nothing
        assert web.client.get("/preferences", params={"token": token, "cadence": "daily",
                                                      "hour": "3"}).status_code == 200
    assert choices(web) == before


@pytest.mark.parametrize(("field", "value", "message", "hint"), [
    ("cadence", "special", 'Unknown cadence "special".',
     "The cadences on offer are: daily, weekly."),
    ("topics", "weather", 'Unknown topic "weather".',
     "The topics on offer are: harbour, transport."),
    ("timezone", "Pacific/Aukland", 'Unknown time zone "Pacific/Aukland".',
     "Did you mean Pacific/Auckland? use an IANA name such as Europe/Lisbon, America/Chicago "
     "or Pacific/Auckland."),
    ("hour", "25", 'The hour "25" is not one of 0 to 23.',
     "Give the hour of the day on a 24-hour clock, e.g. 7 or 18."),
])
def test_a_value_not_on_offer_is_refused_with_the_choices_and_changes_nothing(
        web: Web, ann: Subscriber, field: str, value: str, message: str, hint: str) -> None:
    before = choices(web)
    answer = web.client.post("/preferences", data={"token": token_of(web),
                                                   **{**SAVE, field: value}})
    assert answer.status_code == 400
    assert texts(answer.text)[:3] == ["This request cannot be used", message, hint]
    assert choices(web) == before


def test_forged_expired_and_other_purpose_tokens_get_a_plain_400_page(
        web: Web, ann: Subscriber, clock: Ticking) -> None:
    token = token_of(web)
    ident, stamp, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    forged = [f"{ident}.{stamp}.{flipped}", f"{ident}.{int(stamp) + 3600}.{signature}",
              f"{int(ident) + 1}.{stamp}.{signature}", "", "garbage", token[:-5],
              unsubscribe_token(SECRET, ann), confirm_token(SECRET, ann, now=NOW),
              preferences_token("another key entirely, as long", ann, issued=NOW)]
    before = choices(web)
    for value in forged:
        for answer in (web.client.get("/preferences", params={"token": value}),
                       web.client.post("/preferences", data={"token": value, **SAVE})):
            assert answer.status_code == 400, value
            assert texts(answer.text)[1:3] == list(INVALID_LINK)
    assert web.client.post("/unsubscribe", data={"token": token}).status_code == 400
    assert web.client.post("/confirm", data={"token": token}).status_code == 400
    clock.advance(days=90, seconds=1)
    for answer in (web.client.get(f"/preferences?token={token}"),
                   web.client.post("/preferences", data={"token": token, **SAVE})):
        assert answer.status_code == 400
        assert texts(answer.text)[1:3] == ["This link to your preferences has expired.",
                                           "Use the link in the latest email you received."]
    assert choices(web) == before


def test_a_removed_reader_and_a_forged_one_get_the_same_page(web: Web, ann: Subscriber) -> None:
    token = token_of(web)
    with web.store() as store:
        store.remove_subscriber("ann@example.org", now=NOW)
    gone = web.client.get(f"/preferences?token={token}")
    forged = web.client.get(f"/preferences?token={token[:-1]}x")
    assert (gone.status_code, gone.text) == (forged.status_code, forged.text)


def send_harbour_news(web: Web) -> set[str]:
    """Send the digest of harbour articles (for readers of that topic, and of every topic)."""
    settings = web.settings
    report = send_digest(settings, web.clock, schedule=plan_for(settings, "harbour", web.clock()))
    assert report is not None
    return {str(m["To"]) for m in web.outbox.new()}


def test_every_digest_links_to_the_page_and_a_topic_change_holds_for_the_next(
        web: Web, ann: Subscriber, clock: Ticking) -> None:
    with web.store() as store:
        store.add_subscriber("bob@example.org", now=NOW)
    first = send_digest_now(web)
    assert set(first) == {"ann@example.org", "bob@example.org"}
    link = link_in(first["ann@example.org"], "preferences")
    assert link_in(first["bob@example.org"], "preferences") != link
    assert send_harbour_news(web) == {"bob@example.org"}  # Ann reads transport only
    web.client.post(link, data={"topics": ["harbour"], "cadence": "", "timezone": "",
                                "hour": ""})
    assert row(web).tags == ("harbour",)
    (web.root / "content/tide.md").write_text(article(
        "Tide tables", "2026-11-26 08:00", id="tide", tags="[Harbour]"), encoding="utf-8")
    clock.advance(days=2)
    assert send_harbour_news(web) == {"ann@example.org", "bob@example.org"}


def test_the_links_in_a_digest_stay_valid_for_the_configured_days(
        web: Web, ann: Subscriber, clock: Ticking) -> None:
    link = link_in(send_digest_now(web)["ann@example.org"], "preferences")
    clock.advance(days=89)
    assert web.client.get(link).status_code == 200
    clock.advance(days=1, minutes=1)
    assert web.client.get(link).status_code == 400
    assert timedelta(days=90) == timedelta(days=settings_of(web.root).web.preferences_ttl_days)


def test_the_subscribe_form_keeps_the_choices_of_a_new_address(web: Web) -> None:
    form = (web.public / "subscribe/index.html").read_text("utf-8")
    assert re.findall(r'<label for="cadence-[^"]+">([^<]+)</label>', form) == [
        "Every digest", "Every morning", "Once a week"]
    assert "<option>Pacific/Auckland</option>" in form
    answer = web.client.post("/subscribe", data={
        "email": "ann@example.org", "topics": ["harbour"], "cadence": "weekly",
        "timezone": "Pacific/Auckland", "hour": "7"})
    assert answer.status_code == 200
    assert choices(web)[:5] == (("harbour",), "weekly", "Pacific/Auckland", 7, "pending")
    web.client.post("/subscribe", data={"email": "ann@example.org", "cadence": "daily"})
    assert choices(web)[:4] == (("harbour",), "weekly", "Pacific/Auckland", 7)  # kept


def test_the_subscribe_form_refuses_a_zone_or_cadence_not_on_offer(web: Web) -> None:
    for field, value, message in (("timezone", "Mars/Olympus", 'Unknown time zone "Mars/Olympus".'),
                                  ("cadence", "special", 'Unknown cadence "special".'),
                                  ("hour", "7pm", 'The hour "7pm" is not one of 0 to 23.')):
        answer = web.client.post("/subscribe", data={"email": "ann@example.org",
                                                     field: value})
        assert answer.status_code == 400
        assert texts(answer.text)[1] == message
    assert web.subscribers() == []
    assert web.outbox.new() == []
