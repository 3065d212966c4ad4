"""Addresses, subscriber files and the `publisher subscribers` commands, on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import cli
from publisher.config import load_settings
from publisher.errors import SubscriberError
from publisher.store.database import Store
from publisher.subscribers.addresses import (
    add_subscriber,
    normalise_address,
    normalise_name,
    parse_tags,
)
from publisher.subscribers.csv_files import export_csv, import_csv
from tests.conftest import BASE_CONFIG, NOW, SiteFactory

LATER = NOW + timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'publisher.db'}") as opened:
        yield opened


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def emails(store: Store) -> list[str]:
    return [s.email for s in store.iter_subscribers()]


# -- addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "stored"), [
    ("ann@example.org", "ann@example.org"),
    ("  Ann.Lee@EXAMPLE.Org \n", "Ann.Lee@example.org"),
    ("ann@xn--exmple-cua.org", "ann@exämple.org"),
    ("josé@example.org", "josé@example.org"),
])
def test_addresses_are_normalised(given: str, stored: str) -> None:
    assert normalise_address(given) == stored


@pytest.mark.parametrize(("given", "message"), [
    ("ann@@x.org", '"ann@@x.org" is not a valid address: the part after the @-sign contains '
                   "invalid characters: '@'"),
    ("ann", '"ann" is not a valid address: an email address must have an @-sign'),
    ("ann@localhost", '"ann@localhost" is not a valid address: the part after the @-sign is '
                      "not valid. It should have a period"),
    ("Ann <ann@x.org>", '"Ann <ann@x.org>" is not a valid address: a display name and angle '
                        "brackets around the email address are not permitted here"),
    ("=?utf-8?q?ann?=@example.org", '"=?utf-8?q?ann?=@example.org" is not a valid address: it '
     "is shaped like an encoded word (=?…?=), which mail programs decode into another text"),
    ("=?UTF-8?B?Ym9i?=@example.org", '"=?UTF-8?B?Ym9i?=@example.org" is not a valid address: '
     "it is shaped like an encoded word (=?…?=), which mail programs decode into another text"),
    ("ann@example.org\r\nBcc: eve@example.org", '"ann@example.org\\r\\nBcc: eve@example.org" '
     "is not a valid address: the part after the @-sign contains invalid characters: ':', "
     "'@', SPACE, U+000A, U+000D"),
])
def test_bad_addresses_say_why(given: str, message: str) -> None:
    with pytest.raises(SubscriberError) as caught:
        normalise_address(given)
    assert str(caught.value) == message + "\n  hint: write it as name@example.org"


def test_names_stay_on_one_line_and_tags_are_tidied() -> None:
    assert normalise_name("  Ann\r\nLee\tJr ") == "Ann Lee Jr"
    assert parse_tags("News; ferry ,, NEWS;  city  hall ") == ("news", "ferry", "city hall")
    assert parse_tags(["a,b", "B", "c"]) == ("a", "b", "c")
    assert parse_tags("") == ()
    assert parse_tags("ferry\x00news;\x1b[31mred") == ("ferry news", "[31mred")


def test_adding_the_same_person_twice_in_another_case(store: Store) -> None:
    ann, created = add_subscriber(store, "Ann@Example.ORG", name="Ann\nLee", tags="x;y",
                                  now=NOW)
    assert created
    assert (ann.email, ann.name, ann.tags) == ("Ann@example.org", "Ann Lee", ("x", "y"))
    again, created = add_subscriber(store, "ann@example.org", now=NOW)
    assert (again, created) == (ann, False)


# -- import ----------------------------------------------------------------------------


MEMBERS = (
    "email,name,tags\n"
    "ann@example.org,Ann Lee,\"news, ferry\"\n"
    "bob@example.org,Bob,city\n"
    "\n"
    "ann@@x,Broken,\n"
    "\"cy@example.org\",\"Cy,\n Smith\",\n"
    "not-an-address,Dee,\n"
    ",No address,\n"
    "ANN@example.org,Ann again,\n"
)


def test_import_takes_the_good_rows_and_names_the_bad_lines(
        store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "members.csv", MEMBERS)
    report = import_csv(store, path, now=NOW, label="members.csv")
    assert (report.imported, report.present) == (3, 1)
    assert [str(p) for p in report.rejected] == [
        "members.csv:5: \"ann@@x\" is not a valid address: the part after the @-sign "
        "contains invalid characters: '@'",
        "members.csv:8: \"not-an-address\" is not a valid address: an email address must "
        "have an @-sign",
        "members.csv:9: no address in this row",
    ]
    ann = store.get_subscriber("ann@example.org")
    assert ann is not None
    assert (ann.name, ann.tags) == ("Ann Lee", ("news", "ferry"))
    cy = store.get_subscriber("cy@example.org")
    assert cy is not None and cy.name == "Cy, Smith"


def test_an_import_refuses_encoded_word_addresses_by_line(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "members.csv", "email,name\n=?utf-8?q?x?=@example.org,X\n"
                 "ok@example.org,\"Ok\r\nBcc: eve@example.org\"\n")
    report = import_csv(store, path, now=NOW, label="members.csv")
    assert report.imported == 1
    assert [str(p) for p in report.rejected] == [
        'members.csv:2: "=?utf-8?q?x?=@example.org" is not a valid address: it is shaped like '
        "an encoded word (=?…?=), which mail programs decode into another text"]
    assert [(s.email, s.name) for s in store.iter_subscribers()] == [
        ("ok@example.org", "Ok Bcc: eve@example.org")]


def test_importing_the_same_file_again_changes_nothing(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "members.csv", MEMBERS)
    import_csv(store, path, now=NOW)
    before = list(store.iter_subscribers())
    report = import_csv(store, path, now=NOW)
    assert (report.imported, report.present, len(report.rejected)) == (0, 4, 3)
    assert list(store.iter_subscribers()) == before


def test_a_file_of_bare_addresses_with_a_byte_order_mark(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "plain.csv", "\ufeffann@example.org\r\nbob@example.org\r\n")
    report = import_csv(store, path, now=NOW)
    assert (report.imported, report.rejected) == (2, ())
    headed = write(tmp_path, "headed.csv", "\ufeffEmail\r\ncy@example.org\r\n")
    assert import_csv(store, headed, now=NOW).imported == 1
    assert emails(store) == ["ann@example.org", "bob@example.org", "cy@example.org"]


def test_a_file_without_a_header_has_at_most_three_columns(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "ann@example.org,Ann,news\nbob@example.org,Bob,x,extra\n")
    report = import_csv(store, path, now=NOW)
    assert [str(p) for p in report.rejected] == [
        f"{path}:2: 4 columns, but a file without a header row has only email, name, tags"]
    ann = store.get_subscriber("ann@example.org")
    assert ann is not None and (ann.name, ann.tags) == ("Ann", ("news",))


def test_a_status_column_keeps_unsubscribed_people_unsubscribed(
        store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "status,email\nunsubscribed,ann@example.org\n,"
                 "bob@example.org\nlost,cy@example.org\n")
    report = import_csv(store, path, now=NOW, label="m.csv")
    assert [str(p) for p in report.rejected] == [
        'm.csv:4: status "lost" is not one of pending, active, unsubscribed, bounced, '
        'complained']
    assert [(s.email, s.status) for s in store.iter_subscribers()] == [
        ("ann@example.org", "unsubscribed"), ("bob@example.org", "active")]


def test_an_import_never_resubscribes_anyone(store: Store, tmp_path: Path) -> None:
    ann, _ = add_subscriber(store, "ann@example.org", now=NOW)
    store.set_subscriber_status(ann.id, "unsubscribed", now=NOW)
    report = import_csv(store, write(tmp_path, "m.csv", "ann@example.org\n"), now=NOW)
    assert (report.imported, report.present) == (0, 1)
    assert store.count_subscribers("unsubscribed") == 1


def test_a_file_in_another_encoding_imports_nothing(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "latin.csv", "email,name\nann@example.org,Ann\nbob@example.org,"
                 "Zoë\n".encode("latin-1"))
    with pytest.raises(SubscriberError) as caught:
        import_csv(store, path, now=NOW, label="latin.csv")
    assert str(caught.value) == (
        "latin.csv:3: not UTF-8 text (byte 0xeb cannot be read); nothing was imported\n"
        "  hint: save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8') and import it again")
    assert store.count_subscribers() == 0


@pytest.mark.parametrize(("data", "line", "reason"), [
    ('email,name\nann@example.org,Ann\nbob@example.org,"Bob\ncy@example.org,Cy\n', 3,
     "unexpected end of data"),
    ('email,name\nann@example.org,"Ann" Lee\nbob@example.org,Bob\n', 2,
     "',' expected after '\"'"),
])
def test_broken_quoting_imports_nothing(store: Store, tmp_path: Path, data: str, line: int,
                                        reason: str) -> None:
    path = write(tmp_path, "m.csv", data)
    with pytest.raises(SubscriberError) as caught:
        import_csv(store, path, now=NOW, label="m.csv")
    assert str(caught.value) == (
        f"m.csv:{line}: not a readable CSV file ({reason}); nothing was imported\n"
        '  hint: check the quotes: a field that starts with " must end with " and be '
        "followed by a comma or the end of the line")
    assert store.count_subscribers() == 0


def test_a_missing_file_is_an_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(SubscriberError, match=r"nope.csv: cannot read the file: No such file"):
        import_csv(store, tmp_path / "nope.csv", now=NOW, label="nope.csv")


# -- export ----------------------------------------------------------------------------


def test_export_lists_everyone_in_joining_order(store: Store, tmp_path: Path) -> None:
    add_subscriber(store, "zed@example.org", name="Zed", tags="b;a", now=NOW)
    ann, _ = add_subscriber(store, "Ann@example.org", name="Lee, Ann", now=NOW)
    store.set_subscriber_status(ann.id, "bounced", now=LATER, reason="550 5.1.1 gone")
    text = "".join(export_csv(store))
    assert text == (
        "email,name,tags,status,created_at,status_changed_at,status_reason,address_sha256,"
        "cadence,timezone,hour\n"
        "zed@example.org,Zed,b;a,active,2026-11-25T12:00:00Z,2026-11-25T12:00:00Z,,,,,\n"
        "Ann@example.org,\"Lee, Ann\",,bounced,2026-11-25T12:00:00Z,2026-11-26T12:00:00Z,"
        "550 5.1.1 gone,,,,\n"
    )
    assert "".join(export_csv(store)) == text


def test_export_defuses_formulas_and_import_reads_them_back(
        store: Store, tmp_path: Path) -> None:
    add_subscriber(store, "=1+2@example.org", name="=HYPERLINK(\"http://x\")", tags="-x",
                   now=NOW)
    text = "".join(export_csv(store))
    assert text.splitlines()[1] == (  # tags are slugs, so "-x" is "x": nothing to defuse
        "'=1+2@example.org,\"'=HYPERLINK(\"\"http://x\"\")\",x,active,2026-11-25T12:00:00Z,"
        "2026-11-25T12:00:00Z,,,,,")
    with Store.open(f"sqlite:///{tmp_path / 'copy.db'}") as copy:
        report = import_csv(copy, write(tmp_path, "export.csv", text), now=NOW)
        assert (report.imported, report.rejected) == (1, ())
        assert list(copy.iter_subscribers()) == list(store.iter_subscribers())


# -- the commands ----------------------------------------------------------------------


def run(site: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--site", str(site), "subscribers", *args],
                                catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_add_and_remove_from_the_command_line(make_site: SiteFactory) -> None:
    site = make_site()
    assert run(site, "add", "Ann@Example.org", "--name", "Ann", "--tags", "news,ferry") == (
        0, "added Ann@example.org\n", "")
    assert run(site, "add", "ann@example.org") == (
        0, "Ann@example.org is already subscribed\n", "")
    assert run(site, "add", "ann@@x") == (
        1, "", "error: \"ann@@x\" is not a valid address: the part after the @-sign contains "
        "invalid characters: '@'\n  hint: write it as name@example.org\n")
    assert run(site, "remove", "ANN@example.org") == (
        0, "removed Ann@example.org; its hash stays on the suppression list, so no import adds "
        "it again\n", "")
    assert run(site, "add", "=?utf-8?q?eve?=@example.org") == (
        1, "", 'error: "=?utf-8?q?eve?=@example.org" is not a valid address: it is shaped like '
        "an encoded word (=?…?=), which mail programs decode into another text\n"
        "  hint: write it as name@example.org\n")
    assert run(site, "remove", "ann@example.org") == (
        1, "", "error: ann@example.org is not on the list\n"
        "  hint: `publisher subscribers list` shows who is\n")
    assert (site / "publisher.db").is_file()


def test_adding_someone_who_left_says_so(make_site: SiteFactory) -> None:
    site = make_site()
    with Store.open(load_settings(site).store_url) as store:
        ann, _ = store.add_subscriber("ann@example.org", now=NOW)
        store.set_subscriber_status(ann.id, "unsubscribed", now=NOW)
    assert run(site, "add", "ann@example.org") == (
        0, "ann@example.org is already on the list (unsubscribed); nothing changed\n", "")


def test_list_shows_a_table_in_the_site_timezone(make_site: SiteFactory) -> None:
    site = make_site()
    assert run(site, "list") == (0, "no subscribers\n", "")
    with Store.open(load_settings(site).store_url) as store:
        ann, _ = store.add_subscriber("ann@example.org", "Ann Lee", ("news", "ferry"), now=NOW)
        bob, _ = store.add_subscriber("bob@example.org", now=NOW)
        store.set_subscriber_status(bob.id, "bounced", now=NOW)
        store.set_preferences(ann.id, tags=("news", "ferry"), cadence="weekly",
                              timezone="Pacific/Auckland", hour=7)
    code, out, err = run(site, "list")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "EMAIL                            STATUS       JOINED      NAME                     "
        "CADENCE          ZONE AND HOUR              TAGS",
        "ann@example.org                  active       2026-11-25  Ann Lee                  "
        "weekly           Pacific/Auckland 07:00     news, ferry",
        "bob@example.org                  bounced      2026-11-25",
        "2 subscribers",
    ]
    code, out, _ = run(site, "list", "--status", "bounced")
    assert out.splitlines()[1:] == ["bob@example.org                  bounced      2026-11-25",
                                    "1 bounced subscriber"]
    assert run(site, "list", "--status", "pending")[1] == "no pending subscribers\n"


def test_import_reports_counts_and_each_rejected_row(make_site: SiteFactory) -> None:
    site = make_site({"members.csv": MEMBERS})
    code, out, err = run(site, "import", str(site / "members.csv"))
    assert (code, out) == (1, "imported 3, already present 1, rejected 3\n")
    where = site / "members.csv"
    assert err.splitlines() == [
        f"error: {where}:5: \"ann@@x\" is not a valid address: the part after the @-sign "
        "contains invalid characters: '@'",
        f"error: {where}:8: \"not-an-address\" is not a valid address: an email address must "
        "have an @-sign",
        f"error: {where}:9: no address in this row",
        "3 rows rejected",
    ]
    code, out, _ = run(site, "import", str(where))
    assert (code, out) == (1, "imported 0, already present 4, rejected 3: nothing changed\n")


def test_a_clean_import_exits_zero(make_site: SiteFactory) -> None:
    site = make_site({"ok.csv": "email\nann@example.org\n"})
    assert run(site, "import", str(site / "ok.csv")) == (
        0, "imported 1, already present 0, rejected 0\n", "")
    assert run(site, "import", str(site / "ok.csv")) == (
        0, "imported 0, already present 1, rejected 0: nothing changed\n", "")


def test_import_of_a_file_in_another_encoding(make_site: SiteFactory) -> None:
    site = make_site({"latin.csv": "email,name\nzoe@example.org,Zoë\n".encode("cp1252")})
    code, out, err = run(site, "import", str(site / "latin.csv"))
    assert (code, out) == (1, "")
    assert err == (
        f"error: {site / 'latin.csv'}:2: not UTF-8 text (byte 0xeb cannot be read); nothing "
        "was imported\n"
        "  hint: save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8') and import it again\n")


def test_export_to_a_file_and_to_standard_output(make_site: SiteFactory) -> None:
    site = make_site()
    with Store.open(load_settings(site).store_url) as store:
        store.add_subscriber("ann@example.org", "Ann", now=NOW)
    expected = ("email,name,tags,status,created_at,status_changed_at,status_reason,"
                "address_sha256,cadence,timezone,hour\nann@example.org,Ann,,active,"
                "2026-11-25T12:00:00Z,2026-11-25T12:00:00Z,,,,,\n")
    target = site / "out" / "list.csv"
    target.parent.mkdir()
    assert run(site, "export", str(target)) == (0, f"exported 1 subscriber to {target}\n", "")
    assert target.read_text(encoding="utf-8") == expected
    assert run(site, "export", "-") == (0, expected, "")
    assert sorted(p.name for p in target.parent.iterdir()) == ["list.csv"]


def test_a_broken_store_url_is_reported_without_a_traceback(make_site: SiteFactory) -> None:
    site = make_site(config=BASE_CONFIG + '\n[store]\nurl = "sqlite:///missing/dir/p.db"\n')
    code, out, err = run(site, "list")
    assert (code, out) == (1, "")
    assert err == (
        f"error: cannot open the database {site.resolve() / 'missing/dir/p.db'}: unable to "
        "open database file\n  hint: check that the folder exists and that you may write in it\n")


# -- suppression -------------------------------------------------------------------------


def test_a_round_trip_through_export_and_import_loses_nothing(
        store: Store, tmp_path: Path) -> None:
    add_subscriber(store, "ann@example.org", name="Ann", tags="ferry;council", now=NOW)
    bob, _ = add_subscriber(store, "bob@example.org", now=NOW)
    cy, _ = add_subscriber(store, "cy@example.org", now=NOW)
    add_subscriber(store, "dee@example.org", now=NOW)
    store.set_subscriber_status(bob.id, "complained", now=LATER, reason="abuse report")
    store.set_subscriber_status(cy.id, "unsubscribed", now=LATER, reason="by the link")
    store.remove_subscriber("dee@example.org", now=LATER)
    text = "".join(export_csv(store))
    with Store.open(f"sqlite:///{tmp_path / 'copy.db'}") as copy:
        report = import_csv(copy, write(tmp_path, "all.csv", text), now=LATER + timedelta(days=1))
        assert (report.imported, report.suppressed, report.rejected) == (3, 1, ())
        assert "".join(export_csv(copy)) == text
        assert copy.suppression_of("DEE@example.org") == ("removed", LATER)


def test_a_removed_address_is_never_imported_or_added_again(
        store: Store, tmp_path: Path) -> None:
    add_subscriber(store, "ann@example.org", now=NOW)
    left, _ = add_subscriber(store, "bob@example.org", now=NOW)
    store.set_subscriber_status(left.id, "unsubscribed", now=NOW)
    store.remove_subscriber("ann@example.org", now=NOW)
    store.remove_subscriber("bob@example.org", now=NOW)
    path = write(tmp_path, "old.csv", "email\nann@example.org\nbob@example.org\ncy@example.org\n")
    report = import_csv(store, path, now=LATER, label="old.csv")
    assert [str(p) for p in report.rejected] == [
        "old.csv:2: ann@example.org was removed from the list on 2026-11-25 and stays off the "
        "list; add --resubscribe if you know the address works and its owner wants the digest",
        "old.csv:3: bob@example.org unsubscribed on 2026-11-25; only they can come back, "
        "through the subscribe form and its confirmation link (a new double opt-in)"]
    assert emails(store) == ["cy@example.org"]
    again = import_csv(store, path, now=LATER, label="old.csv", resubscribe=True)
    assert (again.imported, len(again.rejected)) == (1, 1)  # bob: never by the operator
    assert emails(store) == ["cy@example.org", "ann@example.org"]
    assert store.suppression_of("ann@example.org") is None


def test_the_commands_keep_suppressed_addresses_off_the_list(make_site: SiteFactory) -> None:
    site = make_site(config=BASE_CONFIG)
    assert run(site, "add", "ann@example.org")[0] == 0
    with Store.open(load_settings(site).store_url) as store:
        found = store.get_subscriber("ann@example.org")
        assert found is not None
        store.set_subscriber_status(found.id, "bounced", now=NOW, reason="550 5.1.1")
    assert run(site, "add", "ann@example.org") == (
        0, "ann@example.org is already on the list (bounced); nothing changed; add "
        "--resubscribe to bring it back\n", "")
    assert run(site, "add", "ann@example.org", "--resubscribe") == (
        0, "ann@example.org is subscribed again\n", "")
    assert run(site, "unsubscribe", "ann@example.org") == (0, "unsubscribed ann@example.org\n",
                                                           "")
    with Store.open(load_settings(site).store_url) as store:
        left = store.get_subscriber("ann@example.org")
    assert left is not None and left.updated_at is not None and left.status == "unsubscribed"
    code, _, err = run(site, "add", "ann@example.org", "--resubscribe")
    assert (code, err) == (1, f"error: ann@example.org unsubscribed on "
                           f"{left.updated_at.date().isoformat()}; only they can come back, "
                           "through the subscribe form and its confirmation link (a new "
                           "double opt-in)\n")
