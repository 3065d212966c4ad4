"""The HTTP face of a site: the published folder, and subscribe / confirm / unsubscribe.

`create_app(settings)` returns the ASGI application `publisher serve` runs:

    POST /subscribe               double opt-in: one message, the same answer for every address
    GET  /confirm?token=...       a page with a button (changes nothing)
    POST /confirm                 confirms (pending -> active)
    GET  /unsubscribe?token=...   a page with a button (changes nothing)
    GET  /preferences?token=...   the reader's topics, cadence, zone and hour (changes nothing)
    POST /preferences             saves them, every value checked first
    POST /unsubscribe[?token=...] unsubscribes; also RFC 8058 one-click
                                  (body `List-Unsubscribe=One-Click`, token in the query)
    GET  anything else            a file of the published folder (see `web_static`)

The clock and the transport are passed in, so tests run on a fixed time and
read the messages from an outbox. The rules of the list are in `web_forms`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from functools import partial

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher import theme
from publisher.clock import system_clock
from publisher.config import Settings
from publisher.errors import (
    OutputError,
    PublisherError,
    StoreError,
    SubscriberError,
    TokenError,
)
from publisher.mail.confirmation import HTML_TEMPLATE, TEXT_TEMPLATE, ConfirmationMail
from publisher.mail.outgoing import open_transport
from publisher.models import Clock
from publisher.schedule.files import load_schedules
from publisher.store.database import Store
from publisher.subscribers.preferences import cadences_of
from publisher.subscribers.zones import zone_names
from publisher.text import plural
from publisher.web.forms import (
    MailUnavailable,
    Outcome,
    Subscriptions,
    TransportFactory,
)
from publisher.web.limits import Networks, StoreLimits, SubscribeLimits, client_address
from publisher.web.mailer import SharedMailer
from publisher.web.pages import (
    SERVICE_PATHS,
    ErrorGuard,
    Pages,
    Policies,
    SecurityHeaders,
    origin,
    server_error,
)
from publisher.web.preferences import PreferenceDesk, PreferenceView
from publisher.web.preview import LOCAL_ROOT, LocalPreview, PreviewMode
from publisher.web.static import StaticFiles

log = logging.getLogger("publisher.web")

SIGNING_KEY_USE = "the key that signs confirm, unsubscribe and preference links"
MAX_BODY = 64 * 1024  # the forms are a few hundred bytes
BOT_TRAP = "website"  # a field the subscribe form hides from people; programs fill it in
SERVICE_TEMPLATES = ("site/subscribed.html", "site/confirm.html", "site/unsubscribe.html",
                     "site/service-error.html", "site/preferences.html")
MAIL_TEMPLATES = (TEXT_TEMPLATE, HTML_TEMPLATE)
ALLOWED = {"/subscribe": "GET, HEAD, POST", "/confirm": "GET, HEAD, POST",
           "/unsubscribe": "GET, HEAD, POST", "/preferences": "GET, HEAD, POST"}
FORM_ERRORS = {400: "the form could not be read",
               413: "the request is larger than this service accepts",
               404: "there is no page at this address"}


class Service:
    """The endpoints of the subscription service."""

    def __init__(self, subscriptions: Subscriptions, pages: Pages, limits: SubscribeLimits,
                 confirm_hours: int, origins: frozenset[str], proxies: Networks,
                 desk: PreferenceDesk, site_zone: str) -> None:
        self.subscriptions, self.pages, self.limits = subscriptions, pages, limits
        self.confirm_hours, self.origins, self.proxies = confirm_hours, origins, proxies
        self.desk, self.site_zone = desk, site_zone

    async def subscribe(self, request: Request) -> Response:
        path = request.url.path
        preview = LOCAL_ROOT.get()  # the preview's own pages post from its address
        origins = self.origins | {origin(preview)} if preview else self.origins
        if not same_site(request.headers, origins):
            return self.pages.error(path, 403, "this form can only be sent from the site's own "
                                    "subscribe page", "open the subscribe page and send it "
                                    "from there")
        peer = request.client.host if request.client else ""
        wait = self.limits.client(client_address(peer, request.headers.get("x-forwarded-for"),
                                                 self.proxies))
        if wait is not None:
            return self.pages.error(path, 429, "too many subscribe requests came from your "
                                    "network", f"please try again in {_duration(wait)}",
                                    headers={"retry-after": str(wait)})
        async with limited(request).form(max_files=0, max_fields=200) as form:
            address = _text(form, "email")
            topics = [value for value in form.getlist("topics") if isinstance(value, str)]
            when = {key: _text(form, key) for key in ("cadence", "timezone", "hour")}
            trapped = bool(_text(form, BOT_TRAP).strip())
        if trapped:  # only a program fills in the hidden field: it learns nothing
            log.info("a subscribe request filled in the hidden field: ignored")
            return self.pages.render(path, "site/subscribed.html",
                                     confirm_hours=self.confirm_hours)
        try:
            await run_in_threadpool(partial(self.subscriptions.subscribe, address, topics,
                                            **when))
        except SubscriberError as exc:
            return self.pages.error(path, 400, exc.problem.message, exc.problem.hint)
        except (MailUnavailable, StoreError) as exc:
            return self.unavailable(path, exc)
        return self.pages.render(path, "site/subscribed.html",
                                 confirm_hours=self.confirm_hours)

    async def confirm(self, request: Request) -> Response:
        action = (self.subscriptions.confirm if request.method == "POST"
                  else self.subscriptions.look_at_confirm)
        return await self._link(request, action, "site/confirm.html")

    async def unsubscribe(self, request: Request) -> Response:
        action = (self.subscriptions.unsubscribe if request.method == "POST"
                  else self.subscriptions.look_at_unsubscribe)
        return await self._link(request, action, "site/unsubscribe.html")

    async def preferences(self, request: Request) -> Response:
        """GET shows the reader's choices; POST saves them (the token in the form or query)."""
        path, token = request.url.path, request.query_params.get("token", "")
        try:
            if request.method == "POST":
                async with limited(request).form(max_files=0, max_fields=200) as form:
                    token = _text(form, "token") or token
                    topics = [v for v in form.getlist("topics") if isinstance(v, str)]
                    values = {key: _text(form, key) for key in ("cadence", "timezone", "hour")}
                view = await run_in_threadpool(partial(self.desk.save, token, topics=topics,
                                                       **values))
            else:
                view = await run_in_threadpool(self.desk.look, token)
        except (TokenError, SubscriberError) as exc:
            return self.pages.error(path, 400, exc.problem.message, exc.problem.hint)
        except StoreError as exc:
            return self.unavailable(path, exc)
        return self.pages.render(path, "site/preferences.html", 200, None,
                                 **preference_page(view, self.site_zone))

    async def _link(self, request: Request, action: Callable[[str], Outcome],
                    template: str) -> Response:
        """A confirm or unsubscribe link: the token from the form, else from the query."""
        token = ""
        if request.method == "POST":
            async with limited(request).form(max_files=0, max_fields=20) as form:
                token = _text(form, "token")
        token = token or request.query_params.get("token", "")
        try:
            outcome = await run_in_threadpool(action, token)
        except TokenError as exc:
            return self.pages.error(request.url.path, 400, exc.problem.message,
                                    exc.problem.hint)
        except StoreError as exc:
            return self.unavailable(request.url.path, exc)
        return self.pages.render(request.url.path, template, state=outcome.state,
                                 email=outcome.email, token=outcome.token)

    def unavailable(self, path: str, exc: PublisherError) -> Response:
        """503: the mail server or the database is out of reach; try again later."""
        if isinstance(exc, StoreError):
            log.warning("the subscriber list cannot be reached: %s", exc)
            return self.pages.error(path, 503, "the subscriber list cannot be reached just now",
                                    "please try again in a few minutes")
        return self.pages.error(path, 503, exc.problem.message, exc.problem.hint)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        return self._plain_error(request.url.path, status)

    async def error_page(self, scope: Scope, receive: Receive, send: Send, status: int) -> None:
        """For the static files: 404 (when the site has no 404.html) and 405."""
        await self._plain_error(scope["path"], status)(scope, receive, send)

    def _plain_error(self, path: str, status: int) -> Response:
        if status == 405:
            allow = ALLOWED.get(path, "GET, HEAD")
            return self.pages.error(path, 405, f"this address answers only {allow}",
                                    headers={"allow": allow})
        return self.pages.error(path, status, FORM_ERRORS.get(status, "the request failed"))


def create_app(settings: Settings, *, clock: Clock = system_clock,
               transport_factory: TransportFactory | None = None,
               preview: PreviewMode = PreviewMode.AUTO) -> ASGIApp:
    """The service for one site; every configuration problem is raised here, at start-up.

    `preview` says which requests see the pages pointed at their own address
    (`web.preview`): by default those made to a loopback address.
    """
    secret = settings.signing_key(SIGNING_KEY_USE)
    if not settings.output_path.is_dir():
        raise OutputError("there is nothing to serve yet", path=settings.output_path,
                          hint="run `publisher build` first")
    if transport_factory is None:
        open_transport(settings)  # a missing SMTP password stops the start, not a subscriber
        transport_factory = partial(open_transport, settings, concurrency=1)
    pages, mail = Pages(settings), ConfirmationMail(settings)
    for env, names in ((pages.env, SERVICE_TEMPLATES), (mail.env, MAIL_TEMPLATES)):
        for name in names:  # a broken template stops the start too
            theme.get_template(env, name)
    store = StoreHandle(settings.store_url, settings.store_source)
    store()  # and so does a database that cannot be opened
    mailer = SharedMailer(transport_factory)
    store.on_close(mailer.close)
    web = settings.web
    limits = StoreLimits(store, web.subscribe_per_hour, timedelta(hours=1), web.resend_after,
                         clock)
    cadences = cadences_of(load_schedules(settings))
    subscriptions = Subscriptions(
        store, secret, clock, mail, mailer, limits,
        confirm_ttl=timedelta(hours=web.confirm_ttl_hours),
        service_url=settings.service_url, topics_folder=settings.output_path / "tags",
        cadences=cadences)
    origins = frozenset({origin(settings.base_url), origin(settings.service_url)})
    proxies = tuple(ipaddress.ip_network(p, strict=False) for p in web.trusted_proxies)
    desk = PreferenceDesk(store, secret, clock, ttl=timedelta(days=web.preferences_ttl_days),
                          output=settings.output_path, cadences=cadences)
    service = Service(subscriptions, pages, limits, web.confirm_ttl_hours, origins, proxies,
                      desk, settings.timezone)
    static = StaticFiles(settings.output_path, service.error_page)
    app = Starlette(
        routes=[Route("/subscribe", service.subscribe, methods=["POST"]),
                Route("/confirm", service.confirm, methods=["GET", "POST"]),
                Route("/unsubscribe", service.unsubscribe, methods=["GET", "POST"]),
                Route("/preferences", service.preferences, methods=["GET", "POST"]),
                Route("/{path:path}", static)],
        exception_handlers={HTTPException: service.http_error, Exception: server_error},
        lifespan=store.lifespan)
    public_urls = (settings.base_url, settings.service_url)
    return SecurityHeaders(LocalPreview(ErrorGuard(Split(app, static)), public_urls, preview),
                           Policies(settings))


class Split:
    """Files straight to the static handler; the service's paths (and the rest) to Starlette.

    A feed request then costs a stat and a dictionary look-up, not a pass through
    Starlette's routing and middleware.
    """

    def __init__(self, app: ASGIApp, static: StaticFiles) -> None:
        self.app, self.static = app, static

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in SERVICE_PATHS:
            await self.static(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class StoreHandle:
    """The app's one store connection: opened on first use, closed when the app stops."""

    def __init__(self, url: str, source: str) -> None:
        self.url = url
        self.source = source
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._closers: list[Callable[[], None]] = []

    def on_close(self, closer: Callable[[], None]) -> None:
        """Also run `closer` when the app stops (the shared mail connection)."""
        self._closers.append(closer)

    def __call__(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store.open(self.url, self.source)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Closes the connection when the server stops."""
        try:
            yield
        finally:
            self.close()
            for closer in self._closers:
                closer()


def preference_page(view: PreferenceView, site_zone: str) -> dict[str, object]:
    """The preference template's values: each choice on offer, and whether it is chosen."""
    chosen = view.chosen
    return {"state": view.state, "email": view.email, "token": view.token,
            "unsubscribe_token": view.unsubscribe_token,
            "tags": view.choices.topics, "topics": frozenset(chosen.topics),
            "cadences": [(c.name, c.label) for c in view.choices.cadences],
            "cadence": chosen.cadence, "zones": zone_names(),
            "zone": chosen.timezone or "", "site_zone": site_zone, "hour": chosen.hour}


def limited(request: Request) -> Request:
    """The request, with a body of at most `MAX_BODY` bytes (else 413, before parsing)."""
    length = request.headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > MAX_BODY):
        raise HTTPException(413)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > MAX_BODY:
            raise HTTPException(413)
        return message

    return Request(request.scope, receive)


def same_site(headers: Headers, origins: frozenset[str]) -> bool:
    """False for a form posted from another site (a browser always says where from).

    Browsers send `Origin` with every POST (and `Sec-Fetch-Site`); older ones at least
    `Referer`. A request with none of them is not from a browser's page, so it cannot
    be a cross-site form: the per-client limit is what holds such clients back.
    """
    if headers.get("sec-fetch-site") == "cross-site":
        return False
    sent = headers.get("origin")
    if sent is None and headers.get("referer"):
        sent = origin(headers["referer"])
    return sent is None or sent in origins


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return "" if value is None or isinstance(value, UploadFile) else value


def _duration(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return plural(minutes, "minute")
