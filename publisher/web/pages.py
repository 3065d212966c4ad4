"""The service's own pages, the security headers on every answer, and the 500 page.

Service pages are rendered with the archive's templates (`site/base.html` and
friends, the site's own copies first), so they look like the rest of the site.
They link to the archive relatively when the service and the archive share a
base URL, absolutely otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher import theme
from publisher.build import pages as archive
from publisher.config import Settings

log = logging.getLogger("publisher.web")

SERVICE_PATHS = ("/subscribe", "/confirm", "/unsubscribe", "/preferences")
DIGEST_COPIES = "/digests/"
HEADINGS = {400: "This request cannot be used", 403: "This form cannot be sent from here",
            404: "Page not found",
            405: "Method not allowed", 413: "Too much data", 429: "Too many requests",
            503: "Please try again later"}
SERVER_ERROR_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Something went wrong</title></head>
<body><main><h1>Something went wrong</h1>
<p>The server could not answer this request. Please try again later.</p></main></body>
</html>
"""


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Policies:
    """The Content-Security-Policy of each kind of answer.

    No page runs a script. Archive pages may show images from anywhere on https
    (articles embed them); a digest's web copy keeps its inline styles; the
    service's pages allow nothing but the site's own stylesheet and forms that
    post back to the service. XSLT counts as script for CSP, which is why the
    archive's policy keeps `default-src 'self'` for the feed stylesheet.
    """

    def __init__(self, settings: Settings) -> None:
        site, service = origin(settings.base_url), origin(settings.service_url)
        styles = "'self'" if site == service else f"'self' {site}"
        common = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        forms = "'self'" if site == service else f"'self' {service}"
        self.archive = (f"default-src 'self'; img-src 'self' https: data:; "
                        f"media-src 'self' https:; style-src {styles}; form-action {forms}; "
                        f"{common}")
        self.digest = self.archive.replace(f"style-src {styles}",
                                           f"style-src {styles} 'unsafe-inline'")
        self.service = (f"default-src 'self'; style-src {styles}; img-src {styles} data:; "
                        f"form-action 'self'; {common}")

    def for_path(self, path: str) -> str:
        if path in SERVICE_PATHS:
            return self.service
        return self.digest if path.startswith(DIGEST_COPIES) else self.archive


class SecurityHeaders:
    """Adds the security headers to every answer, unless the answer set its own."""

    def __init__(self, app: ASGIApp, policies: Policies) -> None:
        self.app = app
        self.policies = policies
        self._fixed = [(b"x-content-type-options", b"nosniff"),
                       (b"referrer-policy", b"strict-origin-when-cross-origin"),
                       (b"x-frame-options", b"DENY")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policies.for_path(scope["path"]).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [field for field in ((b"content-security-policy", policy),
                                                *self._fixed) if field[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ErrorGuard:
    """Logs any unexpected exception and keeps it from the server; answers 500 if nobody has.

    Starlette's outermost middleware answers with `server_error` and re-raises;
    the exception ends here, so it is logged once, by us.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("error while answering %s %s", scope.get("method"), scope.get("path"))
            if started:
                return  # too late for a page: the connection ends here
            await HTMLResponse(SERVER_ERROR_PAGE, status_code=500,
                               headers={"cache-control": "no-store"})(scope, receive, send)


async def server_error(request: Request, exc: Exception) -> Response:
    """The page for an unexpected error; `ErrorGuard` logs the error itself."""
    return HTMLResponse(SERVER_ERROR_PAGE, status_code=500, headers={"cache-control": "no-store"})


class Pages:
    """Renders the service's pages with the site's theme."""

    def __init__(self, settings: Settings) -> None:
        options = archive.SiteOptions(settings.site(), settings.service_url,
                                      settings.pages.per_page, settings.feeds.tag_feeds)
        self.env = archive.environment(options, settings.path(settings.templates_dir))
        self.absolute_root = None if settings.service_url == settings.base_url \
            else settings.base_url
        self.policy = Policies(settings).service

    def render(self, url_path: str, template: str, status: int = 200,
               headers: Mapping[str, str] | None = None, **context: object) -> HTMLResponse:
        """The page for a request to `url_path` (links are made relative to it)."""
        root = self.absolute_root or "../" * max(0, url_path.count("/") - 1)
        page = theme.render(theme.get_template(self.env, template), root=root, path="",
                            **context)
        answer_headers = {"cache-control": "no-store", "referrer-policy": "no-referrer",
                          "content-security-policy": self.policy, **(headers or {})}
        return HTMLResponse(page, status_code=status, headers=answer_headers)

    def error(self, url_path: str, status: int, message: str, hint: str | None = None,
              headers: Mapping[str, str] | None = None) -> HTMLResponse:
        """A plain page saying what went wrong, in sentences."""
        return self.render(url_path, "site/service-error.html", status, headers,
                           heading=HEADINGS.get(status, "This request cannot be answered"),
                           message=sentence(message), hint=sentence(hint) if hint else None)


def sentence(text: str) -> str:
    """An error message as a sentence: capital first letter, final full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
