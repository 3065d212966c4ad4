"""The digest pipeline end to end: real site, real SQLite store, outbox or a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import mailbox
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest

from publisher import publish
from publisher.clock import fixed_clock
from publisher.config import Settings
from publisher.errors import ConfigError, DeliveryError, PublisherError, TemplateError
from publisher.send import DigestPlan, default_plan, plan_for
from publisher.store.database import NewSubscriber, Store
from tests.conftest import MAIL_CONFIG, NOW, SMTP_CONFIG, SiteFactory, article, settings_of
from tests.sending import preview_digest, send_digest, send_test_copy
from tests.smtp_server import SMTPServer

SECRET = "a-test-signing-secret-of-32-bytes-at-least"
CONFIG = MAIL_CONFIG
ARTICLES = {
    "content/ferry.md": article("Ferry fares rise", "2026-11-20 09:00", id="ferry",
                                tags="[ferry]"),
    "content/bridge.md": article("Bridge closes", "2026-11-24 18:30", id="bridge"),
    "content/old.md": article("Harbour history", "2026-09-01 09:00", id="old"),
}
READERS = ("ann@example.org", "bob@example.org", "cy@example.org")
DIGEST_ID = "digest-20261125-1200"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", SECRET)


def site(make_site: SiteFactory, config: str = CONFIG, readers: tuple[str, ...] = READERS,
         files: dict[str, str | bytes] | None = None) -> Settings:
    settings = settings_of(make_site({**ARTICLES, **(files or {})}, config=config))
    with Store.open(settings.store_url) as store:
        topics = {"ann": ("ferry",), "bob": ("council",)}  # cy chose none: every digest
        store.add_subscribers([NewSubscriber(r, r.split("@")[0].title() + " Lee",
                                             topics.get(r.split("@")[0], ()))
                               for r in readers], now=NOW - timedelta(days=30))
    return settings


def digests(settings: Settings) -> list[str]:
    with Store.open(settings.store_url) as store:
        return [r.digest.id for r in store.list_digests()]


def outbox(settings: Settings) -> list[email.message.EmailMessage]:
    box = mailbox.Maildir(settings.path("outbox"), factory=None, create=False)
    return [email.message_from_bytes(m.as_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for m in box]


def test_the_first_digest_covers_only_the_period(make_site: SiteFactory) -> None:
    settings = site(make_site)
    report = send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings))
    assert report is not None
    assert (report.digest_id, report.sent, report.stopped) == (DIGEST_ID, 3, None)
    with Store.open(settings.store_url) as store:
        digest = store.get_digest(DIGEST_ID)
        assert digest is not None and digest.article_ids == ("bridge", "ferry")
        assert store.latest_open_digest("digest") is None  # complete
    messages = outbox(settings)
    assert sorted(m["To"] for m in messages) == [
        "Ann Lee <ann@example.org>", "Bob Lee <bob@example.org>", "Cy Lee <cy@example.org>"]
    assert messages[0]["Subject"] == "Test Gazette: Digest for 25 November 2026"
    assert (settings.output_path / "digests" / f"{DIGEST_ID}.html").is_file()
    assert (settings.path("digests") / f"{DIGEST_ID}.json").is_file()


def test_nothing_new_means_no_digest_and_new_articles_go_out_once(
        make_site: SiteFactory) -> None:
    settings = site(make_site)
    plan = default_plan(settings)
    send_digest(settings, fixed_clock(NOW), schedule=plan)
    later = NOW + timedelta(days=1)
    assert send_digest(settings, fixed_clock(later), schedule=plan) is None
    (settings.content_path / "quay.md").write_text(article("Quay reopens", "2026-11-25 18:00",
                                                           id="quay"))
    report = send_digest(settings, fixed_clock(later), schedule=plan)
    assert report is not None and report.digest_id == "digest-20261126-1200"
    with Store.open(settings.store_url) as store:
        digest = store.get_digest(report.digest_id)
        assert digest is not None and digest.article_ids == ("quay",)
    assert len(outbox(settings)) == 6


def test_a_digest_waits_for_min_items(make_site: SiteFactory) -> None:
    settings = site(make_site)
    plan = replace(default_plan(settings), min_items=3)
    assert send_digest(settings, fixed_clock(NOW), schedule=plan) is None
    assert digests(settings) == []
    wider = replace(plan, period=timedelta(days=120))  # reaches the old article too
    report = send_digest(settings, fixed_clock(NOW), schedule=wider)
    assert report is not None and report.sent == 3


def test_tags_choose_articles_and_the_audience_chooses_readers(make_site: SiteFactory) -> None:
    settings = site(make_site)
    plan = DigestPlan("ferry", tags=("ferry",), audience=("ferry",))
    report = send_digest(settings, fixed_clock(NOW), schedule=plan)
    assert report is not None and (report.digest_id, report.sent) == ("ferry-20261125-1200", 2)
    with Store.open(settings.store_url) as store:
        digest = store.get_digest(report.digest_id)
        assert digest is not None and digest.article_ids == ("ferry",)
    assert sorted(m["To"] for m in outbox(settings)) == ["Ann Lee <ann@example.org>",
                                                         "Cy Lee <cy@example.org>"]


def test_the_same_due_time_twice_finds_the_same_digest(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        settings = site(make_site, SMTP_CONFIG.format(port=server.port))
        plan = default_plan(settings)
        first = send_digest(settings, fixed_clock(NOW), schedule=plan, due_at=NOW)
        again = send_digest(settings, fixed_clock(NOW + timedelta(hours=2)), schedule=plan,
                            due_at=NOW)
    assert first is not None and again is not None
    assert (first.digest_id, first.sent) == (DIGEST_ID, 3)
    assert (again.digest_id, again.sent, again.skipped) == (DIGEST_ID, 0, 0)
    assert server.received() == dict.fromkeys(READERS, 1)
    assert digests(settings) == [DIGEST_ID]


def test_a_stopped_send_is_resumed_by_the_next_one(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        settings = site(make_site, SMTP_CONFIG.format(port=server.port))
        plan = default_plan(settings)
        first = send_digest(settings, fixed_clock(NOW), schedule=plan,
                            should_stop=lambda: len(server.messages) >= 1)
        assert first is not None and first.stopped is not None
        with Store.open(settings.store_url) as store:
            assert store.latest_open_digest("digest") is not None
        later = NOW + timedelta(hours=3)  # a new due time would be 15:00: the open one wins
        second = send_digest(settings, fixed_clock(later), schedule=plan)
    assert second is not None and (second.digest_id, second.stopped) == (DIGEST_ID, None)
    assert first.sent + second.sent == 3
    assert server.received() == dict.fromkeys(READERS, 1)
    with Store.open(settings.store_url) as store:
        assert store.latest_open_digest("digest") is None


def test_the_web_copy_is_online_before_the_first_message(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        settings = site(make_site, SMTP_CONFIG.format(port=server.port))
        page = settings.output_path / "digests" / f"{DIGEST_ID}.html"
        seen: list[bool] = []
        server.on_message(lambda count, _message: seen.append(page.is_file()))
        send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings))
    assert seen == [True, True, True]
    body = email.message_from_bytes(server.messages[0].data, policy=email.policy.default)
    html = body.get_body(("html",))
    assert html is not None
    assert f"https://news.example.org/digests/{DIGEST_ID}.html" in html.get_content()


def test_the_web_copy_is_a_page_of_the_site_with_no_personal_links(
        make_site: SiteFactory) -> None:
    settings = site(make_site)
    report = send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings))
    assert report is not None and report.stopped is None
    page = lxml.html.fromstring((settings.output_path / "digests" / f"{DIGEST_ID}.html"
                                 ).read_bytes())
    assert page.findtext(".//h1") == "Digest for 25 November 2026"
    navigation = [a.text_content() for a in page.xpath("//nav[@aria-label='Site']//a")]
    assert navigation == ["Latest", "Topics", "Digests", "Subscribe"]
    titles = {a.text_content(): a.get("href") for a in page.xpath("//ol//h2/a")}
    assert titles == {"Bridge closes": "../2026/11/bridge-closes/",
                      "Ferry fares rise": "../2026/11/ferry-fares-rise/"}
    links = [a.get("href") for a in page.iter("a")]
    assert not [link for link in links if "unsubscribe" in link or "token=" in link]
    assert page.xpath("//link[@rel='alternate']/@href")  # the site's feeds
    assert "Sent by email on 25 November 2026, with 2 articles." in page.text_content()


def test_an_article_taken_down_leaves_the_digest_page_and_is_counted(
        make_site: SiteFactory) -> None:
    settings = site(make_site)
    send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings))
    (settings.root / "content/ferry.md").unlink()
    publish.build(settings, fixed_clock(NOW))
    page = lxml.html.fromstring((settings.output_path / "digests" / f"{DIGEST_ID}.html"
                                 ).read_bytes())
    assert [a.text_content() for a in page.xpath("//ol//h2/a")] == ["Bridge closes"]
    assert "1 article from this digest is no longer published." in page.text_content()


def test_a_missing_secret_stops_before_anything_is_recorded(
        make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = site(make_site)
    monkeypatch.delenv("PUBLISHER_SECRET_KEY")
    with pytest.raises(ConfigError) as caught:
        send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings))
    assert str(caught.value) == (
        "1 problem found\nthe environment variable PUBLISHER_SECRET_KEY is not set\n"
        "  hint: export PUBLISHER_SECRET_KEY=... (signing unsubscribe links); secrets are "
        "never read from publisher.toml")
    assert digests(settings) == []


def test_a_missing_smtp_password_stops_before_anything_is_recorded(
        make_site: SiteFactory) -> None:
    config = SMTP_CONFIG.format(port=2525) + 'username = "ann"\n'
    settings = site(make_site, config)
    with pytest.raises(ConfigError) as caught:
        send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings))
    assert str(caught.value).endswith(
        "the environment variable PUBLISHER_SMTP_PASSWORD is not set\n"
        "  hint: export PUBLISHER_SMTP_PASSWORD=... (the SMTP password of ann); secrets are "
        "never read from publisher.toml")
    assert digests(settings) == []


def test_an_unreachable_server_loses_nothing(make_site: SiteFactory) -> None:
    server = SMTPServer()  # its port is chosen, but nobody listens yet
    settings = site(make_site, SMTP_CONFIG.format(port=server.port))
    with pytest.raises(DeliveryError) as caught:
        send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings))
    assert str(caught.value).startswith(
        f"cannot connect to the SMTP server 127.0.0.1:{server.port}: Connection refused")
    with server:
        report = send_digest(settings, fixed_clock(NOW + timedelta(hours=1)),
                             schedule=default_plan(settings))
    assert report is not None and (report.digest_id, report.sent) == (DIGEST_ID, 3)
    assert server.received() == dict.fromkeys(READERS, 1)


def test_a_broken_template_names_file_and_line(make_site: SiteFactory) -> None:
    broken = "<html>\n<body>\n{% if articles %}\n<p>never closed</p>\n</body>\n</html>\n"
    settings = site(make_site, files={"templates/email/digest.html": broken})
    with pytest.raises(TemplateError) as caught:
        send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings))
    path = settings.path("templates/email/digest.html")
    assert str(caught.value).startswith(f"{path}:4: broken template: Unexpected end of template")
    assert digests(settings) == []


def test_preview_writes_three_files_and_records_nothing(make_site: SiteFactory,
                                                        tmp_path: Path) -> None:
    settings = site(make_site)
    preview = preview_digest(settings, fixed_clock(NOW), schedule=default_plan(settings),
                             out=tmp_path / "look")
    assert preview is not None
    assert (preview.digest_id, preview.articles, preview.recipient) == (
        DIGEST_ID, 2, "ann@example.org")
    assert [p.name for p in preview.files] == [f"{DIGEST_ID}.html", f"{DIGEST_ID}.txt",
                                               f"{DIGEST_ID}.eml"]
    html, text, eml = (p.read_bytes() for p in preview.files)
    assert b"unsubscribe?token=1." in html and b"Hi Ann Lee," in html
    assert "Unsubscribe: https://news.example.org/unsubscribe?token=1." in text.decode()
    message = email.message_from_bytes(eml, policy=email.policy.default)
    assert message["To"] == "Ann Lee <ann@example.org>"
    assert digests(settings) == []
    assert not settings.path("outbox").exists()


def test_a_dry_run_counts_and_records_nothing(make_site: SiteFactory) -> None:
    settings = site(make_site)
    with Store.open(settings.store_url) as store:
        cy = store.get_subscriber("cy@example.org")
        assert cy is not None
        store.set_subscriber_status(cy.id, "unsubscribed", now=NOW)
    report = send_digest(settings, fixed_clock(NOW), schedule=default_plan(settings),
                         dry_run=True)
    assert report is not None and (report.digest_id, report.sent) == (DIGEST_ID, 2)
    assert digests(settings) == []
    assert not settings.path("outbox").exists()
    assert not (settings.output_path / "digests").exists()


def test_a_test_copy_goes_to_one_address_and_records_nothing(make_site: SiteFactory) -> None:
    with SMTPServer() as server:
        settings = site(make_site, SMTP_CONFIG.format(port=server.port))
        sent = send_test_copy(settings, fixed_clock(NOW), schedule=default_plan(settings),
                              address=" Me@Example.ORG ")
    assert sent == (DIGEST_ID, "250 2.0.0 Ok: queued as 1")
    assert server.received() == {"Me@example.org": 1}
    assert digests(settings) == []


def test_plans(tmp_path: Path) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules/weekly.toml").write_text(
        'action = "digest"\ncron = "0 9 * * sat"\ntimezone = "UTC"\ntags = ["Transport"]\n')
    (tmp_path / "schedules/feed.toml").write_text('action = "build"\nevery = "15m"\n')
    settings = Settings.model_validate({"title": "T", "base_url": "https://x.org/",
                                        "author": {"name": "A"}, "root": tmp_path})
    assert plan_for(settings, None, NOW) == DigestPlan("digest", (), 1, 30, timedelta(days=7))
    weekly = plan_for(settings, "weekly", datetime(2026, 11, 28, 9, tzinfo=UTC))
    assert weekly == DigestPlan("weekly", ("Transport",), 1, 30, timedelta(days=7),
                                audience=("Transport",))
    for name in ("daily", "feed"):
        with pytest.raises(PublisherError) as caught:
            plan_for(settings, name, NOW)
        assert str(caught.value) == (
            f"unknown digest schedule {name!r}\n  hint: digest schedules: weekly; without "
            "--schedule, the digest set up in [email] ('digest') is used")


def test_a_dry_run_counts_the_readers_the_send_then_reaches(make_site: SiteFactory) -> None:
    settings = site(make_site)
    plan = DigestPlan("ferry", tags=("ferry",), audience=("ferry",))
    counted = send_digest(settings, fixed_clock(NOW), schedule=plan, dry_run=True)
    sent = send_digest(settings, fixed_clock(NOW), schedule=plan)
    assert counted is not None and sent is not None
    assert counted.sent == sent.sent == 2
