"""`digest subscribers import` reads the exports of Mailchimp, Substack, Buttondown and listmonk
as they come (tests/fixtures/csv/), honours their status columns (nobody the file marks gone is
imported as active, and no later import revives them), and reports each broken row by the
line it starts on without losing the valid rows after it. Exit 2 only for an unusable file."""

from __future__ import annotations

import codecs
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, make_newsletter

CSV = FIXTURES / "csv"


@pytest.fixture
def news(tmp_path):
    return make_newsletter(tmp_path / "news", curated=False)


def import_file(cli, news, path: Path):
    return cli("--config", news.config_path, "subscribers", "import", path)


def readers(news) -> dict[str, tuple[str, str | None]]:
    db = news.root / "var" / "digest.sqlite3"
    if not db.exists():
        return {}
    with sqlite3.connect(db) as conn:
        return {email: (status, name) for email, status, name in
                conn.execute("SELECT email, status, name FROM subscribers")}


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rejected_lines(output: str) -> dict[int, str]:
    found = {}
    for line in output.splitlines():
        if ": rejected: " in line:
            head, reason = line.strip().split(": rejected: ", 1)
            found[int(head.removeprefix("line "))] = reason
    return found


# --------------------------------------------------------------------------- real exports


def test_mailchimp_exports_keep_unsubscribed_and_cleaned_readers_out(cli, news):
    result = import_file(cli, news, CSV / "mailchimp_subscribed.csv")
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output
    assert "name from 'First Name' + 'Last Name'" in result.output
    assert readers(news)["ada@example.com"] == ("active", "Ada Lovelace")

    # The unsubscribed export (UNSUB_TIME, and UNSUB_CAMPAIGN_ID twice as Mailchimp writes it)
    # turns a reader already imported as active into unsubscribed, and adds the others so.
    result = import_file(cli, news, CSV / "mailchimp_unsubscribed.csv")
    assert result.exit_code == 0, result.output
    assert "line 2: gone@example.com was active, now unsubscribed" in result.output
    assert "every row unsubscribed (Mailchimp unsubscribed export)" in result.output
    assert "unsubscribed ('Mailchimp unsubscribed export' 2): 2 row(s): 1 updated, 1 added" \
        in result.output
    result = import_file(cli, news, CSV / "mailchimp_cleaned.csv")
    assert result.exit_code == 0, result.output
    statuses = {email: status for email, (status, _) in readers(news).items()}
    assert statuses == {"ada@example.com": "active", "grace@example.com": "active",
                        "gone@example.com": "unsubscribed", "tired@example.com": "unsubscribed",
                        "dead@example.com": "bounced"}

    # Importing the subscribed export again revives nobody.
    again = import_file(cli, news, CSV / "mailchimp_subscribed.csv")
    assert again.exit_code == 0, again.output
    assert "line 4: gone@example.com stays unsubscribed" in again.output
    assert readers(news)["gone@example.com"][0] == "unsubscribed"


def test_substack_buttondown_and_listmonk_statuses(cli, news):
    substack = import_file(cli, news, CSV / "substack.csv")
    assert substack.exit_code == 0, substack.output
    assert rejected_lines(substack.output) == {
        5: "'a1b2c3@deletion-request.substack.com': a Substack deletion-request placeholder, "
           "not a reader's address"}
    buttondown = import_file(cli, news, CSV / "buttondown.csv")
    assert buttondown.exit_code == 0, buttondown.output
    assert "status from 'subscriber_type'" in buttondown.output
    listmonk = import_file(cli, news, CSV / "listmonk.csv")
    assert listmonk.exit_code == 0, listmonk.output
    assert "unsubscribed ('blocklisted' 1, 'disabled' 1): 2 row(s): 2 added" in listmonk.output
    assert readers(news) == {
        "reader@example.com": ("active", None),
        "paying@example.com": ("active", None),
        "quiet@example.com": ("unsubscribed", None),       # email_disabled = true
        "regular@example.com": ("active", None),
        "premium@example.com": ("active", None),
        "unconfirmed@example.com": ("pending", None),      # never confirmed: not mailed
        "left@example.com": ("unsubscribed", None),
        "spammer@example.com": ("complained", None),
        "nomail@example.com": ("bounced", None),           # undeliverable
        "john@example.com": ("active", "Doe, John"),
        "blocked@example.com": ("unsubscribed", "Blocked Person"),
        "off@example.com": ("unsubscribed", "Turned Off"),
    }
    listed = cli("--config", news.config_path, "subscribers", "list", "--json", "--status",
                 "active")
    assert "quiet@example.com" not in listed.output and "left@example.com" not in listed.output


def test_an_unknown_status_is_never_taken_as_active(cli, news, tmp_path):
    path = write(tmp_path, "s.csv", "email,status\na@example.com,subscribed\n"
                                    "b@example.com,on hold?\nc@example.com,\n")
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    assert "unknown status 'on hold?'" in rejected_lines(result.output)[3]
    assert readers(news) == {"a@example.com": ("active", None), "c@example.com": ("active", None)}


def test_a_pending_row_never_demotes_and_a_gone_row_is_honoured(cli, news, tmp_path):
    config = ("--config", news.config_path)
    cli(*config, "subscribers", "add", "kept@example.com")
    cli(*config, "subscribers", "add", "bye@example.com")
    path = write(tmp_path, "s.csv", "email,status\nkept@example.com,unconfirmed\n"
                                    "bye@example.com,Unsubscribed\n")
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    assert "line 3: bye@example.com was active, now unsubscribed" in result.output
    assert readers(news) == {"kept@example.com": ("active", None),
                             "bye@example.com": ("unsubscribed", None)}


# --------------------------------------------------------------------------- broken files


def test_an_unterminated_quote_is_named_and_the_rows_after_it_are_imported(cli, news, tmp_path):
    path = write(tmp_path, "q.csv", 'email,name\n'
                                    'a@example.com,Ada\n'
                                    'b@example.com,"Bob\n'          # 3: never closed
                                    'c@example.com,Cy\n'
                                    'd@example.com,"Dee, D."\n'     # 5: a quote that closes
                                    'e@example.com,Eve\n')
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    assert rejected_lines(result.output) == {3: (
        "unterminated quote starting at line 3: lines 4–5 were read into it; the lines after it"
        " are read as rows of their own")}
    assert set(readers(news)) == {"a@example.com", "c@example.com", "d@example.com",
                                  "e@example.com"}
    assert readers(news)["d@example.com"] == ("active", "Dee, D.")


def test_a_quote_closed_at_a_line_end_further_down(cli, news, tmp_path):
    # No parse error at all: the record just spans lines 3-5, and its inner lines are rows.
    path = write(tmp_path, "q.csv", 'email,name\n'
                                    'a@example.com,Ada\n'
                                    'b@example.com,"Bob\n'          # 3: opens
                                    'c@example.com,Cy\n'
                                    'd@example.com,Dee"\n'          # 5: closes at the line end
                                    '"e@example.com"x,Eve\n')        # 6: text after a quote
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    reasons = rejected_lines(result.output)
    assert reasons[3] == ("unterminated quote starting at line 3: lines 4–5 were read into it;"
                          " the lines after it are read as rows of their own")
    assert reasons[6].startswith("malformed CSV at line 6 (")
    assert "a quote inside a quoted field must be doubled" in reasons[6]
    assert sorted(readers(news)) == ["a@example.com", "c@example.com", "d@example.com"]


def test_a_quote_open_to_the_end_of_the_file(cli, news, tmp_path):
    rows = "".join(f"r{i}@example.com,R{i}\n" for i in range(4, 30))
    path = write(tmp_path, "q.csv", 'email,name\na@example.com,Ada\n"b@example.com,Bob\n' + rows)
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    assert rejected_lines(result.output) == {3: (
        "unterminated quote starting at line 3: the quoted field runs to the end of the file;"
        " the lines after it are read as rows of their own")}
    assert len(readers(news)) == 1 + 26


def test_an_over_long_field_is_rejected_alone(cli, news, tmp_path):
    path = write(tmp_path, "long.csv", 'email,name\na@example.com,Ada\n'
                                       f'b@example.com,"{"x" * 200_000}"\nc@example.com,Cy\n')
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    reasons = rejected_lines(result.output)
    assert list(reasons) == [3] and "over-long field starting at line 3" in reasons[3]
    assert set(readers(news)) == {"a@example.com", "c@example.com"}


def test_quoted_fields_spanning_lines_keep_the_numbering(cli, news, tmp_path):
    path = write(tmp_path, "multi.csv", 'email,name,notes\r\n'
                                        'a@example.com,Ada,"line one\r\nline two\r\nthree"\r\n'
                                        '\r\n'                                 # 5: blank
                                        'not-an-address,Bob,\r\n'              # 6
                                        'c@example.com,"Cy\nSmith",\r\n'       # 7-8
                                        ',Nobody,\r\n')                        # 9
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    reasons = rejected_lines(result.output)
    assert sorted(reasons) == [6, 9]
    assert "not a valid email address" in reasons[6] and reasons[9] == "empty email"
    assert readers(news)["c@example.com"][0] == "active"


def test_an_address_in_a_multi_line_note_is_not_a_row(cli, news, tmp_path):
    path = write(tmp_path, "notes.csv", 'email,name,notes\n'
                                        'a@example.com,Ann,"Ask her about\nbob@example.com"\n'
                                        'c@example.com,Cy,\n')
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    assert rejected_lines(result.output) == {}
    assert set(readers(news)) == {"a@example.com", "c@example.com"}


def test_a_header_without_rows_imports_nothing(cli, news, tmp_path):
    result = import_file(cli, news, write(tmp_path, "h.csv", "Email Address,Name\n"))
    assert result.exit_code == 0, result.output
    assert "0 added, 0 updated, 0 unchanged, 0 kept as they were, 0 rejected" in result.output


def test_nul_bytes_extra_values_and_a_repeated_header(cli, news, tmp_path):
    path = write(tmp_path, "odd.csv", "email,name\n"
                                      "a@example.com,Ada\n"
                                      "b@exa\x00mple.com,Bob\n"         # 3
                                      "c@example.com,Smith, Cy\n"      # 4: unquoted comma
                                      "email,name\n"                   # 5: a second export
                                      "d@example.com,Dee,\n")          # 6: empty extra: fine
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    reasons = rejected_lines(result.output)
    assert reasons == {3: "contains a NUL byte (not text)",
                       4: "3 values where the header has 2 columns (a value with an unquoted"
                          " separator?)",
                       5: "a repeated header row (two exports joined?)"}
    assert set(readers(news)) == {"a@example.com", "d@example.com"}


@pytest.mark.parametrize("text, encoding", [
    ("Email Address;First Name;Last Name\nzoe@example.com;Zoë;Ångström\n", "utf-8"),
    ('"Email Address";"First Name";"Last Name"\r\n"zoe@example.com";"Zoë";"Ångström"\r\n',
     "utf-8"),
    ("sep=;\nemail;name\nzoe@example.com;Zoë Ångström\n", "utf-8"),
    ("email\tname\nzoe@example.com\tZoë Ångström\n", "utf-16"),             # Excel Unicode text
    ("\ufeffemail,name\nzoe@example.com,Zoë Ångström\n", "utf-8"),          # a BOM
])
def test_european_excel_separators_and_encodings(cli, news, tmp_path, text, encoding):
    result = import_file(cli, news, write(tmp_path, "e.csv", text, encoding))
    assert result.exit_code == 0, result.output
    assert readers(news) == {"zoe@example.com": ("active", "Zoë Ångström")}


def test_duplicate_header_columns(cli, news, tmp_path):
    for header in ("email,name,email", "Email,E-mail,name", "email,status,Status"):
        path = write(tmp_path, "dup.csv", f"{header}\na@example.com,x,y\n")
        result = import_file(cli, news, path)
        assert result.exit_code == 2, (header, result.output)
        assert f"{path}:1: the header has 2 " in result.output
        assert "hint: keep one" in result.output
    assert readers(news) == {}


def test_unusable_files_exit_2_and_import_nothing(cli, news, tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email,name\nada@example.com,Ada\nzoe@example.com,Zo\xeb\n"
                      .encode("latin-1"))
    result = import_file(cli, news, latin)
    assert result.exit_code == 2
    assert f"{latin}:3: not UTF-8 text (byte 0xeb" in result.output
    assert "CSV UTF-8" in result.output

    workbook = tmp_path / "list.xlsx"
    workbook.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    assert "is a ZIP archive" in import_file(cli, news, workbook).output
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    empty = write(tmp_path, "empty.csv", "\n\n")
    headerless = write(tmp_path, "headerless.csv", "ada@example.com,Ada\n")
    for path, message in ((folder, "is a folder"), (empty, "the file is empty"),
                          (tmp_path / "missing.csv", "no such file"),
                          (headerless, ":1: the header row has no 'email' column (found: "
                                       "'ada@example.com', 'Ada')"),
                          (workbook, "is a ZIP archive")):
        result = import_file(cli, news, path)
        assert result.exit_code == 2, (path, result.output)
        assert message in result.output, result.output
    assert readers(news) == {}


def test_an_unreadable_file_is_exit_2(cli, news, tmp_path):
    import os

    path = write(tmp_path, "list.csv", "email\na@example.com\n")
    result = import_file(cli, news, path / "inside.csv")  # a file used as a folder
    assert result.exit_code == 2 and "cannot be read (Not a directory)" in result.output
    if os.geteuid() != 0:  # root reads every file
        path.chmod(0)
        result = import_file(cli, news, path)
        assert result.exit_code == 2 and "cannot be read (Permission denied)" in result.output
    assert readers(news) == {}


def test_two_exports_joined_with_their_boms(cli, news, tmp_path):
    # The second BOM is read as text, and its header row as a repeated header, not an address.
    path = tmp_path / "joined.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"email,name\na@example.com,A\n" + codecs.BOM_UTF8
                     + b"email,name\nb@example.com,B\n")
    result = import_file(cli, news, path)
    assert result.exit_code == 0, result.output
    assert rejected_lines(result.output) == {3: "a repeated header row (two exports joined?)"}
    assert set(readers(news)) == {"a@example.com", "b@example.com"}
