"""The published folder over HTTP: content types, validators, conditional GET and gzip.

Every request stats its file; the file's bytes, strong ETag (a hash of the
bytes) and gzip copy are cached under (path, size, mtime_ns, inode), so a
rebuild that rewrites a file changes its validators, and one that leaves it
alone does not. Small files are answered from memory; larger ones are streamed
and only their ETag is cached.

A URL names a file only through plain path segments below the folder: "..",
".", hidden names (other than `.well-known`), NUL bytes and backslashes are
not found, and a file reached through a symbolic link must still lie inside the
folder. A folder URL serves its `index.html` (a URL without the final "/" is
redirected to it) and never lists anything.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from publisher.build.media import (
    BROWSER_FEED_TYPE,
    HTML_TYPE,
    NOT_FOUND_CACHE,
    SHORT_CACHE,
    XML_FEEDS,
    cache_control,
    compressible,
    content_type,
)

CACHED_FILE_LIMIT = 1024 * 1024  # larger files are streamed, not kept in memory
CACHE_BUDGET = 64 * 1024 * 1024  # bytes of file bodies kept at most
GZIP_MINIMUM = 256  # smaller bodies are not worth compressing
CHUNK = 64 * 1024
_ENTITY_TAG = re.compile(r'\s*(W/)?("[^"]*")\s*(?:,|$)')
NOT_FOUND_PAGE = "404.html"
_NOT_IN_304 = (b"content-type", b"content-encoding")

ErrorPage = Callable[[Scope, Receive, Send, int], Awaitable[None]]
"""Answers a request with an error page of the given status (404, 405)."""


RawHeaders = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class StaticFile:
    """What is known about one version of a file: its validators and, if small, its bytes.

    The header lists are encoded once, when the file is read, not per request.
    """

    path: str
    key: tuple[int, int, int]  # (size, mtime_ns, inode)
    content_type: str
    etag: str
    mtime: int  # whole seconds, as Last-Modified says
    body: bytes | None  # None: too large to keep, stream from disk
    gzip_body: bytes | None  # None: not worth compressing (or too large)
    headers: RawHeaders  # of the identity representation, without Content-Length
    gzip_headers: RawHeaders  # of the gzip one (its ETag differs: another representation)

    @property
    def gzip_etag(self) -> str:
        return gzip_etag(self.etag)


def gzip_etag(etag: str) -> str:
    return etag[:-1] + '-gz"'


class FileCache:
    """Validators and small bodies of files, keyed by what changes when the bytes do."""

    def __init__(self, budget: int = CACHE_BUDGET) -> None:
        self._entries: OrderedDict[str, StaticFile] = OrderedDict()
        self._budget = budget
        self._size = 0
        self._lock = threading.Lock()

    def get(self, path: str, key: tuple[int, int, int]) -> StaticFile | None:
        with self._lock:
            entry = self._entries.get(path)
            if entry is None or entry.key != key:
                return None
            self._entries.move_to_end(path)
            return entry

    def put(self, entry: StaticFile) -> None:
        with self._lock:
            old = self._entries.pop(entry.path, None)
            self._size -= _cost(old)
            self._entries[entry.path] = entry
            self._size += _cost(entry)
            while self._size > self._budget and len(self._entries) > 1:
                _, evicted = self._entries.popitem(last=False)
                self._size -= _cost(evicted)


def _cost(entry: StaticFile | None) -> int:
    if entry is None:
        return 0
    return len(entry.body or b"") + len(entry.gzip_body or b"") + 256


def load(path: str) -> StaticFile:
    """Read a file once: hash it, keep it (and its gzip copy) if it is small.

    The key comes from the open file's own stat, so the bytes and the key always
    belong to the same version even if the file is replaced meanwhile.
    """
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        digest = hashlib.sha256()
        body: bytes | None = None
        if info.st_size <= CACHED_FILE_LIMIT:
            body = handle.read()
            digest.update(body)
        else:
            for block in iter(lambda: handle.read(CHUNK), b""):
                digest.update(block)
    name = os.path.basename(path)
    media = content_type(name)
    packed = None
    if body is not None and len(body) >= GZIP_MINIMUM and compressible(media):
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        packed = packed if len(packed) < len(body) else None
    mtime = int(info.st_mtime)
    etag = f'"{digest.hexdigest()[:32]}"'
    common = [(b"content-type", media.encode()),
              (b"last-modified", formatdate(mtime, usegmt=True).encode()),
              (b"cache-control", cache_control(name).encode())]
    if media.startswith(XML_FEEDS):
        common.append((b"vary", b"Accept-Encoding, Accept"))
    elif compressible(media):
        common.append((b"vary", b"Accept-Encoding"))
    return StaticFile(path, file_key(info), media, etag, mtime, body, packed,
                      [(b"etag", etag.encode()), *common],
                      [(b"etag", gzip_etag(etag).encode()), *common,
                       (b"content-encoding", b"gzip")])


def file_key(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_size, info.st_mtime_ns, info.st_ino)


class Located:
    """Where a URL path leads: a file (with its stat), a redirect, or nothing."""

    __slots__ = ("info", "path", "redirect")

    def __init__(self, path: str | None = None, info: os.stat_result | None = None,
                 redirect: str | None = None) -> None:
        self.path, self.info, self.redirect = path, info, redirect


def locate(root: str, url_path: str) -> Located | None:
    """The file a URL path names inside `root` (absolute, resolved), or None."""
    if "\x00" in url_path or "\\" in url_path:
        return None
    parts = [part for part in url_path.split("/") if part]
    if any(part in (".", "..") or (part.startswith(".") and part != ".well-known")
           for part in parts):
        return None
    target = os.path.join(root, *parts)
    try:
        info = os.stat(target)
        if stat.S_ISDIR(info.st_mode):
            if not url_path.endswith("/"):
                return Located(redirect="/" + "/".join(parts) + "/")
            target = os.path.join(target, "index.html")
            info = os.stat(target)
        elif url_path.endswith("/"):
            return None
    except (OSError, ValueError):
        return None
    return Located(target, info) if stat.S_ISREG(info.st_mode) else None


def inside(root: str, path: str) -> bool:
    """True if `path`, with every symbolic link followed, lies below `root`."""
    return os.path.realpath(path).startswith(root + os.sep)


def accepts_gzip(header: str | None) -> bool:
    """`Accept-Encoding` allows gzip (and does not give it q=0)."""
    if not header:
        return False
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.replace(" ", "").lower()
            return not re.fullmatch(r"q=0(\.0{0,3})?", quality)
    return False


def etag_matches(header: str, etag: str) -> bool:
    """`If-None-Match` by the weak comparison RFC 9110 asks for (W/ prefixes ignored)."""
    if header.strip() == "*":
        return True
    position = 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            return False
        if match.group(2) == etag.removeprefix("W/"):
            return True
        position = match.end()
    return False


def not_modified(headers: Headers, etag: str, mtime: int) -> bool:
    """Whether the client's copy is current: the ETag decides if sent, else the date."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    if moment.tzinfo is None:  # the asctime form has no zone; HTTP dates are all in GMT
        moment = moment.replace(tzinfo=UTC)
    return mtime <= moment.timestamp()


class StaticFiles:
    """An ASGI app answering GET and HEAD from `root`; `error_page` answers the rest."""

    def __init__(self, root: Path, error_page: ErrorPage) -> None:
        self.root = str(root.resolve())
        self.cache = FileCache()
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await self.error_page(scope, receive, send, 405)
            return
        found = locate(self.root, scope["path"])
        if found is not None and found.redirect is not None:
            query = scope.get("query_string", b"").decode("latin-1")
            location = quote(found.redirect) + ("?" + query if query else "")
            await _start(send, 301, [(b"location", location.encode("latin-1")),
                                     (b"content-length", b"0"),
                                     (b"cache-control", SHORT_CACHE.encode())])
            await send({"type": "http.response.body", "body": b""})
            return
        entry = await self._entry(found) if found is not None else None
        if entry is None:
            await self.not_found(scope, receive, send)
            return
        await respond(entry, Headers(scope=scope), method == "HEAD", send)

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The site's own 404 page with status 404 (or the error page if it has none)."""
        found = locate(self.root, "/" + NOT_FOUND_PAGE)
        entry = await self._entry(found) if found is not None else None
        if entry is None:
            await self.error_page(scope, receive, send, 404)
            return
        body = b"" if scope["method"] == "HEAD" else entry.body or b""
        await _start(send, 404, [(b"content-type", HTML_TYPE.encode()),
                                 (b"cache-control", NOT_FOUND_CACHE.encode()),
                                 (b"content-length", str(len(entry.body or b"")).encode())])
        await send({"type": "http.response.body", "body": body})

    async def _entry(self, found: Located) -> StaticFile | None:
        assert found.path is not None and found.info is not None
        entry = self.cache.get(found.path, file_key(found.info))
        if entry is not None:
            return entry
        if not inside(self.root, found.path):
            return None
        try:
            entry = await anyio.to_thread.run_sync(load, found.path)
        except OSError:
            return None
        self.cache.put(entry)
        return entry


async def respond(entry: StaticFile, headers: Headers, head_only: bool, send: Send) -> None:
    """200 with the file (gzip if welcome), or 304 if the client's copy is current."""
    packed = entry.gzip_body is not None and accepts_gzip(headers.get("accept-encoding"))
    etag = entry.gzip_etag if packed else entry.etag
    fields = entry.gzip_headers if packed else entry.headers
    if entry.content_type.startswith(XML_FEEDS) and "text/html" in headers.get("accept", ""):
        fields = [(k, BROWSER_FEED_TYPE if k == b"content-type" else v) for k, v in fields]
    if not_modified(headers, etag, entry.mtime):  # validators and caching only (RFC 9110)
        await _start(send, 304, [field for field in fields if field[0] not in _NOT_IN_304])
        await send({"type": "http.response.body", "body": b""})
        return
    body = entry.gzip_body if packed else entry.body
    size = len(body) if body is not None else entry.key[0]
    await _start(send, 200, [*fields, (b"content-length", str(size).encode())])
    if head_only:
        await send({"type": "http.response.body", "body": b""})
    elif body is not None:
        await send({"type": "http.response.body", "body": body})
    else:
        await _stream(entry.path, size, send)


async def _stream(path: str, size: int, send: Send) -> None:
    """Send a large file in chunks, never more than the length already announced."""
    left = size
    async with await anyio.open_file(path, "rb") as handle:
        while left > 0:
            block = await handle.read(min(CHUNK, left))
            if not block:
                break
            left -= len(block)
            await send({"type": "http.response.body", "body": block, "more_body": left > 0})
    if left > 0:  # the file shrank meanwhile: end the body; the length tells the client
        await send({"type": "http.response.body", "body": b""})


async def _start(send: Send, status: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
