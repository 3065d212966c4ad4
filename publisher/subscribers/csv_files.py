"""Subscriber files in and out: CSV import (every bad row reported by line) and export.

A CSV import never changes a subscriber already on the list, so it cannot bring
back someone who unsubscribed; importing a file twice changes nothing. Exported
cells that a spreadsheet would run as a formula are defused, and read back as
they were.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from publisher.errors import Problem, SubscriberError
from publisher.store.database import NewSubscriber, Store
from publisher.store.schema import SUBSCRIBER_STATUSES
from publisher.subscribers.addresses import normalise_address, normalise_name, parse_tags, quoted

HEADER = ("email", "name", "tags", "status", "created_at")
EMAIL_HEADERS = {"email", "e-mail", "email address", "email_address"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: new addresses, ones already there, and rows refused."""

    imported: int
    present: int
    rejected: tuple[Problem, ...] = ()


def import_csv(store: Store, path: Path, *, now: datetime, label: str | None = None,
               check_deliverability: bool = False) -> ImportReport:
    """Add every good row of a subscriber file; report each bad row with its line.

    The file is read whole, decoded and parsed once before anything is added, so
    a file in the wrong encoding or broken as CSV imports nothing; of a file
    with bad rows, the good rows are imported.
    """
    name = label or str(path)
    text = _read_text(path, name)
    deque(_rows(text, name), maxlen=0)  # CSV syntax errors stop the import here
    rejected: list[Problem] = []
    entries = _entries(_rows(text, name), name, rejected, check_deliverability)
    created = store.add_subscribers(entries, now=now)
    imported = sum(created)
    return ImportReport(imported, len(created) - imported, tuple(rejected))


def export_csv(store: Store) -> Iterator[str]:
    """The whole list as CSV: the header line, then one line per subscriber in joining order."""
    yield _csv_line(HEADER)
    for subscriber in store.iter_subscribers():
        created = subscriber.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") \
            if subscriber.created_at else ""
        yield _csv_line([_defuse(subscriber.email), _defuse(subscriber.name),
                         _defuse(";".join(subscriber.tags)), subscriber.status, created])


def _csv_line(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _read_text(path: Path, name: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SubscriberError(f"cannot read the file: {exc.strerror}", path=name) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SubscriberError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be read); nothing was imported",
            path=name, line=line,
            hint="save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8') and import it again",
        ) from None


def _rows(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with the line it starts on (a quoted field may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # no silent repairs
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise SubscriberError(f"not a readable CSV file ({exc}); nothing was imported",
                              path=name, line=start,
                              hint='check the quotes: a field that starts with " must end '
                              'with " and be followed by a comma or the end of the line'
                              ) from None


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each field is in a row; `width` limits a file without a header row."""

    columns: dict[str, int]
    header: bool
    width: int | None = None


def _entries(rows: Iterator[tuple[int, list[str]]], name: str, rejected: list[Problem],
             check_deliverability: bool) -> Iterator[NewSubscriber]:
    """The good rows as new subscribers; each bad row becomes a Problem in `rejected`."""
    layout: _Layout | None = None
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        if layout is None:
            layout = _layout(cells)
            if layout.header:
                continue
        try:
            yield _entry(cells, layout, check_deliverability)
        except SubscriberError as exc:
            rejected.append(Problem(exc.problem.message, path=name, line=line))


def _layout(first: list[str]) -> _Layout:
    """Columns named by a header row, or else email, name, tags by position."""
    names = [cell.strip().lower() for cell in first]
    if not EMAIL_HEADERS & set(names):
        return _Layout({"email": 0, "name": 1, "tags": 2}, header=False, width=3)
    columns: dict[str, int] = {}
    for index, title in enumerate(names):
        key = "email" if title in EMAIL_HEADERS else title
        if key in ("email", "name", "tags", "status"):
            columns.setdefault(key, index)
    return _Layout(columns, header=True)


def _entry(cells: list[str], layout: _Layout, check_deliverability: bool) -> NewSubscriber:
    if layout.width is not None and len(cells) > layout.width:
        raise SubscriberError(f"{len(cells)} columns, but a file without a header row has "
                              "only email, name, tags")

    def cell(key: str) -> str:
        index = layout.columns.get(key)
        return _restore(cells[index].strip()) if index is not None and index < len(cells) else ""

    email = cell("email")
    if not email:
        raise SubscriberError("no address in this row")
    status = cell("status").lower() or "active"
    if status not in SUBSCRIBER_STATUSES:
        raise SubscriberError(f"status {quoted(status)} is not one of "
                              f"{', '.join(SUBSCRIBER_STATUSES)}")
    return NewSubscriber(normalise_address(email, check_deliverability=check_deliverability),
                         normalise_name(cell("name")), parse_tags(cell("tags")), status)


def _defuse(cell: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (names come from web forms)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _restore(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


