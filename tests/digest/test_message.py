"""Per-recipient messages: parsed back by the stdlib, header by header, part by part."""

from __future__ import annotations

import email
import email.policy
import random
import re
from binascii import a2b_qp
from dataclasses import replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest

from publisher import publish
from publisher.config import Settings
from publisher.digest.message import MessageTemplate, qp_inline
from publisher.digest.placeholders import fill, recipient_values
from publisher.digest.render import render_digest
from publisher.errors import ConfigError, SubscriberError
from publisher.models import Article, Digest, RenderedDigest
from publisher.send import envelope, render_options
from tests.conftest import BASE_CONFIG, NOW, SiteFactory, article, settings_of

CREATED = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # 07:00 in Chicago
DIGEST_ID = "weekly-20261125-0700"
CONFIG = BASE_CONFIG.replace('"Europe/Lisbon"', '"America/Chicago"') + """
[email]
from_address = "digest@news.example.org"
from_name = "Test Gazette"
unsubscribe_mailto = "unsubscribe@news.example.org"
"""
ARTICLES = {
    "content/ferry.md": article("Ferry fares rise", "2026-11-02 09:00", id="ferry",
                                summary='"Fares rise by a fifth: ½ of riders pay more."'),
    "content/bridge.md": article("Bridge closes", "2026-11-20 18:30", id="bridge"),
}
ANA_TOKEN = "eyJzdWIiOjQyLCJwIjoidW5zdWIifQ.ZkQ3ab-Cd_Ef12GhIjKlMnOpQrStUv"
BEN_TOKEN = "eyJzdWIiOjQzLCJwIjoidW5zdWIifQ.Xy9zz-Qq_Rr34StUvWxYzAbCdEfGhI"
UNSUBSCRIBE = "https://news.example.org/unsubscribe?token="
PREFERENCES = "https://news.example.org/preferences?token="
ANA_CHOICES = "42.1795000000.Xy_z-0123456789abcdefghijkLMNOPQRS"


def make(make_site: SiteFactory, config: str = CONFIG,
         retitle: str | None = None) -> tuple[Settings, RenderedDigest, MessageTemplate]:
    settings = settings_of(make_site(ARTICLES, config=config))
    chosen: list[Article] = sorted(publish.load(settings).published(NOW),
                                   key=lambda a: a.date, reverse=True)
    if retitle is not None:
        chosen[0] = replace(chosen[0], title=retitle)
    digest = Digest(DIGEST_ID, "weekly", CREATED, CREATED, tuple(a.id for a in chosen))
    rendered = render_digest(render_options(settings), digest, chosen).rendered
    return settings, rendered, MessageTemplate(envelope(settings), digest, rendered)


@pytest.fixture
def made(make_site: SiteFactory) -> tuple[Settings, RenderedDigest, MessageTemplate]:
    return make(make_site)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def bodies(message: EmailMessage) -> tuple[str, str]:
    """The decoded text and HTML, with MIME's canonical CRLF line breaks read as newlines."""
    text, html = (part.get_content() for part in message.iter_parts())
    assert "\n" not in text.replace("\r\n", "")
    assert "\n" not in html.replace("\r\n", "")
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def test_every_header_a_digest_needs(made) -> None:
    _, _, template = made
    message = parse(template.build(42, "ana@example.org", "Ana Lima", ANA_TOKEN))
    assert message["From"] == "Test Gazette <digest@news.example.org>"
    assert message["To"] == "Ana Lima <ana@example.org>"
    assert message["Subject"] == "Test Gazette: Digest for 25 November 2026"
    assert message["Date"] == "Wed, 25 Nov 2026 07:00:00 -0600"
    assert message["Message-ID"] == "<weekly-20261125-0700.42@news.example.org>"
    assert message["List-Id"] == '"Test Gazette" <weekly.news.example.org>'
    assert message["List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE}{ANA_TOKEN}>, "
        f"<mailto:unsubscribe@news.example.org?subject=unsubscribe%20{ANA_TOKEN}>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["MIME-Version"] == "1.0"
    assert "Reply-To" not in message
    assert message.defects == []


def test_text_first_then_html_in_utf8_quoted_printable(made) -> None:
    _, _, template = made
    message = parse(template.build(42, "ana@example.org", "Ana", ANA_TOKEN))
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.defects == []


def test_each_recipient_gets_their_own_link_and_greeting(made) -> None:
    _, _, template = made
    ana = parse(template.build(42, "ana@example.org", "Ana", ANA_TOKEN, ANA_CHOICES))
    ben = parse(template.build(43, "ben@example.org", "", BEN_TOKEN))
    ana_text, ana_html = bodies(ana)
    ben_text, ben_html = bodies(ben)
    assert f'<a href="{UNSUBSCRIBE}{ANA_TOKEN}"' in ana_html
    assert f'<a href="{UNSUBSCRIBE}{BEN_TOKEN}"' in ben_html
    assert f"Unsubscribe: {UNSUBSCRIBE}{ANA_TOKEN}\n" in ana_text
    assert f"Unsubscribe: {UNSUBSCRIBE}{BEN_TOKEN}\n" in ben_text
    assert f'<a href="{PREFERENCES}{ANA_CHOICES}"' in ana_html
    assert f"Change what you receive: {PREFERENCES}{ANA_CHOICES}\n" in ana_text
    assert ANA_CHOICES not in ben.as_string()
    assert '<p class="greeting" style="margin:16px 0 0 0">Hi Ana,</p>' in ana_html
    assert '<p class="greeting" style="margin:16px 0 0 0">Hi there,</p>' in ben_html
    assert "\n\nHi Ana,\n\n" in ana_text
    assert "\n\nHi there,\n\n" in ben_text
    assert BEN_TOKEN not in ana.as_string()
    assert ANA_TOKEN not in ben.as_string()
    assert ben["Message-ID"] == "<weekly-20261125-0700.43@news.example.org>"
    assert ben["To"] == "ben@example.org"


def test_decoded_bodies_are_the_rendered_digest_with_the_recipients_values(made) -> None:
    _, rendered, template = made
    name = 'Zoë <b>"Z"</b> & co'
    text, html = bodies(parse(template.build(7, "zoe@example.org", name, ANA_TOKEN,
                                             ANA_CHOICES)))
    values = recipient_values(name, "zoe@example.org", UNSUBSCRIBE + ANA_TOKEN,
                              PREFERENCES + ANA_CHOICES)
    assert html == fill(rendered.html, values, escape=True)
    assert text == fill(rendered.text, values, escape=False)
    assert "Hi Zoë &lt;b&gt;&#34;Z&#34;&lt;/b&gt; &amp; co,</p>" in html


def _lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


def test_crlf_line_endings_and_line_lengths(made) -> None:
    _, _, template = made
    data = template.build(42, "ana@example.org", "Ana " * 30, "x" * 300)
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    head, body = data.split(b"\r\n\r\n", 1)
    assert all(len(line) <= 998 for line in _lines(data))
    long_headers = [line for line in head.split(b"\r\n") if len(line) > 78]
    assert all(b"https://" in line or b"mailto:" in line  # only an unbreakable URL
               for line in long_headers)
    assert all(len(line) <= 76 for line in _lines(body))


def test_a_token_that_fits_on_a_line_is_never_split(made) -> None:
    _, _, template = made
    data = template.build(42, "ana@example.org", "Ana", ANA_TOKEN)
    body = data.split(b"\r\n\r\n", 1)[1]
    assert sum(ANA_TOKEN.encode() in line for line in body.split(b"\r\n")) == 2


def test_a_long_or_unusual_token_still_decodes_intact(made) -> None:
    _, _, template = made
    long_token = "t" * 250 + ".Sig-_~"
    text, html = bodies(parse(template.build(42, "ana@example.org", "Ana", long_token)))
    assert f'href="{UNSUBSCRIBE}{long_token}"' in html
    assert f"Unsubscribe: {UNSUBSCRIBE}{long_token}\n" in text
    odd = parse(template.build(42, "ana@example.org", "Ana", "a b&c=d/é"))
    assert f"<{UNSUBSCRIBE}a%20b%26c%3Dd%2F%C3%A9>" in odd["List-Unsubscribe"]
    assert f'href="{UNSUBSCRIBE}a%20b%26c%3Dd%2F%C3%A9"' in bodies(odd)[1]


def test_building_again_gives_the_same_bytes(made, make_site: SiteFactory) -> None:
    _, _, template = made
    first = template.build(42, "ana@example.org", "Ana", ANA_TOKEN)
    assert template.build(42, "ana@example.org", "Ana", ANA_TOKEN) == first
    _, _, again = make(make_site)
    assert again.build(42, "ana@example.org", "Ana", ANA_TOKEN) == first


def test_reply_to_when_configured_and_no_mailto_when_unset(make_site: SiteFactory) -> None:
    config = CONFIG.replace('unsubscribe_mailto = "unsubscribe@news.example.org"\n',
                            'reply_to = "editor@news.example.org"\n')
    _, _, template = make(make_site, config)
    message = parse(template.build(42, "ana@example.org", "Ana", ANA_TOKEN))
    assert message["Reply-To"] == "editor@news.example.org"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}{ANA_TOKEN}>"


def test_a_mailto_with_its_own_subject_is_kept(make_site: SiteFactory) -> None:
    config = CONFIG.replace('"unsubscribe@news.example.org"',
                            '"mailto:leave@news.example.org?subject=stop%20weekly"')
    _, _, template = make(make_site, config)
    message = parse(template.build(42, "ana@example.org", "Ana", ANA_TOKEN))
    assert message["List-Unsubscribe"].endswith(
        f", <mailto:leave@news.example.org?subject=stop%20weekly%20{ANA_TOKEN}>")


def test_non_ascii_names_and_subjects_are_encoded_and_folded(make_site: SiteFactory) -> None:
    config = CONFIG.replace('from_name = "Test Gazette"', 'from_name = "Gazeta Lúcia Ñandú"')
    config = config.replace("[email]\n", "[email]\nsubject = \"Notícias — {{ digest.title }}: "
                            + "ação e reação, " * 8 + "fim\"\n")
    _, _, template = make(make_site, config)
    name = "Ana Lúcia Ñandú de Albuquerque e Castro Figueiredo Guimarães"
    data = template.build(42, "ana@example.org", name, ANA_TOKEN)
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?utf-8?b?" in head
    assert all(len(line) <= 78 for line in head.split("\r\n") if "https://" not in line
               and "mailto:" not in line)
    message = parse(data)
    assert message["From"].addresses[0].display_name == "Gazeta Lúcia Ñandú"
    assert message["To"].addresses[0].display_name == name
    assert message["To"].addresses[0].addr_spec == "ana@example.org"
    assert message["Subject"] == ("Notícias — Digest for 25 November 2026: "
                                  + "ação e reação, " * 8 + "fim")


def test_a_long_name_in_another_script_decodes_exactly_by_rfc_2047(made) -> None:
    """Split into several encoded words, the name reads back whole in an RFC 2047 decoder.

    (Python's modern parser keeps the space between two encoded words of a display
    name, so it is compared there with runs of white space collapsed.)
    """
    _, _, template = made
    name = "Александра Владимировна Кузнецова-Соколова"
    data = template.build(42, "sasha@example.org", name, ANA_TOKEN)
    raw_to = re.search(rb"\r\nTo: (.*?)\r\n(?! )", data, re.S).group(1).decode("ascii")
    assert raw_to.count("=?utf-8?b?") == 3
    assert all(len(line) <= 78 for line in f"To: {raw_to}".split("\r\n"))
    words = decode_header(raw_to.replace("\r\n", ""))
    assert str(make_header(words)) == f"{name} <sasha@example.org>"
    [address] = parse(data)["To"].addresses
    assert " ".join(address.display_name.split()) == name
    assert address.addr_spec == "sasha@example.org"


def test_a_long_ascii_subject_is_folded_at_spaces(make_site: SiteFactory) -> None:
    config = CONFIG.replace("[email]\n", "[email]\nsubject = \"" + "word " * 40 + "end\"\n")
    _, _, template = make(make_site, config)
    data = template.build(42, "ana@example.org", "Ana", ANA_TOKEN)
    subject_lines = re.search(rb"\r\nSubject: (.*?)\r\n(?! )", data, re.S).group(0)
    assert b"=?" not in subject_lines
    assert all(len(line) <= 78 for line in subject_lines.strip().split(b"\r\n"))
    assert parse(data)["Subject"] == "word " * 40 + "end"


def test_a_title_with_line_breaks_cannot_inject_headers(make_site: SiteFactory) -> None:
    config = CONFIG.replace("[email]\n", '[email]\nsubject = "{{ articles[0].title }}"\n')
    _, _, template = make(make_site, config, retitle="Bridge\r\nBcc: victim@example.org\r\n")
    message = parse(template.build(42, "ana@example.org", "Ana", ANA_TOKEN))
    assert message["Subject"] == "Bridge Bcc: victim@example.org"
    assert "Bcc" not in message
    assert list(message) == ["From", "Subject", "Date", "List-Id", "List-Unsubscribe-Post",
                                    "To", "Message-ID", "List-Unsubscribe", "MIME-Version",
                                    "Content-Type"]


@pytest.mark.parametrize("name", [
    'Eve "the boss"\r\nBcc: victim@example.org',
    "Eve\nBcc: victim@example.org\n\n<b>body</b>",
    'Eve" <eve@evil.example>, "x',
    "Ève\r\nBcc: victim@example.org",
])
def test_a_subscribers_name_cannot_inject_headers_or_addresses(made, name: str) -> None:
    _, _, template = made
    message = parse(template.build(42, "ana@example.org", name, ANA_TOKEN))
    assert "Bcc" not in message
    [address] = message["To"].addresses
    assert address.addr_spec == "ana@example.org"
    assert address.display_name == " ".join(name.split())
    assert message.defects == []


@pytest.mark.parametrize("address", ["ana@example.org\r\nBcc: victim@example.org",
                                     "Ana <ana@example.org>", "no-at-sign", ""])
def test_an_address_that_is_not_plain_is_refused(made, address: str) -> None:
    _, _, template = made
    with pytest.raises(SubscriberError) as caught:
        template.build(42, address, "Ana", ANA_TOKEN)
    assert caught.value.problem.message == (
        f"cannot address a message: address {address!r} is not a plain email address")
    assert caught.value.problem.key == "subscriber 42"


def test_a_bad_from_address_is_a_configuration_error(make_site: SiteFactory) -> None:
    config = CONFIG.replace('"digest@news.example.org"', '"digest@news.example.org\\nBcc: x@y"')
    with pytest.raises(ConfigError) as caught:
        make(make_site, config)
    [problem] = caught.value.problems
    assert (problem.key, problem.message) == (
        "email.from_address", "'digest@news.example.org\\nBcc: x@y' is not an email address")


def test_spliced_quoted_printable_decodes_to_the_joined_text() -> None:
    """Pieces encoded apart, each ending on a line break, decode to the text joined."""
    rng = random.Random(7)
    alphabet = "abc =.\t\n-é€\U0001f600" + "x" * 20
    for _ in range(300):
        pieces = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 200)))
                  for _ in range(rng.randrange(1, 6))]
        encoded = b"".join(qp_inline(p.encode()) for p in pieces)
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
        assert b"\n" not in encoded.replace(b"\r\n", b"")
        decoded = a2b_qp(encoded.replace(b"\r\n", b"\n")).decode()
        assert decoded == "".join(pieces)


@pytest.mark.parametrize(("name", "header"), [
    ("Ana", b'To: "Ana" <ana@example.org>\r\n'),
    ("Ana Lima", b'To: "Ana Lima" <ana@example.org>\r\n'),
    ("", b"To: ana@example.org\r\n"),
])
def test_the_to_header_quotes_a_name_of_any_length(made, name: str, header: bytes) -> None:
    _, _, template = made
    data = template.build(42, "ana@example.org", name, ANA_TOKEN)
    assert header in data
