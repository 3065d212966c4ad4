"""The site's icon, in every size that browsers, feed readers and link previews ask for.

One square image — the theme's `site/icon.png`, or the site's own copy in
`templates/site/icon.png` — becomes `favicon.ico` (16, 32 and 48 px, the file
browsers and crawlers ask for by name), `apple-touch-icon.png` (180 px), the
512 px `icon.png` (Atom icon and logo, JSON Feed icon, Open Graph fallback),
`icon-144.png` (the RSS image, at most 144 px wide) and `icon-64.png` (JSON
Feed favicon). Pillow's resizing and PNG/ICO writers give the same bytes for
the same source, so an unchanged icon rewrites nothing.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import jinja2

from publisher import theme
from publisher.errors import ContentError, Problem
from publisher.models import OutputFile

SOURCE = "site/icon.png"
MINIMUM = 512
SIZES = {"icon.png": 512, "apple-touch-icon.png": 180, "icon-144.png": 144, "icon-64.png": 64}
FAVICON = "favicon.ico"
FAVICON_SIZES = ((16, 16), (32, 32), (48, 48))
FORMAT = "1"  # bump when the files made from the icon change
PATHS = (*SIZES, FAVICON)
HINT = (f"use a square PNG, JPEG or WebP image of at least {MINIMUM} × {MINIMUM} pixels, "
        "or delete it to use the default theme's")


@dataclass(frozen=True, slots=True)
class Icon:
    """The source image, read and checked: its bytes, and where it came from."""

    label: str
    data: bytes

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(FORMAT.encode() + b"\0" + self.data).hexdigest()


def read_icon(env: jinja2.Environment, root: Path) -> Icon:
    """The site's icon source, checked; a `ContentError` saying what is wrong with it."""
    from PIL import Image, UnidentifiedImageError

    loader = env.loader
    assert isinstance(loader, jinja2.FileSystemLoader)
    path = theme.theme_file(loader, SOURCE)
    if path is None:
        raise ContentError([Problem(f"the theme has no {SOURCE}", hint=HINT)])
    label = _label(path, root)
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
            kind = image.format or ""
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ContentError([Problem(f"not an image Pillow can read ({exc})", path=label,
                                    hint=HINT)]) from None
    problem = _shape_problem(kind, width, height)
    if problem:
        raise ContentError([Problem(problem, path=label, hint=HINT)])
    return Icon(label, data)


def _shape_problem(kind: str, width: int, height: int) -> str | None:
    if kind not in ("PNG", "JPEG", "WEBP"):
        return f"the icon is a {kind or 'unknown'} image"
    if width != height:
        return f"the icon is {width} × {height} pixels: it must be square"
    if width < MINIMUM:
        return f"the icon is {width} × {height} pixels: it must be at least {MINIMUM}"
    return None


def icon_files(icon: Icon) -> list[OutputFile]:
    """Every published size of the icon, and the favicon."""
    from PIL import Image

    with Image.open(io.BytesIO(icon.data)) as opened:
        source = opened.convert("RGBA")
    files = []
    for name, size in SIZES.items():
        files.append(OutputFile(name, _png(source.resize((size, size), Image.Resampling.LANCZOS))))
    ico = io.BytesIO()
    source.resize((256, 256), Image.Resampling.LANCZOS).save(ico, format="ICO",
                                                             sizes=list(FAVICON_SIZES))
    files.append(OutputFile(FAVICON, ico.getvalue()))
    return files


def _png(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)  # type: ignore[attr-defined]
    return buffer.getvalue()


def _label(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
