"""Time building each recipient's message of a digest, against the naive pipeline.

The digest of the sample site (every published article, as for a first send) is
rendered once; then `MessageTemplate.build()` makes one message per subscriber.
In the same run, the naive pipeline makes messages the way most code does: Jinja2
render, premailer and `email.message.EmailMessage` for every recipient. Both are
timed in CPU time (`time.process_time`) and wall time, and the decoded HTML of
one message from each is compared, so the two are known to say the same thing.

Unsubscribe tokens are made before timing (they come from the caller).

Run: python benchmarks/message_build.py [--site DIR] [--messages N] [--naive M]
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import hashlib
import hmac
import html
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from publisher import publish, theme
from publisher.config import Settings, load_settings
from publisher.digest.inline import inline_css
from publisher.digest.message import MessageTemplate
from publisher.digest.placeholders import Recipient, recipient_values
from publisher.digest.render import (
    HTML_TEMPLATE,
    TEXT_TEMPLATE,
    digest_view,
    email_environment,
    render_digest,
)
from publisher.digest.select import choose_articles
from publisher.mail.headers import site_host
from publisher.models import Article, Digest
from publisher.send import envelope, render_options

NAMES = ("Ana Lima", "", "Zoë Ñandú", "Ben O'Neill", "Александра Кузнецова", "Chidi")
NOW = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)


def token(subscriber_id: int) -> str:
    """A stand-in of the real token's shape and length: payload "." signature."""
    payload = base64.urlsafe_b64encode(f'{{"s":{subscriber_id},"p":"u"}}'.encode()).rstrip(b"=")
    mac = hmac.new(b"benchmark", payload, hashlib.sha1).digest()
    return (payload + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


def recipients(count: int) -> list[tuple[int, str, str, str]]:
    return [(i, f"reader{i}@example.org", NAMES[i % len(NAMES)], token(i))
            for i in range(1, count + 1)]


def each(make: Callable[..., bytes], people: list[tuple[int, str, str, str]]) -> None:
    """Make every message and let it go, as a sender does: nothing accumulates."""
    for person in people:
        make(*person)


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """CPU seconds and wall seconds of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


class Naive:
    """Everything but template compilation again for each recipient: Jinja2 render,
    premailer and EmailMessage."""

    def __init__(self, settings: Settings, digest: Digest, articles: list[Article]) -> None:
        self.settings, self.digest, self.articles = settings, digest, tuple(articles)
        env = email_environment(settings.path(settings.templates_dir), settings.zone)
        self.html = theme.get_template(env, HTML_TEMPLATE)
        self.text = theme.get_template(env, TEXT_TEMPLATE)
        self.site = settings.site()
        self.view = digest_view(self.site, digest, articles, settings.zone)

    def message(self, subscriber_id: int, address: str, name: str, tok: str) -> bytes:
        settings, site = self.settings, self.site
        values = recipient_values(name, address,
                                  settings.service_url + "unsubscribe?token=" + tok)
        subject = f"{site.title}: {self.view.title}"
        context = {"site": site, "digest": self.view, "articles": self.articles,
                   "subject": subject, "recipient": Recipient(**values),
                   "subscribe_url": settings.service_url + "subscribe"}
        html, _ = inline_css(theme.render(self.html, **context), None)
        text = theme.render(self.text, **context)
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = Address(settings.email.from_name,
                                  addr_spec=settings.email.from_address)
        message["To"] = Address(name, addr_spec=address)
        message["Subject"] = subject
        message["Date"] = format_datetime(self.digest.created_at.astimezone(settings.zone))
        message["Message-ID"] = (f"<{self.digest.id}.{subscriber_id}"
                                 f"@{site_host(settings.base_url)}>")
        message["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(text, cte="quoted-printable")
        message.add_alternative(html, subtype="html", cte="quoted-printable")
        return message.as_bytes()


def decoded_html(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("html",))
    assert body is not None
    # EmailMessage.set_content ends a body with a newline; the rendered HTML has none.
    # Character references are resolved: premailer's serializer writes "'" for "&#39;".
    return html.unescape(str(body.get_content()).replace("\r\n", "\n").rstrip("\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--naive", type=int, default=40)
    args = parser.parse_args()

    settings = load_settings(args.site)
    published = publish.load(settings, readonly=True).published(NOW)
    articles = choose_articles(published, set(), since=None, max_items=settings.email.max_items)
    digest = Digest("weekly-20261202-0700", "weekly", NOW, NOW, tuple(a.id for a in articles))
    people = recipients(args.messages)

    render_cpu, _ = timed(lambda: render_digest(render_options(settings), digest, articles))
    rendered = render_digest(render_options(settings), digest, articles).rendered
    template_cpu, _ = timed(lambda: MessageTemplate(envelope(settings), digest, rendered))
    template = MessageTemplate(envelope(settings), digest, rendered)
    build = template.build
    fast_cpu, fast_wall = timed(lambda: each(build, people))
    naive_people = people[:args.naive]
    naive = Naive(settings, digest, articles)
    naive_cpu, naive_wall = timed(lambda: each(naive.message, naive_people))

    same = all(decoded_html(build(*p)) == decoded_html(naive.message(*p))
               for p in people[:len(NAMES)])
    size = len(build(*people[0]))
    fast_us, naive_us = fast_cpu / len(people) * 1e6, naive_cpu / len(naive_people) * 1e6
    print(f"digest: {len(articles)} articles, HTML {len(rendered.html) / 1024:.1f} KB, "
          f"message {size / 1024:.1f} KB")
    print(f"render once (Jinja2 + premailer): {render_cpu * 1e3:.1f} ms CPU; "
          f"message template: {template_cpu * 1e3:.1f} ms CPU")
    print(f"build():  {fast_us:8.1f} µs CPU/message, "
          f"{len(people) / fast_wall:10,.0f} messages/s ({len(people):,} messages)")
    print(f"naive:    {naive_us:8.1f} µs CPU/message, "
          f"{len(naive_people) / naive_wall:10,.0f} messages/s ({len(naive_people):,} messages)")
    print(f"speed-up: {naive_us / fast_us:,.0f}x; same decoded HTML: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
