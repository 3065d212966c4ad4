"""`publisher init`: a new site that builds at once, made from files packaged with us."""

from __future__ import annotations

import json
from pathlib import Path

from publisher.atomic import write_new
from publisher.errors import PublisherError
from publisher.theme import default_theme_path

SCAFFOLD = Path(__file__).resolve().parent / "scaffold"


def create_site(directory: Path, *, title: str, base_url: str) -> list[Path]:
    """Write config, an example article, schedules and a copy of the default theme.

    Never overwrites: an existing site, or any existing file, stops it before it writes.
    """
    if (directory / "publisher.toml").exists():
        raise PublisherError("a site already exists here", path=directory / "publisher.toml",
                             hint="choose another folder, or edit this site's files")
    files: dict[Path, bytes] = {}
    for source in sorted(SCAFFOLD.rglob("*")):
        if source.is_file() and "__pycache__" not in source.parts:
            relative = source.relative_to(SCAFFOLD)
            data = source.read_bytes()
            if relative.name == "publisher.toml":
                data = _fill(data.decode(), title, base_url).encode()
            files[directory / relative] = data
    theme = default_theme_path()
    for source in sorted(theme.rglob("*")):
        if source.is_file() and "__pycache__" not in source.parts:
            files[directory / "templates" / source.relative_to(theme)] = source.read_bytes()
    taken = [p for p in files if p.exists()]
    if taken:
        raise PublisherError(f"{taken[0]} already exists", path=taken[0],
                             hint="run init in an empty folder")
    for path, data in files.items():
        write_new(path, data)
    return sorted(files)


def _fill(text: str, title: str, base_url: str) -> str:
    base = base_url if base_url.endswith("/") else base_url + "/"
    return text.replace('"{title}"', json.dumps(title, ensure_ascii=False)).replace(
        '"{base_url}"', json.dumps(base)
    )



