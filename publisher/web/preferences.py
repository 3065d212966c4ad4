"""What the preference page does to the list, apart from HTTP.

A preference link is a signed, purpose-bound, expiring token (see
`subscribers.tokens`); looking at it (GET) changes nothing, because mail
scanners open links, and saving (POST) checks every value before it changes
anything, so a refused form leaves the reader as they were. The page shows
only what the link's owner chose, and a link that is not valid gets the same
plain 400 page whoever it names, so no page tells whether an address is on
the list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from publisher.models import Clock, Subscriber
from publisher.store.database import Store
from publisher.subscribers.preferences import (
    Cadence,
    Choices,
    Preferences,
    choose,
    offered_topics,
)
from publisher.subscribers.tokens import read_preferences_token, unsubscribe_token


@dataclass(frozen=True, slots=True)
class PreferenceView:
    """What the page shows: the reader's choices among what is on offer."""

    state: str  # "ask" (the form), "saved" (the form, after a change)
    email: str
    token: str
    unsubscribe_token: str
    chosen: Preferences
    choices: Choices


class PreferenceDesk:
    """Shows and changes one reader's choices against one store; safe to call from threads."""

    def __init__(self, store: Callable[[], Store], secret: str, clock: Clock, *,
                 ttl: timedelta, output: Path, cadences: Sequence[Cadence]) -> None:
        self.store, self.secret, self.clock = store, secret, clock
        self.ttl, self.output, self.cadences = ttl, output, tuple(cadences)

    def choices(self) -> Choices:
        """What is on offer now: the topics of the site as last built, and the cadences."""
        return Choices(offered_topics(self.output), self.cadences)

    def look(self, token: str) -> PreferenceView:
        """The reader's page; changes nothing. `TokenError` for a link that is not valid."""
        return self._view("ask", token, self._reader(token))

    def save(self, token: str, *, topics: Sequence[str], cadence: str, timezone: str,
             hour: str) -> PreferenceView:
        """Check every value, then record them all; `SubscriberError` names the wrong one."""
        reader = self._reader(token)
        chosen = choose(self.choices(), topics=topics, cadence=cadence, timezone=timezone,
                        hour=hour)
        self.store().set_preferences(reader.id, tags=chosen.topics, cadence=chosen.cadence,
                                     timezone=chosen.timezone, hour=chosen.hour)
        current = self.store().get_subscriber_by_id(reader.id) or reader
        return self._view("saved", token, current)

    def _reader(self, token: str) -> Subscriber:
        return read_preferences_token(self.secret, token, self.store().get_subscriber_by_id,
                                      max_age=self.ttl, now=self.clock())

    def _view(self, state: str, token: str, reader: Subscriber) -> PreferenceView:
        return PreferenceView(state, reader.email, token,
                              unsubscribe_token(self.secret, reader), Preferences.of(reader),
                              self.choices())
