"""A deploy from start to end: list, plan, upload in two phases, remove, remember.

The manifest is saved after each phase, so a deploy stopped halfway (a lost
connection, Ctrl-C) loses nothing: the next one uploads only what is still
missing, then removes what the site no longer has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from publisher.content.stamps import now_ns
from publisher.deploy.plan import (
    MANIFEST,
    LocalFile,
    Manifest,
    Stored,
    local_files,
    make_plan,
    read_hashes,
    write_hashes,
)
from publisher.deploy.s3 import Bucket, location
from publisher.errors import DeployError

WORKERS = 8  # uploads in flight: each waits mostly on the network
Progress = Callable[[LocalFile], None]
"""Told of each object once the bucket has it."""


@dataclass(frozen=True, slots=True)
class DeployReport:
    target: str
    uploaded: int
    uploaded_bytes: int
    unchanged: int
    removed: int
    foreign: int  # objects under the prefix that no deploy made, left alone


def deploy(output: Path, target: str, *, endpoint_url: str | None = None,
           region: str | None = None, progress: Progress | None = None,
           hashes: Path | None = None) -> DeployReport:
    """Make the bucket hold exactly what `output` holds, uploading only what changed.

    `hashes` is a file where the local files' MD5s are kept between deploys.
    """
    if not output.is_dir():
        raise DeployError("there is nothing to deploy yet", path=output,
                          hint="run `publisher build` first")
    where = location(target)
    bucket = Bucket(where, endpoint_url=endpoint_url, region=region)
    remote = bucket.listing()
    manifest = Manifest.parse(bucket.read(MANIFEST) if MANIFEST in remote else None)
    started = now_ns()
    files = local_files(output, read_hashes(hashes) if hashes else None)
    if hashes:
        write_hashes(hashes, files, started)
    plan = make_plan(files, remote, manifest)
    for phase in (plan.first, plan.feeds):
        if not phase:
            continue
        try:
            _upload(bucket, phase, manifest, progress)
        finally:  # what went up is remembered even when the phase stopped halfway
            _remember(bucket, manifest)
    if plan.remove:
        bucket.delete(list(plan.remove))
        for path in plan.remove:
            manifest.entries.pop(path, None)
        _remember(bucket, manifest)
    return DeployReport(where.url, len(plan.uploads), sum(f.size for f in plan.uploads),
                        plan.unchanged, len(plan.remove), plan.foreign)


def _upload(bucket: Bucket, files: Sequence[LocalFile], manifest: Manifest,
            progress: Progress | None) -> None:
    def one(file: LocalFile) -> None:
        etag = bucket.put(file.path, file.source.read_bytes(), dict(file.headers))
        manifest.entries[file.path] = Stored(file.md5, etag, file.fingerprint)
        if progress is not None:
            progress(file)

    if not files:
        return
    with ThreadPoolExecutor(min(WORKERS, len(files))) as pool:
        futures = [pool.submit(one, f) for f in files]
        try:
            for done in futures:
                done.result()
        except BaseException:  # the first failure stops the deploy: nothing new starts
            for waiting in futures:
                waiting.cancel()
            raise


def _remember(bucket: Bucket, manifest: Manifest) -> None:
    bucket.put(MANIFEST, manifest.dumps(), {"ContentType": "application/json",
                                            "CacheControl": "no-store"})
