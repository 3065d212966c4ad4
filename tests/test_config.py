"""publisher.toml: every mistake reported at once, by file, line and key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.errors import ConfigError
from tests.conftest import BASE_CONFIG


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "publisher.toml").write_text(text, encoding="utf-8")
    return tmp_path


def messages(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, text))
    label = str(tmp_path / "publisher.toml")
    return [str(p).replace(label, "publisher.toml") for p in error.value.problems]


def test_a_valid_file_gives_settings_with_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, BASE_CONFIG.replace("org/", "org")))
    assert settings.base_url == "https://news.example.org/"
    assert settings.feeds.items == 50 and settings.feeds.content == "full"
    assert settings.output_path == (tmp_path / "public").resolve()
    assert settings.store_url == f"sqlite:///{tmp_path.resolve()}/publisher.db"
    assert settings.site().author.email == "desk@example.org"


def test_every_problem_is_reported_with_its_line_and_key(tmp_path: Path) -> None:
    text = (
        'title = ""\nbase_url = "ftp://x"\ntimezone = "Mars/Olympus"\nlangauge = "en"\n'
        '[author]\nname = "A"\n[feeds]\nitems = 0\ncontent = "everything"\n'
        "[delivery]\nport = 70000\n"
    )
    assert messages(tmp_path, text) == [
        "publisher.toml:1: title: must not be empty",
        "publisher.toml:2: base_url: 'ftp://x' is not an absolute http(s) URL, "
        "e.g. 'https://example.org/'",
        "publisher.toml:3: timezone: unknown timezone 'Mars/Olympus'; use an IANA name such as "
        "'Europe/Lisbon' or 'UTC'",
        "publisher.toml:8: feeds.items: must be at least 1",
        "publisher.toml:9: feeds.content: must be 'full' or 'summary'",
        "publisher.toml:11: delivery.port: must be at most 65535",
        "publisher.toml:4: langauge: unknown key\n  hint: did you mean 'language'?",
    ]


def test_missing_required_keys_are_named(tmp_path: Path) -> None:
    assert messages(tmp_path, 'title = "T"\n') == [
        "publisher.toml: base_url: required key is missing\n  hint: add `base_url = ...`",
        "publisher.toml: author: required table is missing\n"
        '  hint: add a table [author] with name = "..."',
    ]


def test_broken_toml_names_the_line(tmp_path: Path) -> None:
    [message] = messages(tmp_path, 'title = "T"\nbase_url = "x\n')
    assert message.startswith("publisher.toml:2: not valid TOML:")


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "publisher.toml").write_bytes(b'title = "Caf\xe9"\n')
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_settings(tmp_path)


def test_no_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path)
    assert "publisher init DIR" in str(error.value)


def test_permalink_needs_a_slug(tmp_path: Path) -> None:
    [message] = messages(tmp_path, 'permalink = "{year}/"\n' + BASE_CONFIG)
    assert message == (
        "publisher.toml:1: permalink: must contain {slug}, e.g. '{year}/{month}/{slug}/'"
    )


def test_a_key_under_the_wrong_table_is_reported_there(tmp_path: Path) -> None:
    [message] = messages(tmp_path, BASE_CONFIG + 'permalink = "{slug}/"\n')
    assert message == (
        "publisher.toml:11: author.permalink: unknown key\n  hint: known keys: email, name, url"
    )


def test_secrets_come_from_the_environment_only(tmp_path: Path, monkeypatch) -> None:
    settings = load_settings(write(tmp_path, BASE_CONFIG))
    monkeypatch.delenv("PUBLISHER_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="PUBLISHER_SMTP_PASSWORD is not set"):
        settings.secret("PUBLISHER_SMTP_PASSWORD", "the SMTP password")
    monkeypatch.setenv("PUBLISHER_SMTP_PASSWORD", "hunter2")
    assert settings.secret("PUBLISHER_SMTP_PASSWORD", "the SMTP password") == "hunter2"


def test_the_store_url_can_come_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    settings = load_settings(write(tmp_path, BASE_CONFIG))
    monkeypatch.setenv("PUBLISHER_STORE_URL", "postgresql+psycopg://u:secret@db/news")
    assert settings.store_url == "postgresql+psycopg://u:secret@db/news"
    monkeypatch.delenv("PUBLISHER_STORE_URL")
    assert settings.store_url.endswith("/publisher.db")


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", timedelta(days=7)),
    ("24h", timedelta(hours=24)),
    ("90m", timedelta(minutes=90)),
    ("2w", timedelta(weeks=2)),
    (" 1 d ", timedelta(days=1)),
])
def test_the_period_is_read_as_a_duration(tmp_path: Path, text: str, expected: timedelta) -> None:
    settings = load_settings(write(tmp_path, BASE_CONFIG + f'[email]\nperiod = "{text}"\n'))
    assert settings.email.period == expected


DURATION_FORM = "write a whole number followed by m, h, d or w, e.g. '15m', '6h', '1d', '2w'"


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "0d", "-1d", "1.5d", "7 days"])
def test_a_bad_period_names_the_line_the_key_and_the_form(tmp_path: Path, text: str) -> None:
    line = BASE_CONFIG.count("\n") + 2
    assert messages(tmp_path, BASE_CONFIG + f'[email]\nperiod = "{text}"\n') == [
        f"publisher.toml:{line}: email.period: {text!r} is not a duration; {DURATION_FORM}"]


def test_a_period_too_long_for_a_date_is_refused_not_a_crash(tmp_path: Path) -> None:
    line = BASE_CONFIG.count("\n") + 2
    assert messages(tmp_path, BASE_CONFIG + '[email]\nperiod = "99999999w"\n') == [
        f"publisher.toml:{line}: email.period: '99999999w' is longer than a hundred years; "
        f"{DURATION_FORM}"]
    assert messages(tmp_path, BASE_CONFIG + "[email]\nperiod = 7\n") == [
        f"publisher.toml:{line}: email.period: must be a quoted duration such as '7d', not 7"]


def test_every_address_of_the_site_is_checked_once_at_load(tmp_path: Path) -> None:
    text = BASE_CONFIG.replace('email = "desk@example.org"', 'email = "desk at example.org"')
    text += ('[email]\nfrom_address = "digest@example.org\\r\\nBcc: victim@example.org"\n'
             'reply_to = "=?utf-8?q?x?=@example.org"\nunsubscribe_mailto = "mailto:<leave>"\n')
    hint = "\n  hint: write a plain address such as digest@example.org"
    assert messages(tmp_path, text) == [
        "publisher.toml:10: author.email: 'desk at example.org' is not an email address" + hint,
        "publisher.toml:12: email.from_address: 'digest@example.org\\r\\nBcc: victim@example.org' "
        "is not an email address" + hint,
        "publisher.toml:13: email.reply_to: '=?utf-8?q?x?=@example.org' is not an email address"
        + hint,
        "publisher.toml:14: email.unsubscribe_mailto: 'mailto:<leave>' is not a mailto address\n"
        "  hint: write an address such as unsubscribe@example.org",
    ]
    good = BASE_CONFIG + '[email]\nfrom_address = " digest@example.org "\n'
    assert load_settings(write(tmp_path, good)).email.from_address == "digest@example.org"


def test_the_deploy_target_must_be_an_s3_location(tmp_path: Path) -> None:
    line = BASE_CONFIG.count("\n") + 2
    assert messages(tmp_path, BASE_CONFIG + '[deploy]\ntarget = "https://bucket/x"\n') == [
        f"publisher.toml:{line}: deploy.target: 'https://bucket/x' is not an S3 location\n"
        "  hint: write s3://bucket or s3://bucket/folder"]
    good = load_settings(write(tmp_path, BASE_CONFIG + '[deploy]\ntarget = "s3://my.site/news"\n'))
    assert good.deploy.target == "s3://my.site/news"


TOP = BASE_CONFIG.index("[author]")


def with_top(line: str) -> str:
    """BASE_CONFIG with one more top-level key (on line 8), or with that key changed."""
    key = line.split(" =")[0] + " ="
    lines = BASE_CONFIG.splitlines(keepends=True)
    for number, existing in enumerate(lines):
        if existing.startswith(key):
            lines[number] = line + "\n"
            return "".join(lines)
    return BASE_CONFIG[:TOP] + line + "\n" + BASE_CONFIG[TOP:]


def line_of(text: str, key: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(key + " ="))


@pytest.mark.parametrize(("line", "message"), [
    ('title = "Gazette\\u0001"', "title: holds U+0001 (a control character), which no feed or "
     "page can carry\n  hint: delete it: it is invisible in most editors"),
    ('description = "x\\uFFFE"', "description: holds U+FFFE (not a character), which no feed or "
     "page can carry\n  hint: delete it: it is invisible in most editors"),
    ('language = "en\\n"', "language: 'en\\n' is not a language tag such as 'en' or 'pt-BR'"),
    ('permalink = "../{slug}/"', "permalink: '../{slug}/' has an empty, '.' or '..' folder; "
     "every folder of an article's path must have a name, e.g. '{year}/{slug}/'"),
    ('permalink = "{year}//{slug}/"', "permalink: '{year}//{slug}/' has an empty, '.' or '..' "
     "folder; every folder of an article's path must have a name, e.g. '{year}/{slug}/'"),
    ('permalink = "{slug}/{year:>99999999}/"', "permalink: unknown placeholder "
     "{year:>99999999}; use {year}, {month}, {day} and {slug}"),
    ('permalink = "{slug!r}/"', "permalink: unknown placeholder {slug!r}; use {year}, {month}, "
     "{day} and {slug}"),
    ('permalink = "{slug}/{"', "permalink: '{slug}/{' is not a permalink: Single '{' "
     "encountered in format string; write a literal brace nowhere, e.g. "
     "'{year}/{month}/{slug}/'"),
    ('permalink = "news\\\\{slug}/"', "permalink: 'news\\\\{slug}/': the text between "
     "placeholders may only hold letters, digits, '.', '_', '~', '-' and '/'"),
    ('output_dir = "a\\u0000b"', "output_dir: 'a\\x00b' is not a folder name\n  hint: write a "
     "folder relative to the site, such as \"public\""),
    ('output_dir = ""', "output_dir: '' is not a folder name\n  hint: write a folder relative "
     "to the site, such as \"public\""),
])

def test_values_no_output_could_carry_are_refused_at_load(tmp_path: Path, line: str,
                                                          message: str) -> None:
    text = with_top(line)
    number = line_of(text, line.split(" =")[0])
    assert messages(tmp_path, text) == [f"publisher.toml:{number}: {message}"]


@pytest.mark.parametrize(("subject", "message"), [
    ('" "', "must not be empty: every digest needs a subject"),
    ('"{{ site.title "', "the subject template is broken: unexpected end of template, "
     "expected 'end of print statement'."),
])
def test_a_subject_no_digest_could_have_is_refused_at_load(tmp_path: Path, subject: str,
                                                           message: str) -> None:
    text = BASE_CONFIG + f"[email]\nsubject = {subject}\n"
    assert messages(tmp_path, text) == [
        f"publisher.toml:{text.count(chr(10))}: email.subject: {message}\n"
        "  hint: e.g. '{{ site.title }}: {{ digest.title }}'"]


@pytest.mark.parametrize(("url", "reason"), [
    ("http://[::1/", " (it cannot be read as a URL (Invalid IPv6 URL))"),
    ("https://exa mple.org/", " (it holds a space (write %20))"),
    ("https://example.org:99999/", " (it cannot be read as a URL (Port out of range 0-65535))"),
    ("https://example.org/\\u0001", " (it holds U+0001 (a control character))"),
    ("mailto:desk@example.org", ""),
])
def test_a_base_url_that_is_no_url_is_refused_at_load(tmp_path: Path, url: str, reason: str
                                                      ) -> None:
    shown = url.replace("\\u0001", "\\x01")
    assert messages(tmp_path, BASE_CONFIG.replace("https://news.example.org/", url)) == [
        f"publisher.toml:3: base_url: '{shown}' is not an absolute http(s) URL{reason}, e.g. "
        "'https://example.org/'"]


def test_a_base_url_with_a_query_is_refused(tmp_path: Path) -> None:
    text = BASE_CONFIG.replace("https://news.example.org/", "https://example.org/?p=")
    assert messages(tmp_path, text) == [
        "publisher.toml:3: base_url: 'https://example.org/?p=' has a query or a fragment; "
        "articles' URLs are made by adding their path to it, e.g. 'https://example.org/news/'"]


OUTPUT_HINT = ('\n  hint: a build replaces what is in its output folder: give it a folder of '
               'its own, such as "public"')


@pytest.mark.parametrize(("output", "message"), [
    (".", "the output folder is the site folder itself"),
    ("..", "the output folder is a folder that holds the site"),
    ("/", "the output folder is a folder that holds the site"),
    ("content", "the output folder is content_dir ({site}/content)"),
    ("content/public", "the output folder lies inside content_dir ({site}/content)"),
    ("templates/", "the output folder is templates_dir ({site}/templates)"),
    ("static/../static", "the output folder is static_dir ({site}/static)"),
    (".publisher/out", "the output folder lies inside the state folder .publisher "
     "({site}/.publisher)"),
])
def test_an_output_folder_that_would_overwrite_the_site_is_refused(
        tmp_path: Path, output: str, message: str) -> None:
    site = tmp_path.resolve()
    expected = message.replace("({site}", f"('{site}").replace(")", "')") if "{site}" in message \
        else message
    assert messages(tmp_path, with_top(f'output_dir = "{output}"')) == [
        f"publisher.toml:8: output_dir: {expected}" + OUTPUT_HINT]


def test_an_output_folder_that_holds_an_input_is_refused(tmp_path: Path) -> None:
    text = with_top('output_dir = "site-out"\ncontent_dir = "site-out/articles"')
    assert messages(tmp_path, text) == [
        f"publisher.toml:8: output_dir: the output folder holds content_dir "
        f"('{tmp_path.resolve()}/site-out/articles')" + OUTPUT_HINT]


def test_folders_are_compared_after_links_are_followed(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "www").symlink_to(tmp_path / "content")
    assert messages(tmp_path, with_top('output_dir = "www"')) == [
        f"publisher.toml:8: output_dir: the output folder is content_dir "
        f"('{tmp_path.resolve()}/content')" + OUTPUT_HINT]


def test_a_missing_required_table_says_what_to_write(tmp_path: Path) -> None:
    text = BASE_CONFIG[:TOP]
    assert messages(tmp_path, text) == [
        'publisher.toml: author: required table is missing\n  hint: add a table [author] '
        'with name = "..."']


def test_a_signing_key_shorter_than_32_bytes_is_refused(tmp_path: Path, monkeypatch) -> None:
    settings = load_settings(write(tmp_path, BASE_CONFIG))
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "hunter2")
    with pytest.raises(ConfigError) as error:
        settings.signing_key("signing links")
    assert [str(p) for p in error.value.problems] == [
        "the environment variable PUBLISHER_SECRET_KEY holds 7 bytes; a key that signs links "
        "needs at least 32\n  hint: generate one: export PUBLISHER_SECRET_KEY=\"$(python3 -c "
        "'import secrets; print(secrets.token_urlsafe(32))')\"; links signed with the old key "
        "stop working"]
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "x" * 32)
    assert settings.signing_key("signing links") == "x" * 32
