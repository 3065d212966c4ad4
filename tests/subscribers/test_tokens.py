"""Signed unsubscribe and confirm tokens: bound to a subscriber, an address and a purpose."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from publisher.errors import PublisherError, TokenError
from publisher.models import Subscriber
from publisher.store.database import Store
from publisher.subscribers.tokens import (
    TokenExpired,
    confirm_token,
    read_confirm_token,
    read_unsubscribe_token,
    unsubscribe_token,
)
from tests.conftest import NOW

SECRET = "correct horse battery staple, but longer"
INVALID = ("this link is not valid\n  hint: it may have been cut short when copied: use the "
           "whole link from the latest email")
DAY = timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'publisher.db'}") as opened:
        yield opened


@pytest.fixture
def ann(store: Store) -> Subscriber:
    return store.add_subscriber("Ann@example.org", now=NOW)[0]


def refused(read: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(TokenError) as caught:
        read(*args, **kwargs)  # type: ignore[operator]
    return str(caught.value)


def test_an_unsubscribe_token_names_its_subscriber(store: Store, ann: Subscriber) -> None:
    token = unsubscribe_token(SECRET, ann)
    assert re.fullmatch(rf"{ann.id}\.[A-Za-z0-9_-]{{43}}", token)
    assert token == unsubscribe_token(SECRET, ann)  # the same in every digest
    assert read_unsubscribe_token(SECRET, token, store.get_subscriber_by_id) == ann
    assert "ann" not in token.lower()


def test_a_token_is_refused_under_another_secret(store: Store, ann: Subscriber) -> None:
    token = unsubscribe_token(SECRET, ann)
    assert refused(read_unsubscribe_token, "another secret", token,
                   store.get_subscriber_by_id) == INVALID


def test_an_altered_token_is_refused(store: Store, ann: Subscriber) -> None:
    bob = store.add_subscriber("bob@example.org", now=NOW)[0]
    token = unsubscribe_token(SECRET, ann)
    ident, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for forged in (f"{ident}.{flipped}", f"{bob.id}.{signature}", f"{ident}.", token + "x"):
        assert refused(read_unsubscribe_token, SECRET, forged, store.get_subscriber_by_id) \
            == INVALID


@pytest.mark.parametrize("garbage", ["", "abc", "1.2.3.4", "x.y", "1.ü", "-1.abc", " . "])
def test_garbage_is_refused(store: Store, garbage: str) -> None:
    assert refused(read_unsubscribe_token, SECRET, garbage, store.get_subscriber_by_id) \
        == INVALID
    assert refused(read_confirm_token, SECRET, garbage, store.get_subscriber_by_id,
                   max_age=DAY, now=NOW) == INVALID


def test_a_token_is_bound_to_the_address_not_only_the_id(store: Store, ann: Subscriber) -> None:
    token = unsubscribe_token(SECRET, ann)
    someone_else = Subscriber(ann.id, "eve@example.org")  # the id, given to another address

    def lookup(subscriber_id: int) -> Subscriber | None:
        return someone_else if subscriber_id == ann.id else None

    assert refused(read_unsubscribe_token, SECRET, token, lookup) == INVALID
    same_person = Subscriber(ann.id, "ann@EXAMPLE.org")
    assert read_unsubscribe_token(SECRET, token, lambda _: same_person) == same_person


def test_a_removed_subscribers_token_is_refused(store: Store, ann: Subscriber) -> None:
    token = unsubscribe_token(SECRET, ann)
    store.remove_subscriber(ann.email, now=NOW)
    assert refused(read_unsubscribe_token, SECRET, token, store.get_subscriber_by_id) == INVALID


def test_tokens_of_one_purpose_do_not_work_for_the_other(store: Store, ann: Subscriber) -> None:
    leave = unsubscribe_token(SECRET, ann)
    confirm = confirm_token(SECRET, ann, now=NOW)
    find = store.get_subscriber_by_id
    assert refused(read_confirm_token, SECRET, leave, find, max_age=DAY, now=NOW) == INVALID
    assert refused(read_unsubscribe_token, SECRET, confirm, find) == INVALID
    ident, stamp, signature = confirm.split(".")
    assert refused(read_unsubscribe_token, SECRET, f"{ident}.{signature}", find) == INVALID
    signature = leave.split(".")[1]
    assert refused(read_confirm_token, SECRET, f"{ident}.{stamp}.{signature}", find,
                   max_age=DAY, now=NOW) == INVALID


def test_a_confirm_token_expires(store: Store, ann: Subscriber) -> None:
    token = confirm_token(SECRET, ann, now=NOW)
    assert re.fullmatch(rf"{ann.id}\.{int(NOW.timestamp())}\.[A-Za-z0-9_-]{{43}}", token)
    find = store.get_subscriber_by_id
    assert read_confirm_token(SECRET, token, find, max_age=DAY, now=NOW + DAY) == ann
    with pytest.raises(TokenExpired) as caught:
        read_confirm_token(SECRET, token, find, max_age=DAY, now=NOW + DAY + timedelta(seconds=1))
    assert str(caught.value) == ("this confirmation link has expired\n"
                                 "  hint: subscribe again to receive a new link")
    assert isinstance(caught.value, PublisherError)


def test_a_confirm_token_cannot_be_given_a_new_time(store: Store, ann: Subscriber) -> None:
    ident, stamp, signature = confirm_token(SECRET, ann, now=NOW).split(".")
    later = str(int(stamp) + 86_400 * 30)
    assert refused(read_confirm_token, SECRET, f"{ident}.{later}.{signature}",
                   store.get_subscriber_by_id, max_age=DAY, now=NOW + 30 * DAY) == INVALID
