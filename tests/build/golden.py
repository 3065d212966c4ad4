"""The golden site: a small site whose feeds are kept byte for byte in tests/data/golden/.

Regenerate the expected files only on purpose, after a change meant to alter the
feeds, and read the diff before committing it:

    python -m tests.build.golden

The test then holds the build to them, and checks the expected files themselves
with feedparser and the JSON Feed rules, so a regenerated file cannot be wrong
in a way nobody sees.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from publisher import publish
from publisher.build.feeds import feed_paths
from publisher.clock import fixed_clock
from publisher.config import load_settings

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
SITE, EXPECTED = GOLDEN / "site", GOLDEN / "expected"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FOLDERS = tuple(f"{feed}{page}" for feed in ("", "tags/transport/", "tags/council/")
                for page in ("", "archive/1/", "archive/2/"))
FEEDS = tuple(path for folder in FOLDERS for path in feed_paths(folder))


def build_golden(workdir: Path) -> dict[str, bytes]:
    """Build a copy of the golden site in `workdir`; its feeds' bytes by path."""
    root = workdir / "site"
    shutil.copytree(SITE, root)
    publish.build(load_settings(root), fixed_clock(NOW))
    return {path: (root / "public" / path).read_bytes() for path in FEEDS}


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        built = build_golden(Path(workdir))
    for path, data in built.items():
        target = EXPECTED / path
        target.parent.mkdir(parents=True, exist_ok=True)
        changed = not target.is_file() or target.read_bytes() != data
        target.write_bytes(data)
        print(("rewrote " if changed else "same    ") + str(target.relative_to(GOLDEN.parent)))


if __name__ == "__main__":
    sys.exit(main())
