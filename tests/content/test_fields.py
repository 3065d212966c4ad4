"""Front matter from the wild: impossible dates, repeated keys, YAML's surprises, odd characters.

Each case is a file as a Windows editor, a CMS export, a copy from a PDF or a
hostile contributor might leave it; each gets a located message, never a traceback.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from publisher import publish
from publisher.content import frontmatter
from publisher.content.ids import insert_id
from publisher.errors import ContentError
from tests.conftest import SiteFactory, article, settings_of

DATE_HINT = "\n  hint: write a date as 2026-11-03, 2026-11-03 09:30 or 2026-11-03T09:30:00+01:00"
CONTROL_HINT = "\n  hint: it is invisible in most editors: delete it (with --strict it is an error)"
BROKEN_HINT = "\n  hint: delete it: it is not text, only the trace of a broken conversion"


def problems_of(text: str) -> list[str]:
    _, problems = frontmatter.parse(text, "a.md", UTC)
    return [str(p) for p in problems]


def front(*lines: str, body: str = "Body.\n") -> str:
    return "---\n" + "\n".join(lines) + "\n---\n" + body


@pytest.mark.parametrize(("written", "reason"), [
    ("2026-02-30", "day is out of range for month"),
    ("2025-13-45", "month must be in 1..12"),
    ("0000-01-01", "year 0 is out of range"),
    ("2026-11-03 25:00", "hour must be in 0..23"),
    ("2026-01-01T10:00:00+99:00", "a time zone offset is less than 24 hours, e.g. +01:00"),
    ("'9999-12-31T23:59:59-12:00'", "it is too close to the ends of the calendar"),
    ("'0001-01-01T00:00:00+05:00'", "it is too close to the ends of the calendar"),
])
def test_an_impossible_date_says_what_is_impossible(written: str, reason: str) -> None:
    shown = written.strip("'")
    assert problems_of(front("title: A", f"date: {written}")) == [
        f"a.md:3: date: cannot read date {shown!r}: {reason}" + DATE_HINT]


def test_an_impossible_updated_date_is_named_by_its_key() -> None:
    assert problems_of(front("title: A", "date: 2026-01-01", "updated: 2026-02-31")) == [
        "a.md:4: updated: cannot read updated '2026-02-31': day is out of range for month"
        + DATE_HINT]


def test_a_date_from_an_older_system_in_rfc_2822_is_read() -> None:
    fields, problems = frontmatter.parse(
        front("title: A", "date: 'Tue, 03 Nov 2026 09:30:00 +0100'"), "a.md", UTC)
    assert problems == []
    assert fields is not None and fields.date.isoformat() == "2026-11-03T09:30:00+01:00"


def test_a_key_written_twice_is_a_warning_naming_both_lines() -> None:
    text = front("title: First", "date: 2026-01-01", "title: Second",
                 "author: {name: A, name: B}")
    fields, problems = frontmatter.parse(text, "a.md", UTC)
    assert [str(p) for p in problems] == [
        "a.md:4: title: duplicate key 'title': also on line 2; the value on line 4 is the one "
        "used\n  hint: delete one of the two lines",
        "a.md:5: name: duplicate key 'name': also on line 5; the value on line 5 is the one "
        "used\n  hint: delete one of the two lines",
    ]
    assert all(p.warning for p in problems)
    assert fields is not None and fields.title == "Second"


def test_strict_makes_a_repeated_key_fatal(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": front("title: A", "title: B", "date: 2026-11-01")})
    with pytest.raises(ContentError) as error:
        publish.build(settings_of(root), clock, strict=True)
    assert [str(p) for p in error.value.problems] == [
        "content/a.md:3: title: duplicate key 'title': also on line 2; the value on line 3 is "
        "the one used\n  hint: delete one of the two lines"]
    assert not (root / "public").exists()


@pytest.mark.parametrize(("written", "title"), [
    ("No", "No"), ("yes", "yes"), ("12:30", "12:30"), ("010", "010"), ("1e3", "1e3"),
    ("2026-01-01", "2026-01-01"), ("~", ""), ('"No"', "No"), ("null", ""),
])
def test_a_text_field_is_read_as_written_not_as_yaml_1_1_guesses(written: str, title: str
                                                                  ) -> None:
    fields, _ = frontmatter.parse(front(f"title: {written}", "date: 2026-01-01"), "a.md", UTC)
    assert (fields.title if fields else "") == title


def test_tags_and_an_author_are_read_as_written_too() -> None:
    text = front("title: A", "date: 2026-01-01", "tags: [no, 010, 1_000]",
                 "author: {name: Off, email: a@example.org}")
    fields, _ = frontmatter.parse(text, "a.md", UTC)
    assert fields is not None
    assert fields.tags == ("no", "010", "1_000")
    assert fields.author == {"name": "Off", "email": "a@example.org"}


def test_control_characters_in_the_body_are_left_out_with_their_line_and_column() -> None:
    text = front("title: A", "date: 2026-01-01",
                 body="First line.\nPage\x0cbreak and a ligature \x02 here.\n")
    fields, problems = frontmatter.parse(text, "a.md", UTC)
    assert [str(p) for p in problems] == [
        "a.md:6: U+000C (FORM FEED) at column 5 cannot be carried by a feed and was left out"
        + CONTROL_HINT,
        "a.md:6: U+0002 (a control character) at column 27 cannot be carried by a feed and "
        "was left out" + CONTROL_HINT,
    ]
    assert fields is not None and fields.body == "First line.\nPage break and a ligature  here.\n"


def test_a_noncharacter_in_the_body_is_an_error() -> None:
    text = front("title: A", "date: 2026-01-01", body="Broken \ufffe here.\n")
    fields, problems = frontmatter.parse(text, "a.md", UTC)
    assert fields is None
    assert [str(p) for p in problems] == [
        "a.md:5: U+FFFE (not a character) at column 8 is not a character, and no feed can "
        "carry it" + BROKEN_HINT]


def test_many_control_characters_are_counted_not_listed() -> None:
    problems = problems_of(front("title: A", "date: 2026-01-01", body="x\x01" * 50 + "\n"))
    assert len(problems) == 4
    assert problems[-1] == ("a.md:5: and more characters that cannot be carried by a feed and "
                            "was left out" + CONTROL_HINT)


def test_windows_1252_mistaken_for_latin_1_is_pointed_out() -> None:
    assert problems_of(front("title: A", "date: 2026-01-01", body="don\x92t\n")) == [
        "a.md:5: U+0092 (a control character) at column 4 is a control character; in "
        "Windows-1252 that byte is ’\n  hint: the text was probably converted from Windows-1252 "
        "as if it were Latin-1: replace the character with the one it stood for"]


def test_a_character_yaml_reads_as_a_line_break_is_named() -> None:
    assert problems_of(front("title: A\u2028B", "date: 2026-01-01")) == [
        "a.md:3: broken YAML in the front matter: could not find expected ':' (while scanning "
        "a simple key)\n  hint: the front matter holds U+2028 (LINE SEPARATOR), which YAML "
        "reads as the end of a line: delete it"]


@pytest.mark.parametrize(("line", "message"), [
    ('id: "x\\x01"', "a.md:4: id: the id holds U+0001 (a control character); an id is written "
     "exactly, and no feed could carry this one\n  hint: remove the line to let the build "
     "assign one, or delete the character"),
    ("slug: " + "a" * 201, "a.md:4: slug: the slug is 201 bytes long; a folder name may have at "
     "most 200\n  hint: shorten it to a few words"),
    ('slug: "ferry\\nfares"', "a.md:4: slug: slug 'ferry\\nfares' is not usable in a URL\n"
     "  hint: use lowercase letters, digits and hyphens, e.g. 'ferry-fares'"),
    ("tags: ['<b>news</b>']", "a.md:4: tags: tag '<b>news</b>' holds markup\n  hint: write "
     "the tag as plain text"),
    ("tags: [" + ", ".join(f"t{i}" for i in range(101)) + "]", "a.md:4: tags: 101 tags; an "
     "article may have at most 100\n  hint: keep the tags readers follow; each tag is a page "
     "and a feed of its own"),
    ('image: "javascript:alert(1)"', "a.md:4: image: image 'javascript:alert(1)' is not a URL "
     "or a path: only http and https images are shown\n  hint: write a path such as "
     "images/ferry.jpg or a URL such as https://example.org/ferry.jpg"),
    ('image: "http://[::1"', "a.md:4: image: image 'http://[::1' is not a URL or a path: it "
     "cannot be read as a URL (Invalid IPv6 URL)\n  hint: write a path such as "
     "images/ferry.jpg or a URL such as https://example.org/ferry.jpg"),
    ("image: my photo.jpg", "a.md:4: image: image 'my photo.jpg' is not a URL or a path: it "
     "holds a space (write %20)\n  hint: write a path such as images/ferry.jpg or a URL such "
     "as https://example.org/ferry.jpg"),
    ("author: {name: A, url: 'javascript:x'}", "a.md:4: author: author url 'javascript:x' is "
     "not a link: it is not an absolute http(s) URL\n  hint: write an absolute URL such as "
     "https://example.org/about/"),
    ("author: {name: A, email: '=?utf-8?q?x?=@example.org'}", "a.md:4: author: author email "
     "'=?utf-8?q?x?=@example.org' is not an email address\n  hint: write a plain address such "
     "as desk@example.org"),
    ('title: "A \\uFFFE"', "a.md:2: title: U+FFFE (not a character) is not a character, and no "
     "feed can carry it" + BROKEN_HINT),
])
def test_a_field_that_no_output_could_carry_is_refused_at_its_line(line: str, message: str
                                                                   ) -> None:
    lines = ["title: A", "date: 2026-01-01", line]
    if line.startswith("title"):
        lines = [line, "date: 2026-01-01"]
    assert problems_of(front(*lines)) == [message]


def test_a_utf16_file_from_notepad_is_named_as_such() -> None:
    text, problems = frontmatter.decode(front("title: A", "date: 2026-01-01").encode("utf-16"),
                                        "a.md")
    assert text is None
    assert [str(p) for p in problems] == [
        "a.md:1: the file is in UTF-16, not UTF-8\n  hint: save it again as UTF-8 (in Notepad: "
        "Save as, Encoding UTF-8)"]


@pytest.mark.parametrize("newline", [b"\r", b"\r\n", b"\n"])
def test_an_id_goes_into_a_file_whatever_its_line_endings(newline: bytes) -> None:
    raw = newline.join([b"---", b"title: A", b"date: 2026-01-01", b"---", b"Body", b""])
    written = insert_id(raw, "urn:x")
    assert written == newline.join([b"---", b"title: A", b"date: 2026-01-01", b'id: "urn:x"',
                                    b"---", b"Body", b""])


def test_an_article_with_old_mac_line_endings_builds_and_gets_its_id(
        make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": b"---\rtitle: A\rdate: 2026-11-01\r---\rBody\r"})
    report = publish.build(settings_of(root), clock)
    assert report.ids_assigned == ("content/a.md",)
    assert (root / "content/a.md").read_bytes().startswith(b"---\rtitle: A\rdate: 2026-11-01\r"
                                                           b'id: "urn:uuid:')


def test_a_character_reference_to_a_control_character_is_left_out_of_every_output(
        make_site: SiteFactory, clock) -> None:
    body = "Ref &#x1; and `code &#1;` and <b>&#11;</b>.\n"
    root = make_site({"content/a.md": article("A", "2026-11-01", body=body)})
    report = publish.build(settings_of(root), clock)
    assert [str(w) for w in report.warnings] == [
        "content/a.md:5: the reference &#x1; at column 5 stands for U+0001 (a control "
        "character), which no feed can carry" + CONTROL_HINT,
        "content/a.md:5: the reference &#1; at column 21 stands for U+0001 (a control "
        "character), which no feed can carry" + CONTROL_HINT,
        "content/a.md:5: the reference &#11; at column 34 stands for U+000B (VERTICAL TAB), "
        "which no feed can carry" + CONTROL_HINT,
    ]
    rss = (root / "public/rss.xml").read_text()
    assert "code &amp;amp;#1;" in rss  # the code span shows the reference as written


def test_a_reference_to_a_noncharacter_stops_the_build(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01", body="x &#xFFFF; y\n")})
    with pytest.raises(ContentError) as error:
        publish.build(settings_of(root), clock)
    assert [str(p) for p in error.value.problems] == [
        "content/a.md:5: the reference &#xFFFF; at column 3 stands for U+FFFF (not a "
        "character), which no feed can carry" + BROKEN_HINT]


def test_a_file_that_cannot_be_read_is_named(make_site: SiteFactory, clock) -> None:
    root = make_site({"content/a.md": article("A", "2026-11-01")})
    (root / "content/gone.md").symlink_to(root / "nowhere.md")
    (root / "content").joinpath(Path(b"caf\xe9.md".decode("utf-8", "surrogateescape"))
                                ).write_text(article("B", "2026-11-02"))
    with pytest.raises(ContentError) as error:
        publish.build(settings_of(root), clock)
    assert [str(p) for p in error.value.problems] == [
        "content/caf\ufffd.md: the file name is not valid UTF-8 or holds a control character\n"
        "  hint: rename the file",
        "content/gone.md: cannot be read: No such file or directory\n  hint: check that the "
        "file exists (a link may point nowhere) and that it is readable",
    ]
