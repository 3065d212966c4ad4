"""Read `publisher.toml` into one validated, frozen `Settings`.

Validation happens once, here: every later stage can trust its settings. All
problems in the file are reported together, each naming the file, the key and,
where the key is written in the file, its line.
"""

from __future__ import annotations

import difflib
import os
import re
import string
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from publisher.errors import ConfigError, Problem
from publisher.models import Author, Site
from publisher.text import (
    character_name,
    is_plain_address,
    parse_duration,
    plural,
    url_problem,
    xml_unsafe,
)

M = TypeVar("M", bound=BaseModel)


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be a quoted duration such as '7d', not {value!r}")
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
"""A duration as written in TOML ('15m', '6h', '7d', '2w'), checked and read at load."""


def _text(value: object) -> object:
    if isinstance(value, str) and (bad := xml_unsafe(value)):
        raise _refuse(f"holds {character_name(bad)}, which no feed or page can carry",
                      "delete it: it is invisible in most editors")
    return value


def _folder(value: object) -> object:
    if isinstance(value, str) and (not value.strip() or re.search(r"[\x00-\x1f\x7f]", value)):
        raise _refuse(f"{value!r} is not a folder name",
                      "write a folder relative to the site, such as \"public\"")
    return value


Text = Annotated[str, AfterValidator(_text)]
"""Text shown in feeds, pages or mail: nothing XML 1.0 cannot carry."""
Folder = Annotated[str, AfterValidator(_folder)]
"""A folder of the site, relative to it (or absolute)."""

CONFIG_NAME = "publisher.toml"
SIGNING_KEY_BYTES = 32  # what `secrets.token_urlsafe(32)` gives, and more than HMAC-SHA1 needs
SITE_ENV = "PUBLISHER_SITE"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthorSettings(_Section):
    name: Annotated[Text, Field(min_length=1)]
    email: str | None = None
    url: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else _address(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            _require_http_url(value)
        return value


class FeedSettings(_Section):
    items: Annotated[int, Field(ge=1, le=10_000)] = 50
    content: Literal["full", "summary"] = "full"
    tag_feeds: bool = True
    hubs: tuple[str, ...] = ()

    @field_validator("hubs")
    @classmethod
    def _hubs_are_urls(cls, hubs: tuple[str, ...]) -> tuple[str, ...]:
        for hub in hubs:
            _require_http_url(hub)
        return hubs


class PageSettings(_Section):
    per_page: Annotated[int, Field(ge=1, le=1000)] = 10  # articles per index or topic page


class EmailSettings(_Section):
    from_address: str = "digest@example.org"
    from_name: Text = ""
    reply_to: str | None = None
    subject: str = "{{ site.title }}: {{ digest.title }}"
    unsubscribe_mailto: str | None = None
    min_items: Annotated[int, Field(ge=1)] = 1
    max_items: Annotated[int, Field(ge=1)] = 30
    period: Duration = timedelta(days=7)  # how far back the very first digest reaches

    @field_validator("from_address", "reply_to")
    @classmethod
    def _addresses(cls, value: str | None) -> str | None:
        return None if value is None else _address(value)

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        hint = "e.g. '{{ site.title }}: {{ digest.title }}'"
        if not value.strip():
            raise _refuse("must not be empty: every digest needs a subject", hint)
        try:
            jinja2.Environment(autoescape=False).parse(value)  # noqa: S701 - a header, not HTML
        except jinja2.TemplateSyntaxError as exc:
            raise _refuse(f"the subject template is broken: {exc.message}", hint) from None
        return value

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str | None) -> str | None:
        if value is None:
            return None
        address, _, query = value.strip().removeprefix("mailto:").partition("?")
        if re.search(r"[\s<>]", query) or not is_plain_address(address):
            raise _refuse(f"{value!r} is not a mailto address",
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
    max_consecutive_failures: Annotated[int, Field(ge=1)] = 25


class StoreSettings(_Section):
    url: str = "sqlite:///publisher.db"
    # A database URL with a password is a secret: when this variable is set, it wins.
    url_env: str = "PUBLISHER_STORE_URL"


class WebSettings(_Section):
    # Where `publisher serve` is reachable (subscribe, confirm, unsubscribe); default: base_url.
    url: str | None = None
    secret_env: str = "PUBLISHER_SECRET_KEY"  # noqa: S105 - a variable's name
    confirm_ttl_hours: Annotated[int, Field(ge=1)] = 72
    subscribe_per_hour: Annotated[int, Field(ge=1)] = 10

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            _require_http_url(value)
        return value


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

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        _require_http_url(value)
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
        names = _placeholders(value)
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
        return self.root.resolve() / ".publisher"

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


def _refuse(message: str, hint: str) -> PydanticCustomError:
    """A validation error that carries its hint to the `Problem` it becomes."""
    return PydanticCustomError("hinted", "{message}", {"message": message, "hint": hint})


def _address(value: str) -> str:
    """The one check of an address in the configuration: plain, and safe in a header."""
    if not is_plain_address(value.strip()):
        raise _refuse(f"{value!r} is not an email address",
                      "write a plain address such as digest@example.org")
    return value.strip()


def _require_http_url(value: str) -> None:
    reason = url_problem(value)
    if reason:
        why = "" if reason == "it is not an absolute http(s) URL" else f" ({reason})"
        raise ValueError(f"{value!r} is not an absolute http(s) URL{why}, e.g. "
                         "'https://example.org/'")


_PLACEHOLDERS = ("year", "month", "day", "slug")


def _placeholders(permalink: str) -> set[str]:
    """The placeholders of a permalink, each a bare `{name}` (no format, no conversion)."""
    try:
        parsed = list(string.Formatter().parse(permalink))
    except ValueError as exc:
        raise ValueError(f"{permalink!r} is not a permalink: {exc}; write a literal brace "
                         "nowhere, e.g. '{year}/{month}/{slug}/'") from None
    names = set()
    for literal, name, spec, conversion in parsed:
        if re.search(r"[^A-Za-z0-9._~/-]", literal):
            raise ValueError(f"{permalink!r}: the text between placeholders may only hold "
                             "letters, digits, '.', '_', '~', '-' and '/'")
        if name is None:
            continue
        if name not in _PLACEHOLDERS or spec or conversion:
            raise ValueError(f"unknown placeholder {{{name}{'!' + conversion if conversion else ''}"
                             f"{':' + spec if spec else ''}}}; use {{year}}, {{month}}, {{day}} "
                             "and {slug}")
        names.add(name)
    return names


def find_site_root(start: Path | None = None) -> Path:
    """The folder to work in: `$PUBLISHER_SITE`, else the given or current folder."""
    if start is not None:
        return start
    env = os.environ.get(SITE_ENV)
    return Path(env) if env else Path()


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
        line = _toml_error_line(str(exc))
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
    folders = [(key, settings.path(getattr(settings, key))) for key in _INPUT_FOLDERS]
    for key, folder in [*folders, ("the state folder .publisher", settings.state_path)]:
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


def validate_model(model: type[M], data: dict[str, Any], label: str, text: str) -> M:
    """Validate `data` with a pydantic model, turning its errors into located `Problem`s."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = key_lines(text)
        problems = [_problem_from(err, model, label, lines) for err in exc.errors()]
        raise ConfigError(problems) from None


def _problem_from(err: Any, model: type[BaseModel], label: str, lines: dict[str, int]) -> Problem:
    loc = [str(part) for part in err["loc"]]
    key = ".".join(loc)
    line = lines.get(key) or lines.get(".".join(loc[:-1]))
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return Problem("unknown key", path=label, line=line, key=key, hint=hint)
    if kind == "missing":
        table = _is_table(model, loc)
        return Problem(f"required {'table' if table else 'key'} is missing", path=label,
                       line=line, key=key, hint=_missing_hint(model, loc) if table
                       else f"add `{loc[-1]} = ...`")
    given = (err.get("ctx") or {}).get("hint")
    return Problem(_message(err), path=label, line=line, key=key,
                   hint=str(given) if given else None)


def _message(err: Any) -> str:
    """pydantic's message, said the way a person editing a TOML file thinks of it."""
    ctx = err.get("ctx") or {}
    simple = {
        "string_too_short": "must not be empty",
        "too_short": "must not be empty",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be more than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "tuple_type": "must be a list, e.g. [\"a\", \"b\"]",
        "list_type": "must be a list, e.g. [\"a\", \"b\"]",
        "float_type": "must be a number",
        "string_too_long": f"must be at most {ctx.get('max_length')} characters",
        "float_parsing": "must be a number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "string_type": "must be a quoted string",
        "literal_error": f"must be {ctx.get('expected')}",
        "string_pattern_mismatch": "is not in the expected format",
        "model_type": "must be a table of keys",
    }
    if err["type"] in simple:
        return simple[err["type"]]
    if err["type"] == "hinted":
        return str(ctx["message"])
    message = str(err["msg"]).removeprefix("Value error, ")
    return message[0].lower() + message[1:]


def _is_table(model: type[BaseModel], loc: list[str]) -> bool:
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return False
        current = field.annotation
    return isinstance(current, type) and issubclass(current, BaseModel)


def _missing_hint(model: type[BaseModel], loc: list[str]) -> str:
    required = [k for k, f in _table_fields(model, loc).items() if f.is_required()]
    keys = " and ".join(f'{k} = "..."' for k in required)
    return f"add a table [{'.'.join(loc)}]" + (f" with {keys}" if keys else "")


def _table_fields(model: type[BaseModel], loc: list[str]) -> dict[str, Any]:
    current: Any = model
    for part in loc:
        current = current.model_fields[part].annotation
    return dict(current.model_fields)


def _known_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return sorted(k for k in getattr(current, "model_fields", {}) if k != "root")


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s\"]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def key_lines(text: str) -> dict[str, int]:
    """Map each dotted key written in a TOML text to its line number (1-based)."""
    found: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = header.group(1).replace(" ", "").replace('"', "")
            found.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            found.setdefault(f"{table}.{key.group(1)}" if table else key.group(1), number)
    return found


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None
