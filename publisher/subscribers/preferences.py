"""What a reader may choose, and the one check every way in uses (page, command, file).

A reader chooses topics (the site's tags, as its `tags/` pages offer them),
a cadence (a digest schedule the operator marked `choosable`), a time zone (an
IANA name) and an hour (0-23). Nothing chosen means what it meant before:
every topic, every digest, the site's zone, the schedule's own time. Anything
else is refused with the choices named, so the reader or the operator sees at
once what would have been accepted.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from publisher.errors import SubscriberError
from publisher.models import Schedule, Subscriber, Tag
from publisher.subscribers.addresses import normalise_address, quoted
from publisher.subscribers.zones import zone_names
from publisher.text import slugify

MAX_TOPICS = 100
_HOUR = re.compile(r"[0-9]{1,2}")  # ASCII digits only: "²" is a digit to str.isdigit


@dataclass(frozen=True, slots=True)
class Cadence:
    """A digest schedule a reader may choose, and the words the page shows for it."""

    name: str
    label: str


@dataclass(frozen=True, slots=True)
class Choices:
    """Everything on offer: the choices the page lists and the checks accept."""

    topics: tuple[Tag, ...] = ()
    cadences: tuple[Cadence, ...] = ()


@dataclass(frozen=True, slots=True)
class Preferences:
    """One reader's choices; () and None mean "no choice made"."""

    topics: tuple[str, ...] = ()
    cadence: str | None = None
    timezone: str | None = None
    hour: int | None = None

    @classmethod
    def of(cls, subscriber: Subscriber) -> Preferences:
        return cls(subscriber.tags, subscriber.cadence, subscriber.timezone, subscriber.hour)


def cadences_of(schedules: Iterable[Schedule]) -> tuple[Cadence, ...]:
    """The digest schedules marked `choosable`, in name order."""
    return tuple(Cadence(s.name, s.label or s.name) for s in sorted(schedules, key=lambda s: s.name)
                 if s.action == "digest" and s.choosable)


def offered_topics(output: Path) -> tuple[Tag, ...]:
    """The topics a site offers: its published tag pages (`tags/<slug>/`), by name.

    The name is read from the tag's JSON Feed title ("Site: Name"); a site
    without tag feeds shows the slug.
    """
    folder = output / "tags"
    if not folder.is_dir():
        return ()
    tags = [Tag(_tag_name(path), path.name) for path in folder.iterdir()
            if path.is_dir() and slugify(path.name) == path.name]
    return tuple(sorted(tags, key=lambda t: (t.name.casefold(), t.slug)))


def _tag_name(folder: Path) -> str:
    feed = folder / "feed.json"
    try:
        return _feed_title(feed, feed.stat().st_mtime_ns) or folder.name
    except OSError:
        return folder.name


@functools.lru_cache(maxsize=512)
def _feed_title(feed: Path, mtime_ns: int) -> str:
    try:
        title = json.loads(feed.read_bytes()).get("title", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return title.rpartition(": ")[2].strip() if isinstance(title, str) else ""


def check_zone(name: str) -> str | None:
    """An IANA zone name as given, None for ""; `SubscriberError` naming close ones."""
    name = name.strip()
    if not name:
        return None
    if name not in _known_zones():
        close = difflib.get_close_matches(name, zone_names(), n=1) if len(name) <= 64 else []
        similar = f"did you mean {close[0]}? " if close else ""
        raise SubscriberError(f"unknown time zone {quoted(name[:80])}",
                              hint=f"{similar}use an IANA name such as Europe/Lisbon, "
                              "America/Chicago or Pacific/Auckland")
    return name


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zone_names())


def check_hour(text: str | int | None) -> int | None:
    """An hour 0-23 (a number or its digits), None for "" or None."""
    if text is None or text == "":
        return None
    value = str(text).strip()
    if not _HOUR.fullmatch(value) or not 0 <= int(value) <= 23:
        raise SubscriberError(f"the hour {quoted(value[:20])} is not one of 0 to 23",
                              hint="give the hour of the day on a 24-hour clock, e.g. 7 or 18")
    return int(value)


def check_cadence(choices: Choices, name: str | None) -> str | None:
    """A choosable schedule's name, None for "" (every digest)."""
    if not name:
        return None
    if name not in {c.name for c in choices.cadences}:
        raise SubscriberError(f"unknown cadence {quoted(name[:80])}",
                              hint=_named("cadences", [c.name for c in choices.cadences]))
    return name


def check_topics(choices: Choices, topics: Iterable[str]) -> tuple[str, ...]:
    """Topics as slugs, each one the site offers; () for none (everything)."""
    offered = {t.slug for t in choices.topics}
    chosen = list(dict.fromkeys(slugify(t) for t in topics if t.strip()))
    unknown = [t for t in chosen if t not in offered]
    if unknown or len(chosen) > MAX_TOPICS:
        what = quoted(unknown[0][:80]) if unknown else f"{len(chosen)} topics"
        raise SubscriberError(f"unknown topic {what}" if unknown else f"too many topics ({what})",
                              hint=_named("topics", sorted(offered)))
    return tuple(chosen)


def choose(choices: Choices, *, topics: Sequence[str], cadence: str, timezone: str,
           hour: str | int | None) -> Preferences:
    """A reader's new choices, every value checked; `SubscriberError` on the first wrong one."""
    return Preferences(check_topics(choices, topics), check_cadence(choices, cadence),
                       check_zone(timezone), check_hour(hour))


def _named(what: str, names: Sequence[str]) -> str:
    if not names:
        return f"this site offers no {what}"
    return f"the {what} on offer are: {', '.join(names)}"


class PreferenceStore(Protocol):
    """What changing a reader's choices asks of the store (`publisher.store.Store`)."""

    def get_subscriber(self, email: str) -> Subscriber | None: ...

    def set_preferences(self, subscriber_id: int, *, tags: Sequence[str], cadence: str | None,
                        timezone: str | None, hour: int | None) -> bool: ...


def change(store: PreferenceStore, email: str, choices: Choices, *,
           topics: Sequence[str] | None = None, cadence: str | None = None,
           timezone: str | None = None, hour: str | None = None) -> Subscriber:
    """Change what is given (None: leave it; "": back to no choice) for the reader at `email`."""
    address = normalise_address(email)
    found = store.get_subscriber(address)
    if found is None:
        raise SubscriberError(f"{address} is not on the list",
                              hint="`publisher subscribers list` shows who is")
    now = Preferences.of(found)
    new = Preferences(
        now.topics if topics is None else check_topics(choices, topics),
        now.cadence if cadence is None else check_cadence(choices, cadence),
        now.timezone if timezone is None else check_zone(timezone),
        now.hour if hour is None else check_hour(hour))
    store.set_preferences(found.id, tags=new.topics, cadence=new.cadence,
                          timezone=new.timezone, hour=new.hour)
    return replace(found, tags=new.topics, cadence=new.cadence, timezone=new.timezone,
                   hour=new.hour)
