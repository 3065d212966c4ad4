"""Generated inputs as they arrive in real life: from Windows editors, CMS exports, PDF
copies and hostile contributors, and mostly almost right.

Each strategy gives the bytes or text of one file. They mix well-formed values
with the mistakes this project has met: impossible dates, YAML's surprises,
control characters, character references, raw HTML built to run script, odd
line endings and encodings, keys written twice.
"""

from __future__ import annotations

import json
from datetime import date

from hypothesis import strategies as st

# -- pieces --------------------------------------------------------------------------

ODD_CHARACTERS = ["\x00", "\x01", "\x02", "\x08", "\x0b", "\x0c", "\x1a", "\x1b", "\x7f",
                  "\x85", "\x92", "\x96", "\u00a0", "\u00ad", "\u200b", "\u2028", "\u2029",
                  "\ufeff", "\ufffd", "\ufffe", "\uffff", "\U0001f600", "ﬁ", "é", "e\u0301",
                  "\t", "\r", "’", "“", "<", ">", "&", '"', "'", "\\", ":", "#", "-", "*", "`",
                  "{", "}", "[", "]", "|", "%", "@", "!", "?"]
WORDS = ["ferry", "fares", "council", "Larkhaven", "harbour", "Café", "naïve", "Ελληνικά",
         "日本語", "العربية", "No", "yes", "null", "~", "12:30", "010", "1e3", "2026-11-03",
         "true", ".nan", "&amp;", "&#1;", "&#x0;", "&#xFFFE;", "&#xD800;", "&#65;", "&bogus;"]
HOSTILE_HTML = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>', '<a href="jAvAsCrIpT:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>', '<a href=" javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>', '<img srcset="javascript:alert(1) 1x, a.png 2x">',
    '<picture><source srcset="javascript:alert(1)"></picture>', "<svg onload=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">b</button>'
    "</form>", '<object data="javascript:alert(1)"></object>',
    '<a href="data:text/html,<script>alert(1)</script>">d</a>',
    '<math><mi xlink:href="javascript:alert(1)">m</mi></math>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="background:url(javascript:alert(1))">s</div>', "<!--<script>-->",
    '<base href="javascript:alert(1)/">', '<meta http-equiv="refresh" content="0;url=javascript:'
    'alert(1)">', '<a href="vbscript:msgbox(1)">v</a>', '<video poster="javascript:alert(1)">',
    '<table background="javascript:alert(1)"><tr><td>t</td></tr></table>',
    "[x](javascript:alert(1))", "![x](javascript:alert(1))", "<javascript:alert(1)>",
    "[x]( javascript:alert(1) )", '[x](<javascript:alert(1)> "t")',
    "[ref]\n\n[ref]: javascript:alert(1)", '<a href="http://[::1">broken</a>',
    '<img src="images/ferry map.png">', '<a href="/2026/11/other/#top">rel</a>',
]
MARKDOWN = ["# Heading", "## Sub", "> quote", "- item", "1. item", "```\ncode &#1;\n```",
            "`code`", "| a | b |\n|---|---|\n| 1 | 2 |", "---", "***bold***", "~~gone~~",
            "[link](https://example.org/a?b=1&c=2)", "![image](images/a.png)", "<br>", "&copy;",
            "\\", "*", "<div>\n\nblock\n\n</div>", "[unclosed", "<http://example.org>"]

PLAIN_WORDS = ["ferry", "fares", "council", "Larkhaven", "harbour", "Café", "naïve", "Ελληνικά",
               "日本語", "العربية", "rise", "in", "November", "the", "Quay’s", "“new”", "—", "2026"]
text_piece = st.one_of(
    st.sampled_from(PLAIN_WORDS), st.sampled_from(PLAIN_WORDS), st.sampled_from(PLAIN_WORDS),
    st.sampled_from(WORDS), st.sampled_from(ODD_CHARACTERS),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
)


def _joined(pieces: st.SearchStrategy[str], max_size: int) -> st.SearchStrategy[str]:
    return st.lists(pieces, max_size=max_size).map(" ".join)


clean_text = st.lists(st.sampled_from(PLAIN_WORDS), min_size=1, max_size=6).map(" ".join)
inline_text = _joined(text_piece, 8)
mostly_clean = st.one_of(clean_text, clean_text, clean_text, inline_text)
body_block = st.one_of(clean_text, clean_text, inline_text, st.sampled_from(MARKDOWN),
                       st.sampled_from(MARKDOWN), st.sampled_from(HOSTILE_HTML))
bodies = st.lists(body_block, max_size=8).map("\n\n".join)
hostile_bodies = st.lists(st.sampled_from(HOSTILE_HTML + MARKDOWN + WORDS[:9]), min_size=1,
                          max_size=8).map("\n\n".join)

# -- front matter --------------------------------------------------------------------

good_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2026, 11, 1)).map(str)
odd_dates = st.sampled_from([
    "2026-02-30", "2025-13-45", "0000-01-01", "2026-01-01T10:00:00+99:00", "2026-11-03 25:00",
    "'9999-12-31T23:59:59-12:00'", "'0001-01-01T00:00:00+05:00'", "next tuesday", "20260101",
    "[2026, 1, 1]", "{}", "'Tue, 03 Nov 2026 09:30:00 +0100'", "'Tue, 31 Feb 2026 09:30 +0100'",
    "2026-11-03T09:30:00Z", "1970-01-01", "'2026-11-03'", "~", "", "2026-W45", "2026-307",
])
dates = st.one_of(good_dates, good_dates, good_dates, good_dates, odd_dates)


def _yaml_scalar(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON is YAML: any text as a quoted scalar


raw_value = st.one_of(clean_text, clean_text, clean_text.map(_yaml_scalar),
                      inline_text.map(_yaml_scalar), inline_text, st.sampled_from(WORDS))
tag_lists = st.one_of(
    st.lists(raw_value, max_size=6).map(lambda tags: "[" + ", ".join(tags) + "]"),
    inline_text.map(_yaml_scalar), st.just("[a, [b]]"), st.just("{a: 1}"),
    st.integers(0, 130).map(lambda n: "[" + ", ".join(f"t{i}" for i in range(n)) + "]"),
)
authors = st.one_of(raw_value, st.builds(
    lambda name, email, url: "{" + f"name: {name}, email: {email}, url: {url}" + "}",
    raw_value.map(_yaml_scalar),
    st.sampled_from(["a@example.org", "'=?utf-8?q?x?=@example.org'", "'a b'", "x"]),
    st.sampled_from(["https://example.org/", "'javascript:alert(1)'", "'http://[::1'", "/me"])))
optional_keys = st.fixed_dictionaries({}, optional={
    "slug": st.one_of(st.from_regex(r"[a-z0-9][a-z0-9-]{0,30}", fullmatch=True), raw_value,
                      st.just("a" * 230), st.just("'..'"), st.just("tags")),
    "tags": tag_lists,
    "author": authors,
    "summary": raw_value,
    "image": st.sampled_from(["images/a.png", "images/a.png", "https://example.org/a.png",
                              "'javascript:alert(1)'", "'http://[::1'",
                              "https://example.org/a.png", "'my photo.jpg'", "[1]", "//cdn.x/a"]),
    "id": st.one_of(raw_value, st.just("'urn:x\\x01'")),
    "draft": st.sampled_from(["true", "false", "false", "yes", "'no'", "1"]),
    "updated": dates,
    "authr": raw_value,
})


@st.composite
def article_texts(draw: st.DrawFn, body: st.SearchStrategy[str] = bodies) -> str:
    """The text of one article: half of them written with care (only their body is wild),
    the other half with any mistake in the front matter too."""
    if draw(st.booleans()):
        tags = draw(st.sampled_from(["", "tags: [harbour, Ferry News]\n", "tags: council\n"]))
        return f"---\ntitle: {draw(clean_text)}\ndate: {draw(good_dates)}\n{tags}---\n" \
            f"{draw(body)}\n"
    title = draw(st.one_of(clean_text, clean_text, raw_value))
    lines = [f"title: {title}", f"date: {draw(dates)}"]
    lines += [f"{key}: {value}" for key, value in draw(optional_keys).items()]
    lines = draw(st.permutations(lines))
    if draw(st.integers(0, 4)) == 0 and lines:  # a key written twice
        lines.append(draw(st.sampled_from(lines)))
    opening, closing = draw(st.sampled_from([("---", "---")] * 6 + [
        ("---", "..."), ("---", ""), ("", "---"), ("--- ", "---\t")]))
    return "\n".join([opening, *lines, closing, draw(body)]) + "\n"


@st.composite
def as_file(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> bytes:
    """Text saved the way editors save it: line endings, a BOM, now and then another encoding."""
    text = draw(texts)
    text = text.replace("\n", draw(st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"])))
    encoding = draw(st.sampled_from(["utf-8"] * 12 + ["utf-8-sig", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


# -- configuration and schedules ------------------------------------------------------

def _toml_string(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is a JSON string, escapes and all


odd_toml_value = st.one_of(
    st.sampled_from(['""', '"."', '".."', '"/"', '"content"', '"templates"', '".publisher"',
                     '"content/out"', "0", "-1", "1.5", "true", "[]", '["a", 1]', "{}", '"0m"',
                     '"99999999999w"', '"http://[::1"', '"https://x.org/?q=<b>"',
                     '"../{slug}/"', '"{year}//{slug}/"', '"{slug:>999999}/"', '"Mars/Olympus"',
                     '"en\\n"', '"a@example.org\\r\\nBcc: b@example.org"', '"\\u0000"',
                     '"=?utf-8?q?x?=@example.org"', '"{{ site.title "', "99999999999999999999"]),
    inline_text.map(_toml_string),
)
GOOD_CONFIG_VALUES = {
    "title": ['"The Gazette"', '"Café “Quay” — news"'], "description": ['"News"', '""'],
    "base_url": ['"https://example.org/news/"', '"http://127.0.0.1:8000"'],
    "language": ['"pt-BR"', '"en"'], "timezone": ['"America/Chicago"', '"UTC"'],
    "postal_address": ['"1 Quay, Larkhaven"'],
    "permalink": ['"{slug}/"', '"{year}/{month}/{day}/{slug}/"', '"articles/{slug}/"'],
    "content_dir": ['"content"', '"./content"'], "output_dir": ['"site"', '"out/www"'],
    "static_dir": ['"assets"'], "templates_dir": ['"theme"'], "schedules_dir": ['"timetable"'],
    "digests_dir": ['"sent"'], "nonsense": ['"x"'],
    "name": ['"Desk"'], "email": ['"desk@example.org"'], "url": ['"https://example.org/desk"'],
    "items": ["1", "10"], "content": ['"summary"', '"full"'], "tag_feeds": ["false", "true"],
    "hubs": ['["https://hub.example.org/"]', "[]"], "per_page": ["1", "3"],
    "from_address": ['"news@example.org"'], "from_name": ['"The Gazette"'],
    "reply_to": ['"desk@example.org"'], "subject": ['"{{ digest.title }}"', '"News & more"'],
    "unsubscribe_mailto": ['"mailto:leave@example.org"'], "period": ['"2w"', '"36h"'],
    "min_items": ["1", "5"], "max_items": ["1", "50"],
}
CONFIG_KEYS = {
    "": ["title", "description", "base_url", "language", "timezone", "postal_address",
         "permalink", "content_dir", "output_dir", "static_dir", "templates_dir",
         "schedules_dir", "digests_dir", "nonsense"],
    "author": ["name", "email", "url"],
    "feeds": ["items", "content", "tag_feeds", "hubs"],
    "pages": ["per_page"],
    "email": ["from_address", "from_name", "reply_to", "subject", "unsubscribe_mailto",
              "period", "min_items", "max_items"],
}
SCHEDULE_VALUES = {
    "name": ['"weekly"', '"a\\u0000b"', '"x\\n"'], "action": ['"build"', '"digest"'],
    "cron": ['"0 7 * * mon-fri"', '"* * * * *"', '"@weekly"', '"61 * * * *"', '"0 0 30 2 *"',
             '"*/0 * * * *"', '"0 7 * * fry"'],
    "every": ['"15m"', '"1h"', '"999999999999w"', '"0m"'],
    "timezone": ['"America/Chicago"', '"Australia/Lord_Howe"', '"Mars/Olympus"'],
    "tags": ['["transport"]', '["a,b"]', "[1]"], "min_items": ["1", "0"],
    "max_items": ["20", "-1"], "catch_up": ['"6h"', '"99999999w"'],
    "enabled": ["true", "false"], "nonsense": ["1"],
}
SCHEDULE_KEYS = sorted(SCHEDULE_VALUES)


def _value_for(key: str, table: dict[str, list[str]]) -> st.SearchStrategy[str]:
    good = st.sampled_from(table.get(key, ['"x"']))
    return st.one_of(good, good, good, odd_toml_value)


@st.composite
def config_texts(draw: st.DrawFn, base: str) -> str:
    """`base` (a working publisher.toml) with a few values replaced, added or made up."""
    changes: dict[tuple[str, str], str] = {}
    for _ in range(draw(st.integers(1, 3))):
        table = draw(st.sampled_from(sorted(CONFIG_KEYS)))
        key = draw(st.sampled_from(CONFIG_KEYS[table]))
        changes[(table, key)] = draw(_value_for(key, GOOD_CONFIG_VALUES))
    lines: list[str] = []
    table = ""
    for line in base.splitlines():
        if line.startswith("["):
            lines += _pending(changes, table)
            table = line.strip("[] ")
            lines.append(line)
        elif "=" in line and (table, line.split("=")[0].strip()) in changes:
            key = line.split("=")[0].strip()
            lines.append(f"{key} = {changes.pop((table, key))}")
        else:
            lines.append(line)
    lines += _pending(changes, table)
    for (table, key), value in changes.items():
        lines += [f"[{table}]", f"{key} = {value}"]
    return "\n".join(lines) + "\n"


def _pending(changes: dict[tuple[str, str], str], table: str) -> list[str]:
    mine = [(t, k) for (t, k) in changes if t == table]
    return [f"{key} = {changes.pop((table, key))}" for table, key in mine]


@st.composite
def schedule_texts(draw: st.DrawFn) -> str:
    """A schedule file: most often a working one with a key or two changed."""
    keys = {"action": draw(st.sampled_from(['"build"', '"digest"'])),
            draw(st.sampled_from(["cron", "every"])): draw(st.sampled_from(
                ['"0 7 * * *"', '"* * * * *"']) if draw(st.booleans()) else st.just('"15m"'))}
    if "every" in keys and keys["every"] != '"15m"':
        keys = {"action": keys["action"], "every": '"15m"'}
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(SCHEDULE_KEYS))
        keys[key] = draw(_value_for(key, SCHEDULE_VALUES))
    return "\n".join(f"{key} = {value}" for key, value in keys.items()) + "\n"


plain_texts = st.lists(st.one_of(inline_text, st.sampled_from(["", "Previous", "Next",
                                                               "* * *", "# not a heading"])),
                       max_size=12).map("\n".join)
