"""The plain-text importer: reading the old site's layout, writing Markdown that loads and
renders as the author's text, and `publisher import` as a user meets it."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from publisher import publish
from publisher.cli import cli
from publisher.clock import fixed_clock
from publisher.config import load_settings
from publisher.content import frontmatter
from publisher.content.importer import (
    Block,
    PlainArticle,
    escape_inline,
    is_heading,
    parse_text,
    render_block,
    to_markdown,
)
from publisher.content.load import derive_id
from publisher.content.markup import html_to_text, markdown_to_html
from publisher.errors import ImporterError
from publisher.models import Clock
from tests.conftest import SiteFactory, settings_of, snapshot

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
CHICAGO = ZoneInfo("America/Chicago")
MARCH_1 = datetime(2026, 3, 1, 8, 0, tzinfo=CHICAGO)  # the date of the expected outputs
SITE_CONFIG = """\
title = "The Larkhaven Test"
base_url = "https://larkhaven.example/"
timezone = "America/Chicago"

[author]
name = "Explainer Desk"
"""
FERRY = "content/larkhavens-ferry-fares-what-changes-in-march.md"
MARKET = "content/the-night-market-moves-to-the-quay.md"
LOOKALIKES = "content/rates-rules-the-1-question-for-larkhaven-port.md"
FIXTURES = {  # plain text -> expected article
    "larkhaven-ferry.txt": ("larkhaven-ferry.md", FERRY),
    "night-market-crlf-bom.txt": ("night-market-crlf-bom.md", MARKET),
    "markdown-lookalikes.txt": ("markdown-lookalikes.md", LOOKALIKES),
}


def fixture_text(name: str) -> str:
    text, problems = frontmatter.decode((DATA / name).read_bytes(), name)
    assert text is not None, problems
    return text


def shape(article: PlainArticle) -> list[tuple[str, str]]:
    return [(block.kind, block.text) for block in article.blocks]


# --- reading the old site's layout ----------------------------------------------------


def test_reads_title_headings_paragraphs_and_drops_the_footer() -> None:
    article = parse_text(fixture_text("larkhaven-ferry.txt"), "larkhaven-ferry.txt")
    assert article.title == "Larkhaven’s Ferry Fares: What Changes in March"
    kinds = [(kind, text if kind == "heading" or len(text) < 70 else text[:40])
             for kind, text in shape(article)]
    assert kinds == [
        ("heading", "A Harbour Service Rebuilt From the Keel Up"),
        ("paragraph", "The Larkhaven Harbour Authority will rai"),
        ("heading", "How the New Fares Work"),
        ("paragraph", "A single crossing costs $3.10, and a mon"),
        ("paragraph", "Three things change on 3 March:"),
        ("paragraph", "Paper tickets end. Cards and phones replace them at every pier."),
        ("heading", "Who Pays More?"),
        ("paragraph", "Commuters who cross twice a day pay abou"),
        ("heading", "The Council Vote"),
        ("paragraph", "Councillor Mira Osei voted against the r"),
        ("paragraph", "“The boats come first.”"),
        ("paragraph", "The vote passed 7 to 4."),
        ("heading", "What Comes Next?"),
        ("paragraph", "The first electric boat, the Wren, is du"),
    ]
    assert "riders’ groups call the timing “unkind”" in article.blocks[1].text


def test_bom_and_crlf_fixture_reads_like_plain_lf_text() -> None:
    raw = (DATA / "night-market-crlf-bom.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == raw.count(b"\n") > 10
    article = parse_text(fixture_text("night-market-crlf-bom.txt"), "night-market.txt")
    assert article.title == "The Night Market Moves to the Quay"
    assert [kind for kind, _ in shape(article)] == [
        "paragraph", "heading", "paragraph", "heading", "paragraph"]
    assert shape(article)[1] == ("heading", "Where Will It Be?")
    assert "Ferry Fares" not in shape(article)[-1][1]  # the footer's "Next" half is gone


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_line_endings_and_bom_do_not_change_the_result(newline: str, bom: bytes) -> None:
    plain = fixture_text("larkhaven-ferry.txt")
    raw = bom + plain.replace("\n", newline).encode()
    text, problems = frontmatter.decode(raw, "x.txt")
    assert problems == []
    assert text is not None
    assert parse_text(text, "x.txt") == parse_text(plain, "x.txt")


@pytest.mark.parametrize(("line", "expected"), [
    ("What Comes Next?", True),
    ("How the New Fares Work", True),
    ("Ferry Fares (Again)", True),
    ("Quay Street, Then the Bridge", True),
    ("“Harbour Saver” Explained", True),
    ("The vote passed 7 to 4.", False),
    ("“The boats come first.”", False),
    ("Paper tickets end.", False),
    ("Three things change on 3 March:", False),
    ("Stop the rise!", False),
    ("(See the map.)", False),
    ("and so the ferry sails on", False),
    ("1999", False),
    ("* * *", False),
    ("One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve", True),
    ("One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen", False),
    ("A" * 101, False),
])
def test_what_counts_as_a_heading(line: str, expected: bool) -> None:
    assert is_heading(line) is expected


@pytest.mark.parametrize("footer", [
    "Previous\nPrevious\n\nOlder Story\n\nNext\nNext\n\nNewer Story: Part 2",
    "Previous\nPrevious\n\nOlder Story\n",
    "\n\nNext\nNext\n\n\nNewer Story\n\n\n",
    "PREVIOUS\n\nprevious\n\nOlder Story\n",
])
def test_the_old_sites_footer_is_dropped_in_any_of_its_forms(footer: str) -> None:
    article = parse_text(f"Quay Works\n\nThe wall is mended.\n\n{footer}", "a.txt")
    assert shape(article) == [("paragraph", "The wall is mended.")]


def test_a_heading_called_next_over_a_paragraph_is_not_a_footer() -> None:
    text = "Quay Works\n\nThe wall is mended.\n\nNext\n\nThe council meets in May.\n"
    assert shape(parse_text(text, "a.txt")) == [
        ("paragraph", "The wall is mended."),
        ("heading", "Next"),
        ("paragraph", "The council meets in May."),
    ]


def test_wrapped_lines_join_into_one_paragraph_and_never_make_a_heading() -> None:
    text = "Quay Works\n\n\nThe council voted on Tuesday\nto mend the quay wall\nBefore Winter\n"
    assert shape(parse_text(text, "a.txt")) == [
        ("paragraph", "The council voted on Tuesday to mend the quay wall Before Winter")]


def test_a_sentence_after_the_title_is_the_lead_and_white_space_is_tidied() -> None:
    text = "\n\n  Quay   Works \n\nThe wall   is mended.\t\n\n   Why   Now?  \n\nRain.\n"
    article = parse_text(text, "a.txt")
    assert article.title == "Quay Works"
    assert shape(article) == [
        ("paragraph", "The wall is mended."), ("heading", "Why Now?"), ("paragraph", "Rain.")]


@pytest.mark.parametrize(("text", "message", "line"), [
    ("", "the file is empty", None),
    (" \n\t\n\n", "the file holds only white space", None),
    ("Quay Works\n\n\n", "there is no text after the title", 1),
    ("\nQuay Works\n\nPrevious\nPrevious\n\nOlder\n", "there is no text after the title", 2),
    ("* * *\n\nText.\n", "no title line: the first line '* * *' has no letters or digits", 1),
    ("\n\n" + "word " * 41 + "\n\nText.\n",
     "no title line: the first line is 204 characters long, and a title has at most 200", 3),
])
def test_text_without_a_usable_title_or_body_is_refused(text: str, message: str,
                                                        line: int | None) -> None:
    with pytest.raises(ImporterError) as caught:
        parse_text(text, "a.txt")
    assert caught.value.problem.message == message
    assert (caught.value.problem.path, caught.value.problem.line) == ("a.txt", line)


# --- Markdown that renders as the author's text ---------------------------------------

TRICKY_PARAGRAPHS = [
    "1. The first rule of the harbour.",
    "2026) was a year of floods.",
    "# is a hash.",
    "###",
    "- a dash.",
    "+ a plus.",
    "* a star.",
    "---",
    "- - -",
    "___",
    "> quoted.",
    "Stars *here* and **there**.",
    "__init__ and _under_ and snake_case_name.",
    "<b>bold</b>, an autolink <quay:works> and <!-- a comment -->",
    "<script>alert(1)</script>",
    "Entities &amp; &#169; &copy; stay as typed.",
    "a `code` span and ``two``",
    "[link](/fares/) and ![image](a.png)",
    "[quay]: /fares/",
    "~strike~ and ~~strike~~",
    "```python",
    "~~~",
    "back\\slash\\ and a\\*b and a trailing backslash \\",
    "| a | b |",
    "=== not a heading",
    "Ends with hashes ##",
]
TRICKY_HEADINGS = [
    "Is C# a Heading? #",
    "Vote ##",
    "Rates *and* Rules",
    "_Under_ Way",
    "# Hash First",
    "1. Numbered",
    "<em>Tagged</em>",
]


def rendered(block: Block) -> tuple[set[str], str]:
    html = markdown_to_html(render_block(block), "https://larkhaven.example/a/")
    tags = {tag.split()[0].strip("/") for tag in html.replace(">", "<").split("<")[1::2]}
    return tags, html_to_text(html)


@pytest.mark.parametrize("text", TRICKY_PARAGRAPHS)
def test_markdown_lookalikes_in_a_paragraph_render_as_typed(text: str) -> None:
    assert rendered(Block("paragraph", text)) == ({"p"}, " ".join(text.split()))


@pytest.mark.parametrize("text", TRICKY_HEADINGS)
def test_markdown_lookalikes_in_a_heading_render_as_typed(text: str) -> None:
    assert rendered(Block("heading", text)) == ({"h2"}, text)


def test_ordinary_prose_is_left_unescaped() -> None:
    prose = ("Mayor Quill’s plan costs $4.5 million (about 3% of the budget) — a snake_case "
             "name, 5 < 6 & 7 > 2, #hashtags, U.S. rules; “quotes”: fine! Really? 1. Yes.")
    assert escape_inline(prose) == prose
    assert render_block(Block("paragraph", prose)) == prose
    assert render_block(Block("heading", "What Comes Next?")) == "## What Comes Next?"


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_rendered_article_matches_the_expected_file(name: str) -> None:
    expected_name, source = FIXTURES[name]
    article = parse_text(fixture_text(name), name)
    text = to_markdown(article, date=MARCH_1, source=source)
    assert text == (DATA / expected_name).read_text("utf-8")


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_expected_files_load_and_render_their_headings(name: str) -> None:
    expected_name, source = FIXTURES[name]
    article = parse_text(fixture_text(name), name)
    fields, problems = frontmatter.parse((DATA / expected_name).read_text("utf-8"), source, UTC)
    assert problems == []
    assert fields is not None
    assert (fields.title, fields.date, fields.slug) == (
        article.title, MARCH_1, source.removeprefix("content/").removesuffix(".md"))
    html = markdown_to_html(fields.body, "https://larkhaven.example/a/")
    headings = [text for kind, text in shape(article) if kind == "heading"]
    assert [part.split("</h2>")[0] for part in html.split("<h2>")[1:]] == [
        h.replace("&", "&amp;").replace("<", "&lt;") for h in headings]
    assert html_to_text(html) == " ".join(text for _, text in shape(article))


TRICKY_TITLES = [
    "Fares: Why?", "'Single' Quotes", '"Double" Quotes', "It’s “Fine”", "#1 Ferry", "null",
    "2026", "yes", "- Dash First", "@mayor Replies", "a: b # c", "100% Sure", "? Question First",
    "[Brackets] and {Braces}", "Ends With Backslash \\", "*Stars*", "& Ampersand", "!Bang",
    "| Pipe", "--- Dashes ---", "Über die Fähre — 渡轮", "key: value: more", "Tab\tInside",
]


@pytest.mark.parametrize("title", TRICKY_TITLES)
def test_any_title_survives_the_front_matter(title: str) -> None:
    article = PlainArticle(title, (Block("paragraph", "Text."),))
    text = to_markdown(article, date=MARCH_1, source="content/t.md", tags=("Quay: Works", "yes"),
                       draft=True)
    fields, problems = frontmatter.parse(text, "content/t.md", UTC)
    assert problems == []
    assert fields is not None
    assert (fields.title, fields.date, fields.tags, fields.draft) == (
        " ".join(title.split()), MARCH_1, ("Quay: Works", "yes"), True)


def test_the_written_id_is_the_one_the_build_would_derive() -> None:
    text = (DATA / "larkhaven-ferry.md").read_text("utf-8")
    fields, _ = frontmatter.parse(text, FERRY, UTC)
    assert fields is not None
    assert fields.id is not None
    without_id = "".join(line for line in text.splitlines(keepends=True)
                         if not line.startswith("id: "))
    bare, _ = frontmatter.parse(without_id, FERRY, UTC)
    assert bare is not None
    assert bare.id is None
    assert derive_id(FERRY, bare) == fields.id


# --- `publisher import` end to end ------------------------------------------------------


@pytest.fixture
def site(make_site: SiteFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway site, with the fixtures copied into the current folder."""
    root = make_site(config=SITE_CONFIG)
    for name in FIXTURES:
        shutil.copyfile(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return root


def run_import(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--site", str(root), "import", *args],
                              catch_exceptions=False)


def front_lines(path: Path) -> list[str]:
    return path.read_text("utf-8").split("---\n")[1].splitlines()


def test_import_then_build_puts_the_articles_in_the_feed(site: Path) -> None:
    result = run_import(site, *FIXTURES, "--date", "2026-03-01T08:00")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"imported larkhaven-ferry.txt as {FERRY}\n"
        f"imported night-market-crlf-bom.txt as {MARKET}\n"
        f"imported markdown-lookalikes.txt as {LOOKALIKES}\n"
        "imported 3 of 3 files\n"
    )
    for name, (expected, target) in FIXTURES.items():
        assert (site / target).read_bytes() == (DATA / expected).read_bytes(), name
    before = snapshot(site / "content")

    report = publish.build(load_settings(site), fixed_clock(datetime(2026, 3, 2, tzinfo=UTC)))
    assert (report.articles, report.ids_assigned, report.warnings) == (3, (), ())
    assert snapshot(site / "content") == before  # the ids were written at import
    items = {i["title"]: i for i in json.loads((site / "public/feed.json").read_bytes())["items"]}
    ferry = items["Larkhaven’s Ferry Fares: What Changes in March"]
    assert ferry["date_published"] == "2026-03-01T08:00:00-06:00"
    assert "<h2>Who Pays More?</h2>" in ferry["content_html"]
    assert "<p>“The boats come first.”</p>" in ferry["content_html"]
    assert "Previous" not in ferry["content_html"]
    assert "Road Works" not in ferry["content_html"]
    lookalikes = items["Rates & Rules: The “#1” Question for Larkhaven_Port"]["content_html"]
    assert "<p>1. The first rule of the harbour" in lookalikes
    assert "Stars *like these* and __underscores__" in lookalikes
    assert "&lt;b&gt;tags&lt;/b&gt;" in lookalikes


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_any_line_ending_imports_to_the_same_article(site: Path, newline: bytes) -> None:
    raw = b"\xef\xbb\xbf" + (DATA / "larkhaven-ferry.txt").read_bytes().replace(b"\n", newline)
    Path("larkhaven-ferry.txt").write_bytes(raw)
    result = run_import(site, "larkhaven-ferry.txt", "--date", "2026-03-01T08:00:00-06:00")
    assert result.exit_code == 0, result.stderr
    assert (site / FERRY).read_bytes() == (DATA / "larkhaven-ferry.md").read_bytes()


def test_an_existing_article_is_never_overwritten(site: Path) -> None:
    assert run_import(site, "larkhaven-ferry.txt").exit_code == 0
    first = (site / FERRY).read_bytes()
    result = run_import(site, "larkhaven-ferry.txt", "--date", "2027-01-01")
    assert result.exit_code == 1
    assert result.stdout == "imported 0 of 1 file\n"
    assert result.stderr == (
        f"error: larkhaven-ferry.txt: {FERRY} already exists; it was not overwritten\n"
        f"  hint: to import again, rename or delete {FERRY}, or change the title on the first "
        "line of this file\n"
    )
    assert (site / FERRY).read_bytes() == first
    assert sorted(os.listdir(site / "content")) == [FERRY.removeprefix("content/")]


def test_two_files_with_one_slug_in_one_run(site: Path) -> None:
    Path("copy.txt").write_bytes((DATA / "larkhaven-ferry.txt").read_bytes() + b"\n\nMore.")
    result = run_import(site, "larkhaven-ferry.txt", "copy.txt")
    assert result.exit_code == 1
    assert result.stdout == f"imported larkhaven-ferry.txt as {FERRY}\nimported 1 of 2 files\n"
    assert result.stderr == (
        f"error: copy.txt: {FERRY} was just imported from larkhaven-ferry.txt, whose title has "
        "the same slug; it was not overwritten\n"
        "  hint: change the title on the first line of one of the two files\n"
    )
    assert b"More." not in (site / FERRY).read_bytes()


@pytest.mark.parametrize(("option", "written"), [
    ("2026-07-04", "2026-07-04T00:00:00-05:00"),
    ("2026-01-15 09:30", "2026-01-15T09:30:00-06:00"),
    ("2026-07-04T09:30:00+02:00", "2026-07-04T09:30:00+02:00"),
    ("2026-07-04T09:30:00.123456Z", "2026-07-04T09:30:00+00:00"),
])
def test_date_option_is_read_in_the_site_timezone(site: Path, option: str, written: str) -> None:
    assert run_import(site, "larkhaven-ferry.txt", "--date", option).exit_code == 0
    assert front_lines(site / FERRY)[1] == f"date: {written}"


def test_without_date_the_modification_time_in_the_site_timezone_is_used(site: Path) -> None:
    moment = datetime(2025, 1, 15, 18, 45, 30, 750000, tzinfo=UTC).timestamp()
    os.utime("larkhaven-ferry.txt", (moment, moment))
    assert run_import(site, "larkhaven-ferry.txt").exit_code == 0
    assert front_lines(site / FERRY)[1] == "date: 2025-01-15T12:45:30-06:00"


def test_tags_and_draft(site: Path) -> None:
    result = run_import(site, "night-market-crlf-bom.txt", "--date", "2026-03-01",
                        "--tag", " Quay  works", "--tag", "Markets", "--tag", "quay works",
                        "--draft")
    assert result.exit_code == 0
    assert front_lines(site / MARKET)[2:4] == ["tags: [Quay works, Markets]", "draft: true"]
    report = publish.build(load_settings(site), fixed_clock(datetime(2026, 3, 2, tzinfo=UTC)))
    assert (report.articles, report.drafts) == (0, 1)


@pytest.mark.parametrize(("args", "message"), [
    (("--date", "next tuesday"), "Error: Invalid value for --date: 'next tuesday' is not an "
     "ISO 8601 date or date-time, e.g. 2026-11-03 or 2026-11-03T09:30:00+01:00"),
    (("--tag", "***"), "Error: Invalid value for '--tag': tag '***' has no letters or digits"),
])
def test_bad_options_stop_before_anything_is_imported(site: Path, args: tuple[str, ...],
                                                      message: str) -> None:
    result = run_import(site, "larkhaven-ferry.txt", *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == message
    assert os.listdir(site / "content") == []


def test_every_bad_file_is_reported_at_once_and_the_good_ones_imported(site: Path) -> None:
    long_title = "The harbour board met again. " * 7
    files = {
        "empty.txt": b"",
        "bom-only.txt": b"\xef\xbb\xbf",
        "blank.txt": b"  \r\n\n\t\n",
        "latin1.txt": b"Caf\xc3\xa9 Society on Quay Street\n\nThe caf\xe9 opens at seven.\n",
        "long-title.txt": b"\n\n" + long_title.encode() + b"\n\nText.\n",
        "stars.txt": b"* * *\n\nText.\n",
        "title-only.txt": b"Quay Works\n\nNext\nNext\n\nOlder Story\n",
    }
    for name, data in files.items():
        Path(name).write_bytes(data)
    Path("folder.txt").mkdir()
    names = ["larkhaven-ferry.txt", *files, "folder.txt", "missing.txt"]
    result = run_import(site, *names)
    assert result.exit_code == 1
    assert result.stdout == f"imported larkhaven-ferry.txt as {FERRY}\nimported 1 of 10 files\n"
    layout = "  hint: the first line is the title; the text follows it after a blank line"
    assert result.stderr.splitlines() == [
        "error: empty.txt: the file is empty", layout,
        "error: bom-only.txt: the file is empty", layout,
        "error: blank.txt: the file holds only white space", layout,
        "error: latin1.txt:3: not valid UTF-8: byte 0xe9 at column 8 (offset 37)",
        "  hint: save the file with UTF-8 encoding; a file saved as Windows-1252 or Latin-1 can "
        "be converted with `iconv -f windows-1252 -t utf-8`",
        "error: long-title.txt:3: no title line: the first line is 202 characters long, and a "
        "title has at most 200", layout,
        "error: stars.txt:1: no title line: the first line '* * *' has no letters or digits",
        layout,
        "error: title-only.txt:1: there is no text after the title", layout,
        "error: folder.txt: cannot read the file: Is a directory",
        "  hint: check the file name",
        "error: missing.txt: cannot read the file: No such file or directory",
        "  hint: check the file name",
        "9 files not imported",
    ]
    assert sorted(os.listdir(site / "content")) == [FERRY.removeprefix("content/")]


def test_control_characters_from_a_pdf_copy_are_left_out_and_counted(site: Path,
                                                                     clock: Clock) -> None:
    Path("pdf.txt").write_bytes(b"Harbour Notes\n\nThe ferry\x0cruns late; fi\x02nally.\x1a\n")
    result = run_import(site, "pdf.txt")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == ("imported pdf.txt as content/harbour-notes.md "
                                             "(3 invisible control characters left out)")
    text = (site / "content/harbour-notes.md").read_text()
    assert "The ferry runs late; finally.\n" in text
    assert publish.build(settings_of(site), clock).warnings == ()


def test_a_noncharacter_stops_the_file_with_its_line_and_column(site: Path) -> None:
    Path("odd.txt").write_bytes("Harbour Notes\n\nBroken \ufffe text.\n".encode())
    result = run_import(site, "odd.txt")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: odd.txt:3: U+FFFE (not a character) at column 8 is not a character, and no "
        "feed can carry it",
        "  hint: delete it: it is not text, only the trace of a broken conversion"]
    assert not (site / "content/harbour-notes.md").exists()
