"""The local preview: the production pages, pointed at the address they are viewed on.

The build writes absolute URLs against `base_url` (feeds need them, and pages
share their article HTML), so on `http://127.0.0.1:8000/` the images, feed
links and the subscribe form would all lead to the production site. When a page
is requested on a local address, the service answers it with `base_url` (and the
service's own URL) replaced by that address; the files on disk, and every answer
on the production address, stay byte for byte what the build wrote.

Which requests are previews: `--preview` all of them, `--no-preview` none, and by
default those whose `Host` is a loopback name or address with no proxy header,
when the site itself is not on one. A proxy in front (nginx with
`proxy_set_header Host $host`) passes the public name, so production is never
rewritten.
"""

from __future__ import annotations

import contextvars
import ipaddress
from collections.abc import Sequence
from enum import Enum
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCAL_ROOT: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "publisher_preview_root", default=None)
"""The preview's address (ending in "/") while a preview request is answered, else None.

Read by the subscribe form, so that the confirmation link of a preview leads back
to the preview."""

_PROXY_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-real-ip")
_NOT_IN_PREVIEW = (b"accept-encoding", b"if-none-match", b"if-modified-since")
_STALE = (b"content-length", b"etag", b"last-modified", b"cache-control")


class PreviewMode(Enum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


def is_local_host(host: str) -> bool:
    """`localhost`, a name below it, or a loopback address (with or without a port)."""
    name = _hostname(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class LocalPreview:
    """Rewrites the HTML answers of preview requests; passes everything else through."""

    def __init__(self, app: ASGIApp, public_urls: Sequence[str], mode: PreviewMode) -> None:
        self.app = app
        # Longest first, so a service URL below base_url is replaced whole.
        self.public = sorted({url.encode() for url in public_urls}, key=len, reverse=True)
        site_is_local = all(is_local_host(urlsplit(url).netloc) for url in public_urls)
        self.mode = PreviewMode.OFF if mode is PreviewMode.AUTO and site_is_local else mode

    def root_for(self, scope: Scope) -> str | None:
        """The address a preview request was made to, or None if it is not one."""
        if self.mode is PreviewMode.OFF or scope["type"] != "http":
            return None
        headers = dict(scope.get("headers", ()))
        host = headers.get(b"host", b"").decode("latin-1")
        if not host and scope.get("server"):
            server_host, port = scope["server"]
            host = f"{server_host}:{port}"
        if self.mode is PreviewMode.AUTO and (
                not is_local_host(host) or any(h in headers for h in _PROXY_HEADERS)):
            return None
        if not host or any(c in host for c in "/\\@ \"'<>"):
            return None
        return f"{scope.get('scheme', 'http')}://{host}/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = self.root_for(scope)
        if root is None:
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope.get("headers", ()) if k not in _NOT_IN_PREVIEW]
        scope = {**scope, "headers": headers}
        rewrite = _Rewrite(self.public, root.encode(), send)
        token = LOCAL_ROOT.set(root)
        try:
            await self.app(scope, receive, rewrite.send)
        finally:
            LOCAL_ROOT.reset(token)


class _Rewrite:
    """Collects an HTML answer's body and sends it with the public URLs replaced."""

    def __init__(self, public: Sequence[bytes], root: bytes, send: Send) -> None:
        self.public, self.root, self.downstream = public, root, send
        self.start: Message | None = None
        self.body: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", ()))
            if headers.get(b"content-type", b"").startswith(b"text/html"):
                self.start = message
                return
        elif message["type"] == "http.response.body" and self.start is not None:
            self.body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._send_rewritten()
            return
        await self.downstream(message)

    async def _send_rewritten(self) -> None:
        assert self.start is not None
        body = b"".join(self.body)
        for url in self.public:
            body = body.replace(url, self.root)
        headers = [(k, v) for k, v in self.start.get("headers", ()) if k not in _STALE]
        headers += [(b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store")]
        await self.downstream({**self.start, "headers": headers})
        await self.downstream({"type": "http.response.body", "body": body})
