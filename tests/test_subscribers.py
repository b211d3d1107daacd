"""The subscriber list: validated and normalised addresses, unique without regard to case,
statuses with timestamps, CSV import that reports every rejected line and never re-subscribes
an address that said no, `subscribers add --force`, `list --json --status`."""

from __future__ import annotations

import json
import sqlite3

import pytest

from pipeline.errors import UsageError
from pipeline.state import subscribers as subs
from pipeline.state.db import Database


@pytest.fixture
def conn(tmp_path):
    connection = Database.open(tmp_path / "state.sqlite3")
    yield connection
    connection.close()


def test_normalised_and_unique_without_regard_to_case(conn):
    first, outcome = subs.add(conn, "  Ada@Example.COM ", "Ada  Lovelace\r\nBcc: x")
    assert outcome == "added"
    assert first.email == "Ada@example.com"  # domain lower-cased, local part kept
    assert first.name == "Ada Lovelace Bcc: x"  # no line break can reach a header
    again, outcome = subs.add(conn, "ADA@example.com")
    assert (again.id, outcome) == (first.id, "unchanged")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO subscribers (email, status, created_at, updated_at)"
                     " VALUES ('ada@EXAMPLE.com', 'active', 'x', 'x')")
    for bad in ("no-at-sign", "a@b", "two@@example.com", "x@example.com\r\nBcc: y", ""):
        with pytest.raises(UsageError):
            subs.normalize_email(bad)


def test_statuses_and_timestamps(conn):
    reader, _ = subs.add(conn, "grace@example.com")
    row = dict(next(subs.iter_rows(conn)))
    assert row["status"] == "active" and row["created_at"] and row["confirmed_at"]
    assert row["unsubscribed_at"] is None
    subs.remove(conn, "GRACE@example.com")
    row = dict(next(subs.iter_rows(conn, "unsubscribed")))
    assert row["unsubscribed_at"] is not None
    # The library default re-activates (a confirmed web signup does that); the CLI does not
    # without --force, and an import never does.
    _, outcome = subs.add(conn, "grace@example.com", revive=False)
    assert outcome == "kept unsubscribed"


def test_import_reports_each_line_and_keeps_sticky_statuses(conn, tmp_path):
    for email, status in (("gone@example.com", "unsubscribed"), ("dead@example.com", "bounced"),
                          ("angry@example.com", "complained"), ("new@example.com", "pending")):
        subscriber, _ = subs.add(conn, email)
        subs.set_status(conn, subscriber.id, status)
    csv = tmp_path / "list.csv"
    csv.write_text(
        "Email , Name\n"                       # 1: header, any case and spacing
        "ada@example.com,Ada\n"                # 2
        "not-an-address,Bob\n"                 # 3
        ",Nobody\n"                            # 4
        "ADA@example.com,Ada again\n"          # 5: duplicate of line 2
        '"gone@example.com","Gone\nTwo lines"\n'  # 6-7: a quoted field spans two lines
        "dead@example.com,\n"                  # 8
        "angry@example.com,\n"                 # 9
        "new@example.com,New\n"                # 10: pending → active (the operator adds it)
        "zoe@bücher.example,Zoë\n",            # 11: an internationalised domain is fine
        encoding="utf-8")
    report = subs.import_csv(conn, csv)
    assert (report.added, report.updated, report.accepted) == (2, 1, 3)
    assert [line for line, _ in report.rejected] == [3, 4, 5]
    reasons = dict(report.rejected)
    assert "not a valid email address" in reasons[3]
    assert reasons[4] == "empty email"
    assert "duplicate" in reasons[5]
    # A record is reported by the line it starts on (it was the line it ended on).
    assert report.kept == [(6, "gone@example.com", "unsubscribed"),
                           (8, "dead@example.com", "bounced"),
                           (9, "angry@example.com", "complained")]
    statuses = {r["email"]: r["status"] for r in subs.iter_rows(conn)}
    assert statuses["gone@example.com"] == "unsubscribed"
    assert statuses["dead@example.com"] == "bounced"
    assert statuses["angry@example.com"] == "complained"
    assert statuses["new@example.com"] == "active"
    assert statuses["zoe@bücher.example"] == "active"


def test_unusable_files_are_usage_errors(conn, tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        subs.import_csv(conn, tmp_path / "missing.csv")
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("ada@example.com,Ada\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no 'email' column"):
        subs.import_csv(conn, headerless)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email,name\nzoe@example.com,Zo\xeb\n".encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8"):
        subs.import_csv(conn, latin)


def test_cli_add_force_list_json(newsletter, cli):
    config = str(newsletter.config_path)
    assert cli("--config", config, "subscribers", "add", "ada@example.com",
               "--name", "Ada").exit_code == 0
    assert cli("--config", config, "subscribers", "remove", "ada@example.com").exit_code == 0
    kept = cli("--config", config, "subscribers", "add", "ada@example.com")
    assert "kept unsubscribed" in kept.output
    forced = cli("--config", config, "subscribers", "add", "ada@example.com", "--force")
    assert "updated (active)" in forced.output
    cli("--config", config, "subscribers", "add", "bob@example.com")
    cli("--config", config, "subscribers", "remove", "bob@example.com")
    listed = cli("--config", config, "subscribers", "list", "--json", "--status", "active")
    rows = json.loads(listed.output)
    assert [r["email"] for r in rows] == ["ada@example.com"]
    assert {"name", "status", "created_at", "updated_at", "confirmed_at",
            "unsubscribed_at"} <= rows[0].keys()
    help_text = cli("--config", config, "subscribers", "add", "--help").output
    assert "--force" in help_text and "unsubscribed" in help_text
    bad = cli("--config", config, "subscribers", "add", "not-an-address")
    assert bad.exit_code == 2
