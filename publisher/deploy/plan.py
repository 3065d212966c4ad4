"""What a deploy must do: pure functions from local files and a remote listing to a plan.

An object is current when the manifest of the last deploy says it was made from
these bytes with these headers, and the bucket still holds that very version
(its ETag is the one the upload returned). So a no-change deploy uploads
nothing, a changed header (a new cache policy) uploads again, and an object
someone replaced by hand is put back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from publisher.build.feeds import is_feed
from publisher.build.media import cache_control, content_type
from publisher.content.stamps import Stamp, read_index, stamp_of, unchanged_key, write_index

MANIFEST = ".publisher/deploy.json"  # under the prefix: what the last deploy uploaded
IMMUTABLE = "public, max-age=31536000, immutable"
_HASHED_NAME = re.compile(r"\.[0-9a-f]{8,}\.[A-Za-z0-9]+$")  # style.3f2a9c1d.css
_ENCODINGS = {".gz": "gzip", ".br": "br"}
_HASHES_CONTEXT = "deploy md5"


@dataclass(frozen=True, slots=True)
class LocalFile:
    """One file of the output folder, as it will be stored."""

    path: str  # relative to the output folder, "/" separators
    source: Path
    size: int
    md5: str
    headers: Mapping[str, str]  # ContentType, CacheControl, ContentEncoding (boto3's names)
    stamp: Stamp = (0, 0, 0, 0)  # size, times and inode when it was hashed

    @property
    def fingerprint(self) -> str:
        return json.dumps(dict(sorted(self.headers.items())), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Stored:
    """What the manifest remembers of one uploaded object."""

    md5: str
    etag: str
    headers: str  # the fingerprint of the headers it was stored with


@dataclass(frozen=True, slots=True)
class Plan:
    first: tuple[LocalFile, ...]  # assets and pages: everything a feed may link to
    feeds: tuple[LocalFile, ...]  # uploaded last, so no reader follows a link to nothing
    remove: tuple[str, ...]  # paths an earlier deploy uploaded that the site no longer has
    unchanged: int
    foreign: int  # objects under the prefix that no deploy of ours made: left alone

    @property
    def uploads(self) -> tuple[LocalFile, ...]:
        return self.first + self.feeds


@dataclass
class Manifest:
    """The paths a deploy has uploaded, with the version of each; saved after every phase."""

    entries: dict[str, Stored] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes | None) -> Manifest:
        """A damaged or missing manifest is an empty one: everything is uploaded once more."""
        try:
            raw = json.loads(data or b"{}")
            return cls({path: Stored(*entry) for path, entry in raw.get("objects", {}).items()})
        except (ValueError, TypeError, AttributeError):
            return cls()

    def dumps(self) -> bytes:
        objects = {p: [s.md5, s.etag, s.headers] for p, s in sorted(self.entries.items())}
        return json.dumps({"format": 1, "objects": objects}, separators=(",", ":")).encode()


def headers_for(path: str) -> dict[str, str]:
    """Content-Type, Cache-Control and, for a pre-compressed copy, Content-Encoding."""
    name = path.rsplit("/", 1)[-1]
    stem, suffix = os.path.splitext(name)
    encoding = _ENCODINGS.get(suffix.lower())
    shown = stem if encoding else name  # foo.css.gz is foo.css, compressed
    headers = {"ContentType": content_type(shown),
               "CacheControl": IMMUTABLE if _HASHED_NAME.search(shown) else cache_control(shown)}
    if encoding:
        headers["ContentEncoding"] = encoding
    return headers


Hashes = dict[str, tuple[Stamp, str]]  # path -> the file's stamp and MD5 when it was hashed


def local_files(output: Path, known: Mapping[str, tuple[Stamp, str]] | None = None
                ) -> list[LocalFile]:
    """Every file of the output folder, hidden ones (temporary files) skipped, sorted.

    A file whose stamp is the one `known` remembers keeps its MD5 without being read:
    a deploy of an unchanged 10,000-article site would otherwise read 750 MB.
    """
    found: list[LocalFile] = []
    for folder, dirs, files in os.walk(output):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") or d == ".well-known")
        for name in sorted(files):
            if name.startswith("."):
                continue
            source = Path(folder, name)
            path = source.relative_to(output).as_posix()
            stamp = stamp_of(os.stat(source))
            md5 = unchanged_key(known or {}, path, stamp)
            if not md5:
                md5 = hashlib.md5(source.read_bytes(), usedforsecurity=False).hexdigest()
            found.append(LocalFile(path, source, stamp[0], md5, headers_for(path), stamp))
    return found


def read_hashes(path: Path) -> Hashes:
    """The hashes of the last deploy from this folder; any doubt gives none."""
    return read_index(path.parent, _HASHES_CONTEXT, name=path.name)


def write_hashes(path: Path, files: Iterable[LocalFile], started_ns: int) -> None:
    write_index(path.parent, _HASHES_CONTEXT, [(f.path, f.stamp, f.md5) for f in files],
                started_ns, name=path.name)


def make_plan(local: Iterable[LocalFile], remote: Mapping[str, str], manifest: Manifest
              ) -> Plan:
    """`remote` maps each path under the prefix to the ETag the bucket lists for it."""
    files = list(local)
    stale = [f for f in files if not _current(f, remote, manifest)]
    have = {f.path for f in files}
    ours = set(manifest.entries)
    return Plan(
        first=tuple(f for f in stale if not is_feed(f.path)),
        feeds=tuple(f for f in stale if is_feed(f.path)),
        remove=tuple(sorted(p for p in ours - have if p in remote)),
        unchanged=len(files) - len(stale),
        foreign=len(set(remote) - ours - have - {MANIFEST}),
    )


def _current(file: LocalFile, remote: Mapping[str, str], manifest: Manifest) -> bool:
    stored = manifest.entries.get(file.path)
    return (stored is not None and stored.md5 == file.md5
            and stored.headers == file.fingerprint and remote.get(file.path) == stored.etag)
