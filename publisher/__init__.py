"""publisher: Markdown articles to feeds, an archive site and email digests, on a timetable.

Here too: where a site is and where its fixed files lie, which the fastest commands
need before anything else is imported (a no-change `publisher build` is answered
from the state folder before the configuration is parsed).
"""

from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.1.0"

CONFIG_NAME = "publisher.toml"
SITE_ENV = "PUBLISHER_SITE"
STATE_FOLDER = ".publisher"


def find_site_root(start: Path | None = None) -> Path:
    """The folder to work in: `$PUBLISHER_SITE`, else the given or current folder."""
    if start is not None:
        return start
    env = os.environ.get(SITE_ENV)
    return Path(env) if env else Path()


def state_folder(root: Path) -> Path:
    """Where the build keeps its cache and manifest, out of the published folder."""
    return root.resolve() / STATE_FOLDER
