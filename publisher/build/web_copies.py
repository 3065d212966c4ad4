"""The web copies of sent digests, kept in the site's `digests/` folder.

A digest's "view in browser" page must outlive the email and be rebuilt with the
rest of the archive, without the build needing the subscriber database. So the
digest stage saves each web copy here (HTML plus a small JSON record) and the
build reads this folder like any other input.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from publisher.atomic import atomic_write
from publisher.build.pages import DigestCopy
from publisher.errors import ContentError, Problem
from publisher.models import is_digest_id
from publisher.text import character_name, xml_unsafe


def save_web_copy(folder: Path, copy: DigestCopy) -> bool:
    """Write one digest's web copy and its record; False if both were already as written.

    A copy saved again unchanged is not touched, so the build sees no new input.
    """
    if not is_digest_id(copy.digest_id):
        raise ValueError(f"digest id {copy.digest_id!r} cannot name a file")
    record = {"id": copy.digest_id, "title": copy.title, "date": copy.date.isoformat(),
              "articles": list(copy.article_ids)}
    files = {folder / f"{copy.digest_id}.html": copy.web_html.encode(),
             folder / f"{copy.digest_id}.json":
             (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode()}
    changed = False
    for path, data in files.items():
        if not _holds(path, data):
            atomic_write(path, data)
            changed = True
    return changed


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def load_web_copies(folder: Path, root: Path) -> list[DigestCopy]:
    """Every saved web copy, oldest first; a damaged record is reported, not skipped."""
    if not folder.is_dir():
        return []
    copies: list[DigestCopy] = []
    problems: list[Problem] = []
    for record_path in sorted(folder.glob("*.json")):
        label = _label(record_path, root)
        try:
            record = json.loads(record_path.read_text("utf-8"))
            html = record_path.with_suffix(".html").read_text("utf-8")
            copies.append(_copy(record, html))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(Problem(f"cannot read this digest's web copy: {exc}", path=label,
                                    hint="restore the file, or delete it and its .html twin"))
    if problems:
        raise ContentError(problems)
    return sorted(copies, key=lambda c: (c.date, c.digest_id))


def _copy(record: dict[str, object], html: str) -> DigestCopy:
    """A record as the digest stage wrote it; ValueError for one edited out of shape."""
    digest_id, title = str(record["id"]), str(record["title"])
    date = datetime.fromisoformat(str(record["date"]))
    if not is_digest_id(digest_id):
        raise ValueError(f"{digest_id!r} is not a digest id")
    if date.tzinfo is None:
        raise ValueError(f"the date {record['date']!r} has no time zone offset")
    if (bad := xml_unsafe(title + html)) is not None:
        raise ValueError(f"it holds {character_name(bad)}, which no page can carry")
    articles = record.get("articles", [])
    if not isinstance(articles, list) or not all(isinstance(a, str) for a in articles):
        raise ValueError("'articles' must be a list of article ids")
    return DigestCopy(digest_id, title, date, html, tuple(articles))


def _label(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
