"""Links in raw HTML follow one set of rules, wherever the URL sits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from publisher.content import markup
from publisher.content.markup import absolute_srcset, absolute_url, markdown_to_html

BASE = "https://news.example.org/2026/11/ferry/"


@pytest.mark.parametrize(("srcset", "expected"), [
    ("small.png 1x, big.png 2x",
     "https://news.example.org/2026/11/ferry/small.png 1x, "
     "https://news.example.org/2026/11/ferry/big.png 2x"),
    ("javascript:alert(1) 1x, /ok.png 2x", "https://news.example.org/ok.png 2x"),
    ("JaVaScRiPt:alert(1)", None),
    ("data:image/png;base64,AAAA 1x", None),
    ("/a.png\t480w,/b.png 800w",
     "https://news.example.org/a.png 480w, https://news.example.org/b.png 800w"),
    ("https://cdn.example.org/a,b.png 2x", "https://cdn.example.org/a,b.png 2x"),
    ("", None),
])
def test_srcset_goes_through_the_rules_of_src(srcset: str, expected: str | None) -> None:
    assert absolute_srcset(srcset, BASE) == expected


def test_srcset_is_filtered_in_img_and_source_alike() -> None:
    html = markdown_to_html(
        '<picture><source srcset="javascript:x 1x, hi.webp 2x"></picture>'
        '<img src="lo.png" srcset="vbscript:x 1x">', BASE)
    assert html == (f'<p><picture><source srcset="{BASE}hi.webp 2x"></picture>'
                    f'<img src="{BASE}lo.png"></p>')


@pytest.mark.parametrize("url", ["http://[::1", "https://[zz/a.png"])
def test_a_url_that_cannot_be_read_is_dropped_not_a_crash(url: str) -> None:
    assert absolute_url(url, BASE) is None
    html = markdown_to_html(f'<a href="{url}">x</a> ![i]({url})', BASE)
    assert html == '<p><a>x</a> <img alt="i"></p>'


def test_threads_cleaning_at_once_each_resolve_against_their_own_article() -> None:
    bases = [f"https://example.com/2026/10/story-{n}/" for n in range(8)]

    def clean(base: str) -> list[str]:
        return [markup.sanitize('<a href="notes/">Notes</a>', base) for _ in range(200)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(clean, bases))
    for base, cleaned in zip(bases, results, strict=True):
        assert set(cleaned) == {f'<a href="{base}notes/">Notes</a>'}
