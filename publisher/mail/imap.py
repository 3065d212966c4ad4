"""Returned mail read from an IMAP mailbox, always over TLS.

`imaps://USER@HOST[:PORT]/FOLDER` connects with TLS from the start (port 993);
`imap://USER@HOST[:PORT]/FOLDER` connects to port 143 and requires STARTTLS
(a server that does not offer it is refused, never spoken to in the clear).
Certificates are checked against the system's authorities (or `SSL_CERT_FILE`).
The password comes from an environment variable, never from a file.

Only unseen messages are read, with BODY.PEEK so that reading marks nothing; a
message is flagged \\Seen once what it says is recorded, and nothing is ever
deleted or moved: mail that could not be matched stays unseen for a person to
look at. Python's own `imaplib` speaks the protocol.
"""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import os
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from publisher.errors import ConfigError, Problem, PublisherError
from publisher.mail import is_imap_url
from publisher.mail.mailboxes import Incoming, read_source
from publisher.mail.reports import MAX_BYTES

DEFAULT_PASSWORD_ENV = "PUBLISHER_IMAP_PASSWORD"  # noqa: S105 - a variable's name
PORTS = {"imaps": 993, "imap": 143}
TIMEOUT = 60.0  # seconds for connecting and for each answer
_BODY = re.compile(rb"BODY\[\]<0> \{(\d+)\}|BODY\[\] \{(\d+)\}")


@dataclass(frozen=True, slots=True)
class ImapAddress:
    scheme: str  # "imaps" (TLS from the start) or "imap" (STARTTLS required)
    user: str
    host: str
    port: int
    folder: str

    @property
    def label(self) -> str:
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_imap_url(text: str) -> ImapAddress:
    """The mailbox an `imap(s)://` URL names; ValueError saying what is missing."""
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in PORTS:
        raise ValueError("an IMAP mailbox is written imaps://USER@HOST/FOLDER")
    if parts.password is not None:
        raise ValueError("the password does not belong in the URL: put it in the "
                         "environment variable the schedule names (password_env)")
    if not parts.username or not parts.hostname:
        raise ValueError("the URL needs the user and the host: imaps://USER@HOST/FOLDER")
    try:
        port = parts.port or PORTS[scheme]
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    if any(c in folder for c in '\r\n"\\'):
        raise ValueError("the folder name holds a character IMAP cannot carry here")
    return ImapAddress(scheme, unquote(parts.username), parts.hostname, port, folder)


def password_from(variable: str) -> str:
    password = os.environ.get(variable, "")
    if not password:
        raise ConfigError([Problem(f"the IMAP password is not set: {variable} is empty",
                                   hint=f"export {variable}=... (the mailbox's password) in "
                                   "the environment the command runs in")])
    return password


@contextlib.contextmanager
def imap_messages(address: ImapAddress, password: str, *, timeout: float = TIMEOUT,
                  context: ssl.SSLContext | None = None) -> Iterator[Iterator[Incoming]]:
    """The unseen messages of the mailbox, while the connection is open."""
    client = _connect(address, password, timeout, context or ssl.create_default_context())
    try:
        yield _unseen(client, address)
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def _connect(address: ImapAddress, password: str, timeout: float,
             context: ssl.SSLContext) -> imaplib.IMAP4:
    where = f"{address.host}:{address.port}"
    try:
        if address.scheme == "imaps":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(address.host, address.port,
                                                      ssl_context=context, timeout=timeout)
        else:
            client = imaplib.IMAP4(address.host, address.port, timeout=timeout)
            if "STARTTLS" not in client.capabilities:
                client.shutdown()
                raise PublisherError(f"the IMAP server at {where} does not offer STARTTLS",
                                     hint="use imaps:// (port 993); the password is never "
                                     "sent unencrypted")
            client.starttls(ssl_context=context)
    except ssl.SSLCertVerificationError as exc:
        raise PublisherError(f"the IMAP server at {where} has a certificate that cannot be "
                             f"trusted: {exc.verify_message}",
                             hint="check the host name in the URL; a private authority "
                             "goes in SSL_CERT_FILE") from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise PublisherError(f"cannot reach the IMAP server at {where}: "
                             f"{_reason(exc)}", hint=_reach_hint(exc)) from None
    try:
        client.login(address.user, password)
    except imaplib.IMAP4.error as exc:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
        raise PublisherError(f"the IMAP server at {where} refused the login of "
                             f"{address.user}: {_reason(exc)}",
                             hint="check the user in the URL and the password in the "
                             "environment") from None
    except OSError as exc:
        raise PublisherError(f"the IMAP server at {where} closed the connection: "
                             f"{_reason(exc)}", hint="try again later") from None
    return client


def _unseen(client: imaplib.IMAP4, address: ImapAddress) -> Iterator[Incoming]:
    try:
        kind, _ = client.select(f'"{address.folder}"')
        if kind != "OK":
            raise PublisherError(f"there is no folder {address.folder!r} in {address.label}",
                                 hint="check the folder at the end of the URL (often INBOX)")
        kind, found = client.uid("SEARCH", "UNSEEN")
        uids = found[0].decode().split() if kind == "OK" and found and found[0] else []
        for uid in uids:
            raw = _fetch(client, uid)
            if raw is not None:
                yield Incoming(f"{address.label}#{uid}", raw, _seen(client, uid))
    except (OSError, imaplib.IMAP4.error) as exc:
        raise PublisherError(f"the IMAP server at {address.host}:{address.port} stopped "
                             f"answering: {_reason(exc)}",
                             hint="run it again: what was recorded is kept, the rest is "
                             "read again") from None


def _fetch(client: imaplib.IMAP4, uid: str) -> bytes | None:
    """A message's first bytes (enough to tell a report from anything too large to be one)."""
    kind, data = client.uid("FETCH", uid, f"(BODY.PEEK[]<0.{MAX_BYTES + 1}>)")
    if kind != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and _BODY.search(item[0]):
            return bytes(item[1])
    return None


def _seen(client: imaplib.IMAP4, uid: str) -> Callable[[], None]:
    def mark() -> None:
        try:
            client.uid("STORE", uid, "+FLAGS.SILENT", "(\\Seen)")
        except (OSError, imaplib.IMAP4.error) as exc:
            raise PublisherError(f"the IMAP server stopped answering: {_reason(exc)}",
                                 hint="run it again: what was recorded is kept, and "
                                 "reading a message twice changes nothing") from None

    return mark


@contextlib.contextmanager
def open_sources(paths: Iterable[str], stdin: Callable[[], bytes],
                 password_env: str = DEFAULT_PASSWORD_ENV) -> Iterator[Iterator[Incoming]]:
    """Every message of every PATH (Maildir, mbox, .eml, "-" or an IMAP URL), in turn.

    IMAP mailboxes are connected to first, so a wrong password stops the run
    before anything is read; their connections stay open until the block ends.
    """
    with contextlib.ExitStack() as stack:
        sources: list[Iterator[Incoming]] = []
        for path in paths:
            if not is_imap_url(path):
                sources.append(read_source(path, stdin))
                continue
            try:
                address = parse_imap_url(path)
            except ValueError as exc:
                raise PublisherError(f"{path}: {exc}",
                                     hint="write imaps://USER@HOST/FOLDER") from None
            password = password_from(password_env)
            sources.append(stack.enter_context(imap_messages(address, password)))
        yield itertools.chain.from_iterable(sources)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text or type(exc).__name__


def _reach_hint(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "check the host name in the URL"
    if isinstance(exc, ConnectionRefusedError):
        return "check the port (993 for imaps://, 143 for imap://) and that the server runs"
    return "check the host and port in the URL, and that this machine may connect to it"
