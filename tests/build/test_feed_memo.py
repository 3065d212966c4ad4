"""An entry rendered once and reused gives every document the bytes it would have alone."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from publisher import publish
from publisher.build import feeds
from publisher.build.feeds import json_feed, memo
from publisher.content.load import rendered_fingerprint
from publisher.models import Article, OutputFile, Site
from publisher.text import plain_title
from tests.conftest import BASE_CONFIG, SiteFactory, article, settings_of

T = TypeVar("T")
TAGS = ["[red]", "[red, blue]", "[blue]", "[green, red]", "[]"]
CONFIG = BASE_CONFIG + "\n[feeds]\nitems = 3\n"  # archives of three: many documents


def in_fresh_thread(work: Callable[[], T]) -> T:
    """Run `work` where no entry was rendered before (each thread has its own memo)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def render_all(site: Site, plan: Sequence[tuple[feeds.FeedSpec, Sequence[Article]]]
               ) -> list[list[OutputFile]]:
    return [feeds.render_feeds(site, items, spec) for spec, items in plan]


@pytest.fixture(scope="module")
def plan_and_site(tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[list[tuple[feeds.FeedSpec, Sequence[Article]]], Site]:
    root: Path = tmp_path_factory.mktemp("memo")
    (root / "content").mkdir()
    (root / "publisher.toml").write_text(CONFIG, "utf-8")
    for n in range(14):
        (root / f"content/a{n:02d}.md").write_text(article(
            f"Story {n}", f"2026-10-{n + 1:02d}", tags=TAGS[n % len(TAGS)],
            **({"author": "Ana Lima"} if n % 3 == 0 else {})), "utf-8")
    config = settings_of(root)
    site = config.site()
    published = publish.load(config).published(datetime(2100, 1, 1, tzinfo=UTC))
    return list(publish.feed_plan(config, site, published)), site


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.data())
def test_any_order_of_documents_gives_each_the_bytes_it_has_alone(
        plan_and_site: tuple[list[tuple[feeds.FeedSpec, Sequence[Article]]], Site],
        order: st.DataObject) -> None:
    plan, site = plan_and_site
    assert len(plan) > 10  # the site's and three tags' documents, with archives
    alone = {spec.path(""): in_fresh_thread(lambda s=spec, i=items: render_all(site, [(s, i)]))
             for spec, items in plan}
    shuffled = order.draw(st.permutations(plan))
    together = in_fresh_thread(lambda: render_all(site, shuffled))
    for (spec, _), files in zip(shuffled, together, strict=True):
        assert [files] == alone[spec.path("")], spec.path("")


def test_an_edited_article_is_rendered_again(
        plan_and_site: tuple[list[tuple[feeds.FeedSpec, Sequence[Article]]], Site]) -> None:
    plan, site = plan_and_site
    spec, items = plan[0]

    def edit_and_render() -> list[list[OutputFile]]:
        first = render_all(site, [(spec, items)])
        edited = replace(items[0], content_html="<p>The vote was moved.</p>")
        edited = replace(edited, fingerprint=rendered_fingerprint(edited))
        return first + render_all(site, [(spec, [edited, *items[1:]])])

    before, after = in_fresh_thread(edit_and_render)
    for old, new in zip(before, after, strict=True):
        assert b"The vote was moved." not in old.data
        assert b"The vote was moved." in new.data


def test_entries_forgotten_by_a_small_memo_are_made_again(
        plan_and_site: tuple[list[tuple[feeds.FeedSpec, Sequence[Article]]], Site],
        monkeypatch: pytest.MonkeyPatch) -> None:
    plan, site = plan_and_site
    expected = in_fresh_thread(lambda: render_all(site, plan))
    monkeypatch.setattr(memo, "SIZE", 2)
    assert in_fresh_thread(lambda: render_all(site, plan[::-1])) == expected[::-1]


def test_the_memo_keeps_only_the_most_recently_used() -> None:
    kept: memo.Memo[str] = memo.Memo(2)
    kept.put("a", "A")
    kept.put("b", "B")
    assert kept.get("a") == "A"  # "b" is now the oldest
    kept.put("c", "C")
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == ("A", None, "C")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8)


@given(head=st.dictionaries(st.text(), JSON_VALUES, min_size=1, max_size=4).filter(
           lambda d: "items" not in d),
       items=st.lists(st.dictionaries(st.text(), JSON_VALUES, max_size=4), max_size=4))
def test_items_encoded_apart_give_the_bytes_of_the_whole(head: dict[str, object],
                                                         items: list[dict[str, object]]) -> None:
    def encode(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, indent=2)

    apart = json_feed.with_items(encode(head),
                                 [encode(i).replace("\n", "\n" + json_feed.ITEM_INDENT)
                                  for i in items])
    assert apart == encode({**head, "items": items})


def test_a_build_leaves_no_entries_behind_in_its_thread(
        make_site: SiteFactory, clock: Any) -> None:
    root = make_site({f"content/a{n}.md": article(f"Story {n}", f"2026-10-{n:02d}")
                      for n in range(1, 4)})

    def build_and_look() -> int:
        publish.build(settings_of(root), clock)
        return len(memo.of_thread("publisher.build.feeds.atom")._items)

    assert in_fresh_thread(build_and_look) == 0


ATOM = "http://www.w3.org/2005/Atom"
MARKUP = st.sampled_from(["<item>", "</item>", "</item>\n    <item>", "<entry>", "</entry>",
                          "</entry>\n  <entry>", "]]>", "&amp;", "<![CDATA[", "\n    "])


PLAIN = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=5)
PIECES = st.lists(MARKUP | PLAIN, min_size=1, max_size=6).map("".join)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=PIECES, body=PIECES)
def test_an_entry_that_reads_like_a_tag_is_cut_out_whole(
        plan_and_site: tuple[list[tuple[feeds.FeedSpec, Sequence[Article]]], Site],
        title: str, body: str) -> None:
    """Entries are cut out of the written document at their tags: text that looks like
    one is escaped, so every document keeps each entry, and the same bytes, however
    many documents held it before."""
    plan, site = plan_and_site
    spec, items = plan[0]
    odd = replace(items[1], title=f"Story {title}", content_html=f"<p>{escape(body)}</p>")
    odd = replace(odd, fingerprint=rendered_fingerprint(odd))
    shown = [items[0], odd, *items[2:]]
    alone = in_fresh_thread(lambda: render_all(site, [(spec, shown)]))[0]
    after = in_fresh_thread(lambda: render_all(site, [(spec, shown[1:]), (spec, shown)]))[1]
    assert after == alone
    for file in alone:
        if file.path.endswith(".json"):
            items_shown = json.loads(file.data)["items"]
            assert [i["title"] for i in items_shown] == [plain_title(a.title) for a in shown]
            continue
        root = etree.fromstring(file.data)
        entries = root.findall("channel/item") or root.findall(f"{{{ATOM}}}entry")
        titles = [e.findtext("title") or e.findtext(f"{{{ATOM}}}title") for e in entries]
        assert titles == [plain_title(a.title) for a in shown], file.path


@pytest.mark.parametrize("empty_first", [True, False])
def test_an_entry_without_content_beside_others_keeps_every_document_whole(
        plan_and_site: tuple[list[tuple[feeds.FeedSpec, Sequence[Article]]], Site],
        empty_first: bool) -> None:
    """An archive declares only the namespaces its entries use: one written beside an
    entry without content, whose own entries came from the memo, still declares theirs."""
    plan, site = plan_and_site
    spec, items = next((s, i) for s, i in plan if s.archived and len(i) > 1)
    empty = replace(items[0], content_html="", summary_html="")
    empty = replace(empty, fingerprint=rendered_fingerprint(empty))
    shown = [empty, *items[1:]] if empty_first else [*items[:-1], empty]
    alone = in_fresh_thread(lambda: render_all(site, [(spec, shown)]))[0]
    after = in_fresh_thread(lambda: render_all(site, [(spec, items), (spec, shown)]))[1]
    assert after == alone
    for file in alone:
        if file.path.endswith(".xml"):
            etree.fromstring(file.data)  # every prefix declared
