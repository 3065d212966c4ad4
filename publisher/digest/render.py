"""Render a digest once: its subject, its HTML (CSS inlined), its text and its web copy.

The recipient's values are placeholders here (see `placeholders`), so that the
expensive part — Jinja2 and premailer — runs once per digest, however many
people receive it. The templates are `email/digest.html` and `email/digest.txt`
from the site's `templates/` folder, falling back file by file to the default theme.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from publisher import theme
from publisher.digest.inline import inline_css
from publisher.digest.placeholders import (
    PATTERN,
    PLACEHOLDERS,
    TEMPLATE_RECIPIENT,
    fill,
    recipient_values,
)
from publisher.errors import Problem, TemplateError
from publisher.models import Article, Digest, RenderedDigest, Site
from publisher.text import long_date, one_line

HTML_TEMPLATE = "email/digest.html"
TEXT_TEMPLATE = "email/digest.txt"
SIZE_WARNING_BYTES = 102 * 1024  # Gmail clips a message's HTML at about 102 KB
IMAGE_WIDTH = 544  # the digest's column: 600 px less its padding
_NOT_IN_EMAIL = (".svg", ".svgz")  # Gmail and Outlook show no SVG image
TEXT_WIDTH = 72
PREHEADER_CHARS = 140
_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_ABSOLUTE = re.compile(r"^(?:https?:|mailto:|tel:|cid:|#)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DigestView:
    """What templates see as `digest`."""

    id: str
    schedule: str
    title: str
    date: datetime  # the due time, in the site's timezone
    web_url: str  # the "view in browser" copy
    preheader: str  # the hidden line inboxes show after the subject
    more: int = 0  # a reader's articles beyond `max_items`, left to a link to the site
    more_url: str = ""


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What rendering a digest needs of the site's settings, as plain values."""

    site: Site
    zone: tzinfo  # dates are shown in the site's timezone
    subject: str  # the subject template, `[email] subject`
    subject_source: str  # the file the subject template is written in, for messages
    service_url: str  # where subscribe and unsubscribe are answered, ending in "/"
    templates: Path  # the site's own templates folder; the default theme fills the gaps


@dataclass(frozen=True, slots=True)
class DigestRender:
    rendered: RenderedDigest
    warnings: tuple[Problem, ...] = ()


def web_copy_path(digest_id: str) -> str:
    """Where the browser copy of a digest goes, relative to the output folder."""
    return f"digests/{digest_id}.html"


def digest_title(due_at: datetime, zone: tzinfo) -> str:
    return f"Digest for {long_date(due_at, zone)}"


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Paragraphs filled to `width`; a long word or URL stays whole on its own line."""
    paragraphs = [one_line(p) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(
        textwrap.fill(p, width, break_long_words=False, break_on_hyphens=False)
        for p in paragraphs if p
    )


def neutral_values(service_url: str) -> dict[str, str]:
    """The web copy's stand-ins: no name, and a link to the subscribe page."""
    return recipient_values("", "", service_url + "subscribe", service_url + "subscribe")


def render_digest(options: RenderOptions, digest: Digest, articles: Sequence[Article],
                  more: int = 0, *, env: jinja2.Environment | None = None,
                  cache_css: bool = False) -> DigestRender:
    """Render `articles` (in the order given) as the digest `digest`, once for everyone who
    gets these articles; `more` of theirs are left to a link to the site.

    A digest rendered once per set of articles passes its `email_environment` (the
    templates compiled once, not per set) and `cache_css` (the stylesheet parsed once:
    the digest's own rendering, uncached, has reported its problems)."""
    site = options.site
    view = digest_view(site, digest, articles, options.zone, more)
    subject = render_subject(options.subject, site, view, articles,
                             source=options.subject_source)
    env = env or email_environment(options.templates, options.zone)
    context = {"site": site, "digest": view, "articles": tuple(articles), "subject": subject,
               "image_width": IMAGE_WIDTH,
               "recipient": TEMPLATE_RECIPIENT, "subscribe_url": options.service_url + "subscribe"}
    html_template = theme.get_template(env, HTML_TEMPLATE)
    text_template = theme.get_template(env, TEXT_TEMPLATE)
    raw_html = theme.render(html_template, **context)
    text = theme.render(text_template, **context)
    html, warnings = inline_css(raw_html, html_template.filename, cached=cache_css)
    _require_placeholders(raw_html, html, html_template.filename)
    _require_unsubscribe(text, text_template.filename)
    warnings += _html_warnings(html, html_template.filename)
    warnings += _image_warnings(articles)
    if not site.postal_address.strip():
        warnings.append(Problem("no postal address for the digest's footer", key="postal_address",
                                hint="set postal_address in publisher.toml: the law in many "
                                "countries requires one in bulk email", warning=True))
    web_html = fill(html, neutral_values(options.service_url), escape=True)
    rendered = RenderedDigest(digest.id, subject, html, text, web_html)
    return DigestRender(rendered, tuple(warnings))


def digest_view(site: Site, digest: Digest, articles: Sequence[Article], zone: tzinfo,
                more: int = 0) -> DigestView:
    preheader = one_line(articles[0].summary_text) if articles else ""
    if len(preheader) > PREHEADER_CHARS:
        preheader = preheader[:PREHEADER_CHARS].rsplit(" ", 1)[0] + "…"
    return DigestView(
        id=digest.id,
        schedule=digest.schedule,
        title=digest_title(digest.due_at, zone),
        date=digest.due_at.astimezone(zone),
        web_url=site.url_for(web_copy_path(digest.id)),
        preheader=preheader,
        more=more,
        more_url=site.base_url,
    )


def email_environment(templates: Path, zone: tzinfo) -> jinja2.Environment:
    """The theme's environment, with the filters the email templates use."""
    env = theme.environment(templates)
    env.filters["longdate"] = lambda moment: long_date(moment, zone)
    env.filters["oneline"] = one_line
    env.filters["wrap"] = wrap_text
    env.tests["email_image"] = email_image
    return env


def email_image(url: str) -> bool:
    """Whether mail clients show an image of this kind (not SVG: Gmail and Outlook do not)."""
    return not urlsplit(url).path.lower().endswith(_NOT_IN_EMAIL)


def _image_warnings(articles: Sequence[Article]) -> list[Problem]:
    return [Problem(f"the image of “{one_line(a.title)}” is an SVG file, which Gmail and "
                    "Outlook do not show: it is left out of the email", path=a.source,
                    key="image", warning=True,
                    hint="give the article a PNG or JPEG `image:` to show one in email")
            for a in articles if a.image and not email_image(a.image)]


def render_subject(template: str, site: Site, digest: DigestView,
                   articles: Sequence[Article] = (), *, source: str | None = None) -> str:
    """The subject template, without HTML escaping, as one line (no CR/LF can reach a header)."""
    # A subject is a header field, not HTML: "&" must stay "&".
    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)  # noqa: S701
    try:
        subject = one_line(env.from_string(template).render(site=site, digest=digest,
                                                               articles=tuple(articles)))
    except jinja2.TemplateError as exc:
        raise TemplateError(f"the subject template cannot be rendered: {exc.message or exc}",
                            path=source, key="email.subject",
                            hint="it may use site, digest and articles, e.g. "
                            "'{{ site.title }}: {{ digest.title }}'") from None
    if not subject:
        raise TemplateError("the subject template gives an empty subject", path=source,
                            key="email.subject", hint="e.g. '{{ site.title }}: {{ digest.title }}'")
    return subject


def _require_placeholders(raw_html: str, html: str, source: str | None) -> None:
    """Every recipient placeholder must come out of CSS inlining exactly as it went in."""
    before, after = Counter(PATTERN.findall(raw_html)), Counter(PATTERN.findall(html))
    if before != after:
        raise TemplateError("a recipient value (such as recipient.unsubscribe_url) was lost "
                            "when the CSS was inlined", path=source,
                            hint="use recipient values only in text and in href attributes")
    _require_unsubscribe(html, source)


def _require_unsubscribe(text: str, source: str | None) -> None:
    if PLACEHOLDERS["unsubscribe_url"] not in text:
        raise TemplateError("the digest has no unsubscribe link", path=source,
                            hint="add {{ recipient.unsubscribe_url }} to the footer")


def _html_warnings(html: str, source: str | None) -> list[Problem]:
    warnings = []
    size = len(html.encode("utf-8"))
    if size > SIZE_WARNING_BYTES:
        warnings.append(Problem(
            f"the digest's HTML is {size / 1024:.0f} KB; Gmail clips messages above about "
            "102 KB and hides the rest, unsubscribe link included", path=source, warning=True,
            hint="lower email.max_items in publisher.toml, or trim the template"))
    relative = sorted({url for url in _LINK.findall(html)
                       if not _ABSOLUTE.match(url) and not PATTERN.fullmatch(url)})
    warnings += [Problem(f"relative link {url!r}: mail clients cannot follow it", path=source,
                         warning=True, hint="write it with site.url_for('...')")
                 for url in relative]
    return warnings
