"""The golden site's feeds, byte for byte; and the expected files themselves, checked as feeds.

To change the expected bytes on purpose: `python -m tests.build.golden` (see that module).
"""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest

from tests.build.golden import EXPECTED, FEEDS, build_golden
from tests.jsonfeed import validate_json_feed

BRIDGE, FERRY, BUDGET = ("Bridge: what closes when", "Ferry fares rise in January",
                          "Budget “explained” — part 1")
# Two articles a document ([feeds] items = 2): the newest two, then the archives from the
# oldest; an archive after a full one is empty until the next article.
TITLES = {"": [BRIDGE, FERRY], "archive/1/": [FERRY, BUDGET], "archive/2/": [BRIDGE],
          "tags/transport/": [BRIDGE, FERRY], "tags/transport/archive/1/": [BRIDGE, FERRY],
          "tags/transport/archive/2/": [],
          "tags/council/": [FERRY, BUDGET], "tags/council/archive/1/": [FERRY, BUDGET],
          "tags/council/archive/2/": []}


def feed_folder(path: str) -> str:
    """The document a file belongs to: "", "tags/<slug>/", or an archive below either."""
    return path.rsplit("/", 1)[0] + "/" if "/" in path else ""


def test_the_build_writes_the_expected_bytes(tmp_path: Path) -> None:
    built = build_golden(tmp_path)
    different = [path for path in FEEDS if built[path] != (EXPECTED / path).read_bytes()]
    assert different == [], "run `python -m tests.build.golden` if the change is meant"


def test_a_second_build_of_the_copy_changes_no_byte(tmp_path: Path) -> None:
    assert build_golden(tmp_path / "one") == build_golden(tmp_path / "two")


@pytest.mark.parametrize("path", [p for p in FEEDS if not p.endswith(".json")])
def test_the_expected_xml_feeds_parse_cleanly_with_every_article(path: str) -> None:
    parsed = feedparser.parse((EXPECTED / path).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.title for e in parsed.entries] == TITLES[feed_folder(path)]
    assert all(e.id.startswith("urn:uuid:") and e.link.startswith("https://golden.example.org/")
               for e in parsed.entries)


@pytest.mark.parametrize("path", [p for p in FEEDS if p.endswith(".json")])
def test_the_expected_json_feeds_follow_json_feed_1_1(path: str) -> None:
    feed = json.loads((EXPECTED / path).read_text("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert [item["title"] for item in feed["items"]] == TITLES[feed_folder(path)]
    for item in feed["items"]:  # the spec's rules the schema cannot say
        assert item["id"] and ("content_html" in item or "content_text" in item)
        assert item["url"].startswith(feed["home_page_url"].split("/news/")[0])
    validate_json_feed(feed)
