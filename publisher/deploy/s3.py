"""boto3, and its quirks, in one place: list, put and delete objects under a prefix.

Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, a profile, an instance role), never from publisher.toml.
Every failure a person can fix (no credentials, no such bucket, access denied, an
endpoint that does not answer) becomes a `DeployError` saying what to check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from publisher.errors import DeployError

CREDENTIALS_HINT = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the "
                    "environment; secrets are never read from publisher.toml")


@dataclass(frozen=True, slots=True)
class Location:
    bucket: str
    prefix: str  # "" or "folder/", always ending in "/"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, path: str) -> str:
        return self.prefix + path


def location(target: str) -> Location:
    """`s3://bucket/folder` as a bucket and a key prefix."""
    bucket, _, prefix = target.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    return Location(bucket, prefix + "/" if prefix else "")


class Bucket:
    """One bucket and prefix, reached through one boto3 client (safe to share by threads)."""

    def __init__(self, where: Location, *, endpoint_url: str | None = None,
                 region: str | None = None) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise DeployError("uploading to S3 needs boto3, which is not installed",
                              hint="install the s3 extra of this project, or pip install "
                              "boto3") from None

        self.where = where
        session = boto3.session.Session()  # the environment as it is now, not as first seen
        self._client: Any = session.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"},
                          max_pool_connections=16))

    def listing(self) -> dict[str, str]:
        """Every object under the prefix: its path below the prefix, and its ETag."""
        found: dict[str, str] = {}
        with _explained(self.where):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.where.bucket, Prefix=self.where.prefix)
            for page in pages:
                for item in page.get("Contents", ()):
                    found[item["Key"][len(self.where.prefix):]] = item["ETag"]
        return found

    def read(self, path: str) -> bytes | None:
        with _explained(self.where):
            try:
                answer = self._client.get_object(Bucket=self.where.bucket,
                                                 Key=self.where.key(path))
            except self._client.exceptions.NoSuchKey:
                return None
            data: bytes = answer["Body"].read()
            return data

    def put(self, path: str, body: bytes, headers: dict[str, str]) -> str:
        """Store one object; the ETag the bucket gave it."""
        with _explained(self.where):
            answer = self._client.put_object(Bucket=self.where.bucket,
                                             Key=self.where.key(path), Body=body, **headers)
            return str(answer["ETag"])

    def delete(self, paths: list[str]) -> None:
        for batch in _batches(paths, 1000):  # the most one request may name
            with _explained(self.where):
                answer = self._client.delete_objects(Bucket=self.where.bucket, Delete={
                    "Objects": [{"Key": self.where.key(p)} for p in batch], "Quiet": True})
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise DeployError(f"the bucket refused to remove {first.get('Key')}: "
                                  f"{first.get('Code')} {first.get('Message', '')}".rstrip(),
                                  hint="check that the credentials may delete objects")


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _explained:
    """Turns botocore's errors into a `DeployError` that says what to check."""

    def __init__(self, where: Location) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if exc is None:
            return
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        where = self.where.url
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            raise DeployError(f"no credentials to reach {where}", hint=CREDENTIALS_HINT) from None
        if isinstance(exc, EndpointConnectionError):
            raise DeployError(f"cannot reach the storage service: {exc}",
                              hint="check [deploy] endpoint_url and region in publisher.toml, "
                              "and the network") from None
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            raise DeployError(f"{where}: {code} {message}".rstrip(), hint=_hint(code)) from None
        if isinstance(exc, BotoCoreError):
            raise DeployError(f"{where}: {exc}", hint="check [deploy] in publisher.toml") from None


def _hint(code: str) -> str:
    if code == "NoSuchBucket":
        return "create the bucket, or correct [deploy] target in publisher.toml"
    if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"):
        return "check the credentials in the environment and what they may do in this bucket"
    return "check [deploy] target, endpoint_url and region in publisher.toml"
