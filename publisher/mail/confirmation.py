"""The message a subscribe request sends: a confirmation link, or "you are already subscribed".

Rendered from `email/confirm.txt` and `email/confirm.html` (the site's own
copies first). The header fields go through the same injection-proof encoders
as the digest's; the bodies are MIME-encoded by the standard library, which is
fast enough for one message per request.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

import jinja2

from publisher import theme
from publisher.config import Settings
from publisher.mail import headers

TEXT_TEMPLATE = "email/confirm.txt"
HTML_TEMPLATE = "email/confirm.html"


class ConfirmationMail:
    """Renders and encodes the confirmation message of one site."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.site = settings.site()
        self.env: jinja2.Environment = theme.environment(settings.path(settings.templates_dir))
        self.host = headers.site_host(settings.base_url)
        self.sender = settings.email.from_address  # checked when the settings were read
        self.reply_to = settings.email.reply_to

    def build(self, email: str, *, confirm_url: str | None, unsubscribe_url: str | None,
              now: datetime, preferences_url: str | None = None) -> bytes:
        """The message for `email`: with `confirm_url` it asks to confirm, else it says the
        address is already subscribed (and how to leave)."""
        title = self.site.title
        subject = (f"Confirm your subscription to {title}" if confirm_url
                   else f"Your subscription to {title}")
        context = {"site": self.site, "email": email, "subject": subject,
                   "confirm_url": confirm_url, "unsubscribe_url": unsubscribe_url,
                   "preferences_url": preferences_url,
                   "confirm_hours": self.settings.web.confirm_ttl_hours}
        text = theme.render(theme.get_template(self.env, TEXT_TEMPLATE), **context)
        html = theme.render(theme.get_template(self.env, HTML_TEMPLATE), **context)
        body = EmailMessage(policy=SMTP)
        body.set_content(text, cte="quoted-printable")  # 7-bit safe for any server
        body.add_alternative(html, subtype="html", cte="quoted-printable")
        for part in body.iter_parts():
            del part["MIME-Version"]  # belongs to the message only
        return self._headers(email, subject, now) + body.as_bytes()

    def _headers(self, email: str, subject: str, now: datetime) -> bytes:
        unique = f"confirm.{int(now.timestamp())}.{secrets.token_hex(8)}@{self.host}"
        fields = [
            headers.field("From", headers.mailbox(self.settings.email.from_name, self.sender)),
            headers.field("To", [headers.address(email)]),
            headers.field("Subject", headers.unstructured(subject)),
            f"Date: {format_datetime(now.astimezone(self.settings.zone))}\r\n",
            f"Message-ID: <{unique}>\r\n",
            "Auto-Submitted: auto-generated\r\n",
        ]
        if self.reply_to:
            fields.append(headers.field("Reply-To", [self.reply_to]))
        return "".join(fields).encode("utf-8")

