"""Subscriber files in and out: CSV import (every bad row reported by line) and export.

A CSV import never changes a subscriber already on the list, and never adds an
address on the suppression list (unless `resubscribe`, and never one that
unsubscribed), so it cannot bring back someone who left; importing a file twice
changes nothing. An export holds everything an import needs to make the same
list again: status, tags, dates, the reason for a status, each reader's
choices (cadence, time zone, hour), and the removed addresses as their
one-way hashes (`address_sha256`, with no address). A cadence is read as
written (a schedule may be made choosable after the import); a zone or an
hour that cannot be one refuses its row. Exported
cells that a spreadsheet would run as a formula are defused, and read back as
they were.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from publisher.errors import Problem, SubscriberError
from publisher.schedule.files import SCHEDULE_NAME
from publisher.store.database import NewSubscriber, Store
from publisher.store.records import address_hash
from publisher.store.schema import SUBSCRIBER_STATUSES, SUPPRESSED
from publisher.subscribers.addresses import normalise_address, normalise_name, parse_tags, quoted
from publisher.subscribers.preferences import check_hour, check_zone
from publisher.subscribers.suppression import refusal

HEADER = ("email", "name", "tags", "status", "created_at", "status_changed_at", "status_reason",
          "address_sha256", "cadence", "timezone", "hour")
STAMP = "%Y-%m-%dT%H:%M:%SZ"
_HASH = re.compile(r"^[0-9a-f]{64}$")
EMAIL_HEADERS = {"email", "e-mail", "email address", "email_address"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: new addresses, ones already there, and rows refused."""

    imported: int
    present: int
    rejected: tuple[Problem, ...] = ()
    suppressed: int = 0  # hashes of removed addresses added to the suppression list


def import_csv(store: Store, path: Path, *, now: datetime, label: str | None = None,
               check_deliverability: bool = False, resubscribe: bool = False) -> ImportReport:
    """Add every good row of a subscriber file; report each bad row with its line.

    The file is read whole, decoded and parsed once before anything is added, so
    a file in the wrong encoding or broken as CSV imports nothing; of a file
    with bad rows, the good rows are imported. A row whose address is on the
    suppression list is refused with the reason (see `suppression`).
    """
    name = label or str(path)
    text = _read_text(path, name)
    deque(_rows(text, name), maxlen=0)  # CSV syntax errors stop the import here
    rejected: list[Problem] = []
    hashes: list[tuple[str, str, datetime]] = []
    suppressed = {h: (reason, since) for h, reason, since in store.iter_suppressions()}
    found = _entries(_rows(text, name), name, rejected, check_deliverability, hashes, now)
    entries = _allowed(found, store, suppressed, rejected, resubscribe, name)
    created = store.add_subscribers(entries, now=now)
    imported = sum(created)
    remembered = sum(store.suppress_hash(h, reason, now=since) for h, reason, since in hashes)
    rejected.sort(key=lambda p: p.line or 0)
    return ImportReport(imported, len(created) - imported, tuple(rejected), remembered)


def _allowed(entries: Iterator[tuple[int, NewSubscriber]], store: Store,
             suppressed: dict[str, tuple[str, datetime]], rejected: list[Problem],
             resubscribe: bool, name: str) -> Iterator[NewSubscriber]:
    for line, entry in entries:
        hashed = address_hash(entry.email)
        if hashed in suppressed:
            reason, since = suppressed[hashed]
            problem = refusal(entry.email, reason, since, resubscribe=resubscribe)
            if problem:
                rejected.append(Problem(problem, path=name, line=line))
                continue
            store.forget_suppression(entry.email)
        yield entry


def export_csv(store: Store) -> Iterator[str]:
    """The whole list as CSV: the header line, one line per subscriber in joining order, then
    the hashes of removed addresses."""
    yield _csv_line(HEADER)
    for s in store.iter_subscribers():
        yield _csv_line([_defuse(s.email), _defuse(s.name), _defuse(";".join(s.tags)), s.status,
                         _stamp(s.created_at), _stamp(s.updated_at),
                         _defuse(s.status_reason or ""), "", s.cadence or "", s.timezone or "",
                         "" if s.hour is None else str(s.hour)])
    for hashed, reason, since in store.iter_suppressions():
        yield _csv_line(["", "", "", reason, _stamp(since), _stamp(since), "", hashed, "", "",
                         ""])


def _stamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime(STAMP) if moment else ""


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
             check_deliverability: bool, hashes: list[tuple[str, str, datetime]],
             now: datetime) -> Iterator[tuple[int, NewSubscriber]]:
    """The good rows as new subscribers; each bad row becomes a Problem in `rejected`,
    each removed address's hash goes to `hashes`."""
    layout: _Layout | None = None
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        if layout is None:
            layout = _layout(cells)
            if layout.header:
                continue
        try:
            hashed = _hash_row(cells, layout, now)
            if hashed is not None:
                hashes.append(hashed)
                continue
            yield line, _entry(cells, layout, check_deliverability)
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
        if key in HEADER:
            columns.setdefault(key, index)
    return _Layout(columns, header=True)


def _cell(cells: list[str], layout: _Layout, key: str) -> str:
    index = layout.columns.get(key)
    return _restore(cells[index].strip()) if index is not None and index < len(cells) else ""


def _entry(cells: list[str], layout: _Layout, check_deliverability: bool) -> NewSubscriber:
    if layout.width is not None and len(cells) > layout.width:
        raise SubscriberError(f"{len(cells)} columns, but a file without a header row has "
                              "only email, name, tags")
    email = _cell(cells, layout, "email")
    if not email:
        raise SubscriberError("no address in this row")
    status = _status(cells, layout)
    created = _moment(_cell(cells, layout, "created_at"), "created_at")
    changed = _moment(_cell(cells, layout, "status_changed_at"), "status_changed_at")
    return NewSubscriber(normalise_address(email, check_deliverability=check_deliverability),
                         normalise_name(_cell(cells, layout, "name")),
                         parse_tags(_cell(cells, layout, "tags")), status, created, changed,
                         _cell(cells, layout, "status_reason") or None,
                         _cadence(_cell(cells, layout, "cadence")),
                         check_zone(_cell(cells, layout, "timezone")),
                         check_hour(_cell(cells, layout, "hour")))


def _cadence(text: str) -> str | None:
    if text and not SCHEDULE_NAME.fullmatch(text):
        raise SubscriberError(f"cadence {quoted(text[:80])} is not a schedule name")
    return text or None


def _status(cells: list[str], layout: _Layout) -> str:
    status = _cell(cells, layout, "status").lower() or "active"
    if status not in SUBSCRIBER_STATUSES:
        raise SubscriberError(f"status {quoted(status)} is not one of "
                              f"{', '.join(SUBSCRIBER_STATUSES)}")
    return status


def _hash_row(cells: list[str], layout: _Layout, now: datetime
              ) -> tuple[str, str, datetime] | None:
    """A removed address's row: no address, its hash, why and since when it is suppressed."""
    hashed = _cell(cells, layout, "address_sha256").lower()
    if not hashed or _cell(cells, layout, "email"):
        return None
    if not _HASH.match(hashed):
        raise SubscriberError(f"address_sha256 {quoted(hashed)} is not a SHA-256 hash (64 hex "
                              "digits)")
    reason = _cell(cells, layout, "status").lower()
    if reason not in (*SUPPRESSED, "removed"):
        raise SubscriberError(f"status {quoted(reason)} of a removed address is not one of "
                              f"{', '.join((*SUPPRESSED, 'removed'))}")
    since = _moment(_cell(cells, layout, "created_at"), "created_at")
    return hashed, reason, since or now


def _moment(text: str, column: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SubscriberError(f"{column} {quoted(text)} is not a date and time such as "
                              "2026-11-25T07:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _defuse(cell: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (names come from web forms)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _restore(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


