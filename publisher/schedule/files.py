"""Read `schedules/*.toml` into validated, frozen `Schedule`s.

Every problem of every file is reported at once, each naming the file, the line
and the key, in the same words as the problems of `publisher.toml`.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from publisher.config import Duration, Settings, key_lines, validate_model
from publisher.errors import ConfigError, Problem
from publisher.mail import is_imap_url
from publisher.models import Schedule

DEFAULT_CATCH_UP = timedelta(hours=6)
DIGEST_ONLY = ("tags", "min_items", "max_items", "choosable", "label", "local")
SCHEDULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100"


class ScheduleFile(BaseModel):
    """One schedule file as written; cross-key rules are checked in `_cross_check`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    action: Literal["build", "digest", "bounces"]
    mailbox: str | None = None  # bounces only: a Maildir folder (read against the site) or
    # an IMAP mailbox, imaps://USER@HOST/FOLDER
    password_env: str | None = None  # bounces from IMAP: the variable with the password
    cron: str | None = None
    every: Duration | None = None
    timezone: str | None = None
    tags: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    min_items: Annotated[int, Field(ge=1)] | None = None
    max_items: Annotated[int, Field(ge=1)] | None = None
    catch_up: Duration = DEFAULT_CATCH_UP
    enabled: bool = True
    deploy: bool = False
    choosable: bool = False  # digest only: readers may pick it as their cadence
    label: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    local: bool = False  # digest only: at its cron time in each reader's zone

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not SCHEDULE_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a schedule name: use {_NAME_RULE} characters")
        return value

    @field_validator("mailbox")
    @classmethod
    def _mailbox(cls, value: str | None) -> str | None:
        if value is not None and is_imap_url(value):
            from publisher.mail.imap import parse_imap_url

            parse_imap_url(value)  # its ValueError says what is wrong
        return value

    @field_validator("password_env")
    @classmethod
    def _password_env(cls, value: str | None) -> str | None:
        if value is not None and not _VARIABLE.fullmatch(value):
            raise ValueError(f"{value!r} is not the name of an environment variable: use "
                             "letters, digits and '_', such as PUBLISHER_IMAP_PASSWORD")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from publisher.schedule.times import parse_cron  # APScheduler: only for a cron

            parse_cron(" ".join(value.split()))
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone {value!r}; use an IANA name such as "
                                 "'Europe/Lisbon' or 'UTC'") from None
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any("," in tag for tag in value):
            raise ValueError("a tag cannot contain a comma; write each tag as its own string")
        return tuple(tag.strip() for tag in value)


def load_schedules(settings: Settings) -> tuple[Schedule, ...]:
    """Every schedule of the site, sorted by name; `ConfigError` lists every problem."""
    folder = settings.path(settings.schedules_dir)
    if not folder.is_dir():
        return ()
    schedules: list[Schedule] = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.toml")):
        label = f"{settings.schedules_dir.rstrip('/')}/{path.name}"
        try:
            schedules.append(read_schedule(path, label, settings))
        except ConfigError as exc:
            problems += exc.problems
    problems += _duplicates(schedules)
    if problems:
        raise ConfigError(problems)
    return tuple(sorted(schedules, key=lambda s: s.name))


def read_schedule(path: Path, label: str, settings: Settings) -> Schedule:
    """One file: TOML, then keys and values, then the rules that join keys."""
    text = _read_text(path, label)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ConfigError([Problem(f"not valid TOML: {exc}", path=label,
                                   line=int(match.group(1)) if match else None,
                                   hint="see https://toml.io for the syntax")]) from None
    problems = _cross_check(data, label, text)
    if data.get("deploy") is True and settings.deploy.target is None:
        problems.append(Problem("there is nowhere to deploy to", path=label,
                                line=key_lines(text).get("deploy"), key="deploy",
                                hint='set [deploy] target = "s3://bucket/folder" in '
                                "publisher.toml, or remove this line"))
    if "name" not in data and not SCHEDULE_NAME.fullmatch(path.stem):
        problems.append(Problem(f"the file name {path.stem!r} cannot be a schedule name",
                                path=label, key="name",
                                hint=f'add name = "..." ({_NAME_RULE} characters)'))
    model: ScheduleFile | None = None
    try:
        model = validate_model(ScheduleFile, data, label, text)
    except ConfigError as exc:
        problems = exc.problems + problems
    if problems or model is None:
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0))
    return _to_schedule(model, path.stem, label, settings)


def _read_text(path: Path, label: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
                                   path=label, hint="save the file as UTF-8")]) from None
    except OSError as exc:
        raise ConfigError([Problem(f"cannot be read: {exc.strerror or exc}",
                                   path=label)]) from None


def _cross_check(data: dict[str, Any], label: str, text: str) -> list[Problem]:
    """The rules pydantic sees key by key: one timetable, and digest-only keys."""
    lines = key_lines(text)
    problems = []
    if "cron" in data and "every" in data:
        problems.append(Problem("cannot be set together with `cron`", path=label,
                                line=lines.get("every"), key="every",
                                hint="keep either cron (times of day) or every (an interval)"))
    elif "cron" not in data and "every" not in data:
        problems.append(Problem("a schedule needs a timetable: `cron` or `every`", path=label,
                                key="cron", hint='add cron = "0 7 * * mon-fri" or '
                                'every = "15m"'))
    if data.get("action") in ("build", "bounces"):
        problems += [Problem("only a digest schedule takes this key", path=label,
                             line=lines.get(key), key=key,
                             hint='remove it, or set action = "digest"')
                     for key in DIGEST_ONLY if key in data]
    if data.get("action") == "bounces" and "mailbox" not in data:
        problems.append(Problem("a bounces schedule needs the mailbox to read", path=label,
                                key="mailbox", hint='add mailbox = "mail/bounces" (a Maildir '
                                "folder that the mail server delivers the returned mail to) "
                                'or mailbox = "imaps://USER@HOST/INBOX"'))
    if "password_env" in data and not is_imap_url(str(data.get("mailbox", ""))):
        problems.append(Problem("only a bounces schedule reading an IMAP mailbox takes this "
                                "key", path=label, line=lines.get("password_env"),
                                key="password_env", hint="remove it, or set mailbox = "
                                '"imaps://USER@HOST/INBOX"'))
    if "label" in data and data.get("choosable") is not True and data.get("action") == "digest":
        problems.append(Problem("only a schedule readers may choose has a label", path=label,
                                line=lines.get("label"), key="label",
                                hint="add choosable = true, or remove the label"))
    if data.get("local") is True and "every" in data and data.get("action") == "digest":
        problems.append(Problem("a local schedule needs `cron`: `every` counts absolute time, "
                                "the same in every zone", path=label, line=lines.get("local"),
                                key="local", hint='write the time of day, e.g. cron = '
                                '"0 7 * * *", or remove local'))
    if "mailbox" in data and data.get("action") != "bounces":
        problems.append(Problem("only a bounces schedule takes this key", path=label,
                                line=lines.get("mailbox"), key="mailbox",
                                hint='remove it, or set action = "bounces"'))
    return problems


def _to_schedule(model: ScheduleFile, stem: str, label: str, settings: Settings) -> Schedule:
    digest = model.action == "digest"
    return Schedule(
        name=model.name or stem,
        action=model.action,
        timezone=model.timezone or settings.timezone,
        cron=" ".join(model.cron.split()) if model.cron is not None else None,
        every=model.every,
        catch_up=model.catch_up,
        tags=model.tags,
        min_items=(model.min_items or settings.email.min_items) if digest else None,
        max_items=(model.max_items or settings.email.max_items) if digest else None,
        enabled=model.enabled,
        deploy=model.deploy,
        source=label,
        mailbox=_mailbox(model.mailbox, settings),
        password_env=model.password_env,
        choosable=model.choosable,
        local=model.local,
        label=(model.label or "").strip() or (model.name or stem) if model.choosable else "",
    )


def _mailbox(written: str | None, settings: Settings) -> str | None:
    """An IMAP URL as written; a folder path made absolute against the site."""
    if written is None or is_imap_url(written):
        return written
    return str(settings.path(written))


def _duplicates(schedules: list[Schedule]) -> list[Problem]:
    first: dict[str, Schedule] = {}
    problems = []
    for schedule in schedules:
        other = first.setdefault(schedule.name, schedule)
        if other is not schedule:
            problems.append(Problem(
                f"the name {schedule.name!r} is already used by {other.source}",
                path=schedule.source, key="name",
                hint="give each schedule its own name; the store keeps its state by name"))
    return problems
