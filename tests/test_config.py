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
        "publisher.toml: author: required key is missing\n  hint: add `author = ...`",
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
