"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, in a thread, recording what it accepts.

It can be told, per recipient (or for everyone, `EVERYONE`), always or only the
first N times: to answer RCPT with a 4xx or 5xx reply or drop the connection
there; to take the message and then answer only after a delay (slower than the
sender's timeout); or to take the message and drop the connection without
answering. It can require a login, offer (and require) STARTTLS, offer
PIPELINING, and call a function on each message it accepts, from the server's
thread, while the sender waits for the reply. A message taken counts as
received even when the sender never heard so: that is what a real server does.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True, slots=True)
class Received:
    sender: str
    recipients: tuple[str, ...]
    data: bytes


EVERYONE = "*"


@dataclass
class _Rule:
    reply: str | None  # None: drop the connection instead of answering
    times: int | None  # how many more times; None: always
    after_data: bool = False  # act after taking the message, not at RCPT
    delay: float = 0.0  # seconds to wait before answering the data


OnMessage = Callable[[int, Received], None]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SMTPServer:
    """Start with `start()` (or a `with` block); `messages` lists what was accepted, in order."""

    def __init__(self, *, login: tuple[str, str] | None = None,
                 tls: ssl.SSLContext | None = None, pipelining: bool = False) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.pipelining = pipelining
        self.login_required = login is not None
        self.connections = 0  # EHLO greetings (one per connection, two with STARTTLS)
        self.messages: list[Received] = []
        self.refused: list[tuple[str, str]] = []  # (recipient, reply or "dropped")
        self.logins: list[str] = []
        self._rules: dict[str, _Rule] = {}
        self._callbacks: list[OnMessage] = []
        self._lock = threading.Lock()
        options: dict[str, Any] = {"enable_SMTPUTF8": True}
        if login is not None:
            self._login = login
            # A login is required by handle_MAIL: aiosmtpd's auth_required warns without TLS
            options.update(authenticator=self._authenticate, auth_require_tls=tls is not None)
        if tls is not None:
            options.update(tls_context=tls, require_starttls=True)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                      ready_timeout=10, **options)

    def start(self) -> SMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what to do ----------------------------------------------------------------

    def answer(self, recipient: str, reply: str, times: int | None = None) -> None:
        """Answer RCPT for `recipient` (or `EVERYONE`) with `reply` (e.g. "450 4.2.1 busy")."""
        self._rules[recipient.lower()] = _Rule(reply, times)

    def drop(self, recipient: str, times: int | None = None) -> None:
        """Close the connection when `recipient` is given in RCPT."""
        self._rules[recipient.lower()] = _Rule(None, times)

    def drop_after_data(self, recipient: str, times: int | None = None) -> None:
        """Take the message, then close the connection without answering."""
        self._rules[recipient.lower()] = _Rule(None, times, after_data=True)

    def answer_late(self, recipient: str, seconds: float, times: int | None = None) -> None:
        """Take the message and answer 250 only after `seconds`."""
        self._rules[recipient.lower()] = _Rule("250 2.0.0 Ok: queued late", times,
                                               after_data=True, delay=seconds)

    def stop_listening(self) -> None:
        """Accept no new connections (those open stay open): a server going away."""
        loop, server = self._controller.loop, self._controller.server
        assert server is not None
        loop.call_soon_threadsafe(server.close)

    def on_message(self, callback: OnMessage) -> None:
        """Call `callback(count, message)` for each accepted message, before replying."""
        self._callbacks.append(callback)

    # -- what happened --------------------------------------------------------------

    def received(self) -> Counter[str]:
        """How many messages each recipient received."""
        with self._lock:
            return Counter(r for m in self.messages for r in m.recipients)

    def messages_to(self, recipient: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if recipient in m.recipients]

    # -- the handler's side ---------------------------------------------------------

    def rule_for(self, recipient: str, *, after_data: bool) -> _Rule | None:
        with self._lock:
            rule = self._rules.get(recipient.lower()) or self._rules.get(EVERYONE)
            if rule is None or rule.times == 0 or rule.after_data != after_data:
                return None
            if rule.times is not None:
                rule.times -= 1
            if not after_data:
                self.refused.append((recipient, rule.reply or "dropped"))
            return rule

    def accept(self, envelope: Envelope) -> int:
        message = Received(str(envelope.mail_from), tuple(envelope.rcpt_tos),
                           bytes(envelope.original_content or envelope.content or b""))
        with self._lock:
            self.messages.append(message)
            count = len(self.messages)
        for callback in self._callbacks:
            callback(count, message)
        return count

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(), data.password.decode()) == self._login
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


class _Handler:
    def __init__(self, owner: SMTPServer) -> None:
        self.owner = owner

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        self.owner.connections += 1
        if self.owner.pipelining:  # aiosmtpd reads pipelined commands; it does not say so
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if self.owner.login_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        rule = self.owner.rule_for(address, after_data=False)
        if rule is None:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        if rule.reply is None:
            assert server.transport is not None
            server.transport.abort()
            return "421 4.4.2 connection dropped"
        return rule.reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rule = self.owner.rule_for(envelope.rcpt_tos[0], after_data=True)
        count = self.owner.accept(envelope)
        if rule is not None and rule.reply is None:
            assert server.transport is not None
            server.transport.abort()
            return "421 4.4.2 connection dropped"
        if rule is not None:
            await asyncio.sleep(rule.delay)
        return f"250 2.0.0 Ok: queued as {count}"
