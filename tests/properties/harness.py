"""Running the real command line on a generated site, and reading what it left behind.

Every command runs in this process through click's runner, so that a traceback
is caught as an exception rather than lost in a subprocess's output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from hypothesis import settings
from lxml import etree, html

from publisher.cli import cli
from tests.conftest import BASE_CONFIG

# These tests build a site per example: half the profile's examples keeps the
# default run short (see tests/conftest.py for the profiles).
EXPENSIVE = settings(max_examples=max(8, settings.default.max_examples // 2))
SITE_CONFIG = BASE_CONFIG + '[email]\nfrom_address = "digest@news.example.org"\n'
GOOD_ARTICLE = "---\ntitle: Good news\ndate: 2026-10-01 09:00\ntags: [harbour]\nid: good\n---\n" \
               "The ferry runs again.\n"
SECRET = "a-property-test-signing-key-of-32-bytes"
NOW = ("--now", "2026-11-25T12:00:00+00:00")


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def run(root: Path, *args: str) -> Outcome:
    """One command; fails the test on a traceback, an internal error or an odd exit code."""
    result = CliRunner(env={"PUBLISHER_SECRET_KEY": SECRET}).invoke(
        cli, ["--site", str(root), *args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # the traceback the user would have seen
    assert "Traceback" not in result.output, result.output
    assert "unexpected internal error" not in result.stderr, result.stderr
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    return Outcome(result.exit_code, result.stdout, result.stderr)


def fresh_site(folder: Path, files: dict[str, bytes | str], config: str = SITE_CONFIG) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "content").mkdir(parents=True)
    (folder / "publisher.toml").write_text(config, encoding="utf-8")
    (folder / "content/good.md").write_text(GOOD_ARTICLE, encoding="utf-8")
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    return folder


_BUILT: dict[str, Path] = {}


def built_site(folder: Path) -> Path:
    """A copy of a site with the good article, built once (at the fixed time `NOW`)."""
    if "site" not in _BUILT:
        model = fresh_site(Path(tempfile.mkdtemp(prefix="publisher-model-")) / "site", {})
        assert run(model, "build", *NOW).code == 0
        _BUILT["site"] = model
    shutil.copytree(_BUILT["site"], folder, copy_function=shutil.copy2)  # times kept
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*") if p.name.endswith(".tmp")]


# -- nothing active survives -------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "poster", "cite", "data",
                  "background", "xlink:href", "{http://www.w3.org/1999/xlink}href",
                  "longdesc", "codebase", "manifest", "ping"}
_UNSAFE_URL = re.compile(r"^(javascript|vbscript|data|livescript):", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def active_parts(markup: str) -> list[str]:
    """What in an HTML document or fragment could run: script, handlers, script URLs."""
    if not markup.strip():
        return []
    found = []
    tree = html.fragment_fromstring(markup, create_parent="div")
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        if tag in ("script", "iframe", "object", "embed", "base", "frame", "applet") or (
                tag == "meta" and element.get("http-equiv", "").lower() == "refresh"):
            found.append(f"<{element.tag}>")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                found.append(f"{name}= on <{element.tag}>")
            elif name.lower() in URL_ATTRIBUTES and any(
                    _UNSAFE_URL.match(_INVISIBLE.sub("", part)) for part in value.split(",")):
                found.append(f"{name}={value!r} on <{element.tag}>")
            elif name.lower() == "style" and "javascript" in value.lower():
                found.append(f"style={value!r}")
    return found


def active_in_output(public: Path) -> list[str]:
    """Active parts anywhere in the published site: pages, and the HTML inside every feed."""
    found: list[str] = []
    for path in sorted(public.rglob("*")):
        if path.suffix == ".html":
            found += [f"{path.name}: {part}" for part in active_parts(path.read_text("utf-8"))]
        elif path.name in ("rss.xml", "atom.xml"):
            root = etree.fromstring(path.read_bytes())
            for element in root.iter():
                if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] in (
                        "description", "encoded", "summary", "content") and element.text:
                    found += [f"{path.name}: {part}" for part in active_parts(element.text)]
        elif path.name == "feed.json":
            for item in json.loads(path.read_text("utf-8"))["items"]:
                found += [f"feed.json: {part}" for part in active_parts(item["content_html"])]
    return found


def environment_clean() -> None:
    """A developer's own site or store must not reach a generated site."""
    for name in ("PUBLISHER_SITE", "PUBLISHER_STORE_URL"):
        os.environ.pop(name, None)
