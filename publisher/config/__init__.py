"""Read `publisher.toml` into one validated, frozen `Settings`.

Validation happens once, here: every later stage can trust its settings. All
problems in the file are reported together, each naming the file, the key and,
where the key is written in the file, its line.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from pydantic import BaseModel, ConfigDict, Field, field_validator

from publisher import CONFIG_NAME, SITE_ENV, find_site_root, state_folder
from publisher.config.problems import key_lines, toml_error_line, validate_model
from publisher.config.values import (
    Duration,
    Folder,
    HttpUrl,
    Text,
    address,
    placeholders,
    refuse,
    require_http_url,
)
from publisher.errors import ConfigError, Problem
from publisher.models import Author, Site
from publisher.text import is_plain_address, plural

__all__ = ["CONFIG_NAME", "SITE_ENV", "Duration", "Settings", "find_site_root", "input_folders",
           "key_lines", "load_settings", "require_content_folder", "validate_model"]

# A bucket name as S3 allows it (3-63 of a-z, 0-9, ".", "-"), then an optional key prefix.
S3_TARGET = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/([^\x00-\x1f]*))?$")
SIGNING_KEY_BYTES = 32  # what `secrets.token_urlsafe(32)` gives, and more than HMAC-SHA1 needs


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthorSettings(_Section):
    name: Annotated[Text, Field(min_length=1)]
    email: str | None = None
    url: HttpUrl | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else address(value)


class FeedSettings(_Section):
    items: Annotated[int, Field(ge=1, le=10_000)] = 50
    content: Literal["full", "summary"] = "full"
    tag_feeds: bool = True
    hubs: tuple[HttpUrl, ...] = ()



class PageSettings(_Section):
    per_page: Annotated[int, Field(ge=1, le=1000)] = 10  # articles per index or topic page


class EmailSettings(_Section):
    from_address: str = "digest@example.org"
    from_name: Text = ""
    reply_to: str | None = None
    # The envelope sender of every digest, made per message: bounces+TOKEN@... (VERP)
    bounce_address: str | None = None
    subject: str = "{{ site.title }}: {{ digest.title }}"
    unsubscribe_mailto: str | None = None
    min_items: Annotated[int, Field(ge=1)] = 1
    max_items: Annotated[int, Field(ge=1)] = 30
    period: Duration = timedelta(days=7)  # how far back the very first digest reaches

    @field_validator("from_address", "reply_to", "bounce_address")
    @classmethod
    def _addresses(cls, value: str | None) -> str | None:
        return None if value is None else address(value)

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        hint = "e.g. '{{ site.title }}: {{ digest.title }}'"
        if not value.strip():
            raise refuse("must not be empty: every digest needs a subject", hint)
        try:
            jinja2.Environment(autoescape=False).parse(value)  # noqa: S701 - a header, not HTML
        except jinja2.TemplateSyntaxError as exc:
            raise refuse(f"the subject template is broken: {exc.message}", hint) from None
        return value

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str | None) -> str | None:
        if value is None:
            return None
        mailbox, _, query = value.strip().removeprefix("mailto:").partition("?")
        if re.search(r"[\s<>]", query) or not is_plain_address(mailbox):
            raise refuse(f"{value!r} is not a mailto address",
                         "write an address such as unsubscribe@example.org")
        return value


class DeliverySettings(_Section):
    transport: Literal["outbox", "smtp"] = "outbox"
    outbox_dir: Folder = "outbox"
    host: str = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str = "PUBLISHER_SMTP_PASSWORD"  # noqa: S105 - a variable's name
    timeout: Annotated[float, Field(gt=0)] = 30.0
    rate: Annotated[float, Field(ge=0)] = 0.0  # messages per second, 0 = as fast as possible
    concurrency: Annotated[int, Field(ge=1, le=64)] = 2
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    retry_base: Annotated[float, Field(ge=0)] = 60.0  # seconds before the first retry
    max_consecutive_failures: Annotated[int, Field(ge=1)] = 25  # refusals in a row: stop
    retry_uncertain: bool = True  # resend, once, a message whose answer never came
    throttle_pause: Annotated[float, Field(ge=0, le=600)] = 10.0  # seconds, doubling
    soft_bounce_digests: Annotated[int, Field(ge=0)] = 5  # give-ups in a row that suppress
    soft_bounce_days: Annotated[int, Field(ge=0)] = 30  # ... and over at least this long


class StoreSettings(_Section):
    url: str = "sqlite:///publisher.db"
    # A database URL with a password is a secret: when this variable is set, it wins.
    url_env: str = "PUBLISHER_STORE_URL"


class QueueSettings(_Section):
    """With this section, `digest send` queues chunks that `publisher worker`s send."""

    chunk_size: Annotated[int, Field(ge=10, le=10_000)] = 500  # readers per job
    heartbeat: Annotated[float, Field(gt=0, le=300)] = 10.0  # seconds between signs of life
    # seconds without a sign of life after which a worker's job goes back to the queue
    stalled_after: Annotated[float, Field(gt=0, le=3600)] = 30.0


class DeploySettings(_Section):
    # Where `publisher deploy` uploads the output: "s3://bucket" or "s3://bucket/prefix".
    target: str | None = None
    endpoint_url: str | None = None  # an S3-compatible service other than AWS (MinIO, R2, …)
    region: str | None = None  # default: the AWS configuration's (AWS_DEFAULT_REGION, …)

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not S3_TARGET.match(value):
            raise refuse(f"{value!r} is not an S3 location",
                          "write s3://bucket or s3://bucket/folder")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            require_http_url(value)
        return value


class WebSettings(_Section):
    # Where `publisher serve` is reachable (subscribe, confirm, unsubscribe); default: base_url.
    url: HttpUrl | None = None
    secret_env: str = "PUBLISHER_SECRET_KEY"  # noqa: S105 - a variable's name
    confirm_ttl_hours: Annotated[int, Field(ge=1)] = 72
    preferences_ttl_days: Annotated[int, Field(ge=1)] = 90  # how long a preference link works
    subscribe_per_hour: Annotated[int, Field(ge=1)] = 10
    resend_after: Duration = timedelta(hours=1)  # at most one subscribe message per address
    # Reverse proxies whose X-Forwarded-For names the client: addresses or networks.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise refuse(f"{value!r} is not an IP address or network",
                              "write e.g. '127.0.0.1', '::1' or '10.0.0.0/8'") from None
        return values


class Settings(_Section):
    """The whole site configuration; `root` is the folder holding `publisher.toml`."""

    root: Path = Path()
    title: Annotated[Text, Field(min_length=1)]
    description: Text = ""
    base_url: str
    language: str = "en"
    timezone: str = "UTC"
    author: AuthorSettings
    postal_address: Text = ""
    permalink: str = "{year}/{month}/{slug}/"
    content_dir: Folder = "content"
    output_dir: Folder = "public"
    static_dir: Folder = "static"
    templates_dir: Folder = "templates"
    schedules_dir: Folder = "schedules"
    digests_dir: Folder = "digests"  # the web copies of sent digests, an input of the archive
    feeds: FeedSettings = FeedSettings()
    pages: PageSettings = PageSettings()
    email: EmailSettings = EmailSettings()
    delivery: DeliverySettings = DeliverySettings()
    store: StoreSettings = StoreSettings()
    web: WebSettings = WebSettings()
    deploy: DeploySettings = DeploySettings()
    queue: QueueSettings | None = None  # a pool of workers; absent: one process sends

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        require_http_url(value)
        if "?" in value or "#" in value:
            raise ValueError(f"{value!r} has a query or a fragment; articles' URLs are made "
                             "by adding their path to it, e.g. 'https://example.org/news/'")
        return value if value.endswith("/") else value + "/"

    @property
    def service_url(self) -> str:
        """The base URL of the web service, ending in "/"."""
        url = self.web.url or self.base_url
        return url if url.endswith("/") else url + "/"

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", value):
            raise ValueError(f"{value!r} is not a language tag such as 'en' or 'pt-BR'")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name such as 'Europe/Lisbon' or 'UTC'"
            ) from None
        return value

    @field_validator("permalink")
    @classmethod
    def _permalink(cls, value: str) -> str:
        names = placeholders(value)
        if "slug" not in names:
            raise ValueError("must contain {slug}, e.g. '{year}/{month}/{slug}/'")
        if not value.endswith("/") or value.startswith("/"):
            raise ValueError("must be a folder path relative to base_url, ending in '/'")
        sample = value.format(year="2026", month="11", day="03", slug="s")
        if any(part in ("", ".", "..") for part in sample[:-1].split("/")):
            raise ValueError(f"{value!r} has an empty, '.' or '..' folder; every folder of an "
                             "article's path must have a name, e.g. '{year}/{slug}/'")
        return value

    # Paths are resolved against the site root so that commands work from anywhere.
    def path(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    @property
    def content_path(self) -> Path:
        return self.path(self.content_dir)

    @property
    def output_path(self) -> Path:
        return self.path(self.output_dir)

    @property
    def state_path(self) -> Path:
        """Where the build keeps its cache and manifest, out of the published folder."""
        return state_folder(self.root)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def store_url(self) -> str:
        """The database URL (the environment's, if set), a relative SQLite path read against
        the site root."""
        url = os.environ.get(self.store.url_env) or self.store.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix:
            return prefix + str(self.root.resolve() / url[len(prefix):])
        return url

    @property
    def store_source(self) -> str:
        """Where `store_url` comes from, as a hint should name it."""
        if os.environ.get(self.store.url_env):
            return f"the environment variable {self.store.url_env}"
        return "[store] url in publisher.toml"

    def site(self) -> Site:
        a = self.author
        return Site(
            title=self.title,
            description=self.description,
            base_url=self.base_url,
            language=self.language,
            author=Author(a.name, a.email, a.url),
            timezone=self.timezone,
            postal_address=self.postal_address,
            hubs=self.feeds.hubs,
        )

    def secret(self, env_name: str, purpose: str) -> str:
        """Read a secret from the environment; secrets never live in the config file."""
        value = os.environ.get(env_name, "")
        if not value:
            raise ConfigError(
                [
                    Problem(
                        f"the environment variable {env_name} is not set",
                        hint=f"export {env_name}=... ({purpose}); secrets are never read "
                        "from publisher.toml",
                    )
                ]
            )
        return value

    def signing_key(self, purpose: str) -> str:
        """The secret that signs subscribers' links: from the environment, and long enough
        that it cannot be guessed."""
        env = self.web.secret_env
        value = self.secret(env, purpose)
        size = len(value.encode())
        if size < SIGNING_KEY_BYTES:
            raise ConfigError([Problem(
                f"the environment variable {env} holds {plural(size, 'byte')}; a key that "
                f"signs links needs at least {SIGNING_KEY_BYTES}",
                hint=f"generate one: export {env}=\"$(python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')\"; links signed with the old key stop "
                "working")])
        return value


def load_settings(root: Path) -> Settings:
    """Read and validate `root/publisher.toml`; raise `ConfigError` listing every problem."""
    path = root / CONFIG_NAME
    label = str(path) if root != Path() else CONFIG_NAME
    if not path.is_file():
        raise ConfigError(
            [
                Problem(
                    "no configuration file here",
                    path=label,
                    hint="run the command in a site folder, pass --site DIR, or create one "
                    "with `publisher init DIR`",
                )
            ]
        )
    raw_bytes = path.read_bytes()
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
                                   path=label, hint="save the file as UTF-8")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = toml_error_line(str(exc))
        raise ConfigError([Problem(f"not valid TOML: {exc}", path=label, line=line,
                                   hint="see https://toml.io for the syntax")]) from None
    settings = validate_model(Settings, {**data, "root": root}, label, text)
    problems = folder_problems(settings, label, key_lines(text))
    if problems:
        raise ConfigError(problems)
    return settings


# The folders a build reads or keeps: the output folder may be none of them, hold none of
# them and lie inside none of them, or a build would write over its own inputs.
_INPUT_FOLDERS = ("content_dir", "templates_dir", "static_dir", "digests_dir", "schedules_dir")


def input_folders(settings: Settings) -> dict[str, Path]:
    """Every folder a build reads, by its key in the configuration."""
    return {key: settings.path(getattr(settings, key)) for key in _INPUT_FOLDERS}


def folder_problems(settings: Settings, label: str, lines: dict[str, int]) -> list[Problem]:
    """What in the folder settings would write the site over its own inputs.

    Paths are resolved (links followed) before they are compared.
    """
    problems: list[Problem] = []
    output = settings.output_path
    root = settings.root.resolve()
    if output == root or output in root.parents:
        return [*problems, _output_problem("the site folder itself" if output == root else
                                           "a folder that holds the site", label, lines)]
    folders = [*input_folders(settings).items(), ("the state folder .publisher",
                                                  settings.state_path)]
    for key, folder in folders:
        if output == folder or output in folder.parents or folder in output.parents:
            where = "is" if output == folder else "lies inside" if folder in output.parents \
                else "holds"
            problems.append(_output_problem(f"{where} {key} ({str(folder)!r})", label, lines,
                                            relation=True))
    return problems


def require_content_folder(settings: Settings) -> None:
    """Refuse to read articles from a folder that is not there (a typo, an unmounted volume):
    a build would take it for a site without articles and remove every article page."""
    content = settings.content_path
    if content.is_dir():
        return
    path = settings.root / CONFIG_NAME
    try:
        line = key_lines(path.read_text("utf-8-sig")).get("content_dir")
    except (OSError, UnicodeDecodeError):
        line = None
    what = "is not a folder" if content.exists() else "does not exist"
    raise ConfigError([Problem(
        f"the content folder {settings.content_dir!r} {what} ({content})",
        path=str(path) if settings.root != Path() else CONFIG_NAME, line=line, key="content_dir",
        hint="create it, or correct content_dir; a build from a missing folder would remove "
        "every article page")])


def _output_problem(what: str, label: str, lines: dict[str, int], *, relation: bool = False
                    ) -> Problem:
    message = f"the output folder {what}" if relation else f"the output folder is {what}"
    return Problem(message, path=label, line=lines.get("output_dir"), key="output_dir",
                   hint="a build replaces what is in its output folder: give it a folder of its "
                   "own, such as \"public\"")


