"""Item 7: a lost or emptied database never sends a week again. The archive's delivery record
(issues/<week>/delivery.json, no personal data) knows that a week's delivery started and how
far it got; `digest run`/`send` from a ledger that knows less stop with exit 1 and say how to go
on (restore the backup, or --force-resend); `digest build` does not rebuild such a week."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.archive.files import CONTENT_FILES
from pipeline.archive.record import SendRecord, problem

from .conftest import PINNED_NOW, PINNED_WEEK, run_digest

READERS = ("ada@example.com", "grace@example.com", "linus@example.com")


def _state_files(news) -> list[Path]:
    db = news.root / "var" / "digest.sqlite3"
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def _lose_database(news, how: str) -> None:
    db, *companions = _state_files(news)
    for path in companions:
        path.unlink(missing_ok=True)
    if how == "deleted":
        db.unlink()
    else:  # emptied: a 0-byte file is a valid, empty SQLite database
        db.write_bytes(b"")


def _recipients(news, week: str) -> list[str]:
    return sorted(m["To"].addresses[0].addr_spec for m in news.outbox_messages()
                  if m["X-Digest-Issue"] == week)


def _record(news, week: str = PINNED_WEEK) -> dict:
    return json.loads((news.issues / week / "delivery.json").read_text(encoding="utf-8"))


@pytest.mark.slow  # whole runs in subprocesses
@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_lost_database_never_sends_the_week_again(newsletter, cli, how):
    config = ("--config", newsletter.config_path)
    for address in READERS:
        assert cli(*config, "subscribers", "add", address).exit_code == 0
    first = cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert first.exit_code == 0, first.output
    assert _recipients(newsletter, PINNED_WEEK) == sorted(READERS)
    record = _record(newsletter)
    assert record["sent"] == 3 and record["complete"] is True
    assert record["started_at"] and record["ended_at"] and record["forced_at"] is None
    text = (newsletter.issues / PINNED_WEEK / "delivery.json").read_text(encoding="utf-8")
    assert "@" not in text  # the archive is public: no address

    _lose_database(newsletter, how)
    for address in READERS:  # the operator re-imports the list into the new database
        assert cli(*config, "subscribers", "add", address).exit_code == 0
    for command in (["run", "--now", PINNED_NOW], ["send"], ["send", "--dry-run"]):
        stopped = run_digest(*config, *command, "--week", PINNED_WEEK)
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "Traceback" not in stopped.stderr
        errors = [line for line in stopped.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, stopped.stderr
        assert "delivery.json" in errors[0] and "3 message(s) sent" in errors[0]
        assert "looks lost or restored from an older backup" in errors[0]
        assert "digest backup" in stopped.stderr and "--force-resend" in stopped.stderr
    assert _recipients(newsletter, PINNED_WEEK) == sorted(READERS)  # nobody twice
    # The editor heard why the run stopped.
    editor = newsletter.root / "var" / "outbox-editor" / "new"
    assert any("looks lost" in p.read_text(encoding="utf-8") for p in editor.iterdir())

    # The week is frozen for `digest build` too, whatever the feeds say now.
    folder = newsletter.issues / PINNED_WEEK
    before = {name: (folder / name).read_bytes() for name in CONTENT_FILES}
    feed = newsletter.root / "feeds" / "rss2_kagi-blog_summary-only.xml"
    feed.write_text(feed.read_text().replace("<title>", "<title>Changed: ", 3))
    kept = cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert kept.exit_code == 0 and "not rebuilt" in kept.output, kept.output
    assert {name: (folder / name).read_bytes() for name in CONTENT_FILES} == before

    # The public archive still lists the week: the archive knows it was sent.
    assert cli(*config, "site").exit_code == 0
    assert PINNED_WEEK in (newsletter.issues / "index.html").read_text(encoding="utf-8")

    # Knowingly forced: everyone gets it again, and the record follows the new ledger.
    forced = cli(*config, "send", "--week", PINNED_WEEK, "--force-resend")
    assert forced.exit_code == 0, forced.output
    assert _recipients(newsletter, PINNED_WEEK) == sorted(READERS * 2)
    record = _record(newsletter)
    assert record["forced_at"] and record["sent"] == 3 and record["complete"] is True
    again = cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert again.exit_code == 0 and "delivered: 0 new message(s)" in again.output
    assert len(_recipients(newsletter, PINNED_WEEK)) == 6


def test_the_record_is_written_before_the_first_message(newsletter, cli):
    """delivery.json exists, marked as running, when the transport gets the first message;
    a stopped send records its end and how many went out, and resumes normally."""
    from pipeline.delivery.transports.maildir import MaildirTransport
    from pipeline.jobs.send import send
    from pipeline.state.handle import State
    from pipeline.weeks import parse_now

    config = ("--config", newsletter.config_path)
    for address in READERS:
        assert cli(*config, "subscribers", "add", address).exit_code == 0
    assert cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    seen: list[dict] = []

    class Watching(MaildirTransport):
        def send(self, message):
            seen.append(_record(newsletter))
            return super().send(message)

    cfg = newsletter.config()
    stop_after_one = lambda: len(seen) >= 1  # noqa: E731 - a SIGTERM after the first batch
    with State(cfg, parse_now(PINNED_NOW)) as state:
        summary = send(state, PINNED_WEEK, Watching(cfg.state_dir / "outbox"),
                       should_stop=stop_after_one)
    assert seen[0]["ended_at"] is None and seen[0]["sent"] == 0
    assert seen[0]["complete"] is False
    ended = _record(newsletter)
    assert ended["ended_at"] and ended["sent"] == summary.sent and ended["complete"] == (
        summary.remaining == 0)
    resumed = cli(*config, "send", "--week", PINNED_WEEK)
    assert resumed.exit_code == 0, resumed.output
    assert _recipients(newsletter, PINNED_WEEK) == sorted(READERS)
    assert _record(newsletter)["sent"] == 3 and _record(newsletter)["complete"] is True


def test_an_archive_from_before_the_record_still_counts(newsletter, cli):
    """A week sent by an older version has report.json (status "sent"), no delivery.json: a
    lost database does not send it again either."""
    config = ("--config", newsletter.config_path)
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0
    assert cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    (newsletter.issues / PINNED_WEEK / "delivery.json").unlink()
    _lose_database(newsletter, "deleted")
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0
    stopped = cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert stopped.exit_code == 1 and "1 message(s) sent" in stopped.output
    assert _recipients(newsletter, PINNED_WEEK) == ["ada@example.com"]


def test_a_damaged_record_stops_the_send_and_names_the_file(newsletter, cli):
    config = ("--config", newsletter.config_path)
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0
    assert cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    path = newsletter.issues / PINNED_WEEK / "delivery.json"
    path.write_bytes(path.read_bytes()[:20])
    _lose_database(newsletter, "deleted")
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0
    for command in (["send"], ["run", "--now", PINNED_NOW]):
        stopped = run_digest(*config, *command, "--week", PINNED_WEEK)
        assert stopped.returncode == 1 and "Traceback" not in stopped.stderr
        assert f"{path} is damaged" in stopped.stderr
    kept = cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert kept.exit_code == 0 and "not rebuilt" in kept.output  # a damaged record counts
    assert _recipients(newsletter, PINNED_WEEK) == ["ada@example.com"]
    forced = cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW, "--force-resend")
    assert forced.exit_code == 0, forced.output
    assert _recipients(newsletter, PINNED_WEEK) == ["ada@example.com"] * 2
    assert _record(newsletter)["sent"] == 1 and _record(newsletter)["forced_at"]


def _rec(sent: int) -> SendRecord:
    return SendRecord("2026-W48", "t", "t", None, sent, False)


@pytest.mark.parametrize(("record", "knows", "ledger_sent", "stops"), [
    (None, False, 0, False),  # the first send of a week
    (None, True, 5, False),  # a send from before delivery.json existed, resumed
    (_rec(0), True, 0, False),  # a crash right after the start: the ledger has the rows
    (_rec(3), True, 7, False),  # a normal resume: the ledger is ahead of the last update
    (_rec(3), True, 3, False),
    (_rec(0), False, 0, True),  # started, then the database was lost
    (_rec(3), False, 0, True),
    (_rec(5), True, 4, True),  # a backup from before the end of the send
])
def test_which_ledgers_may_send(record, knows, ledger_sent, stops):
    assert (problem(record, knows, ledger_sent) is not None) == stops


def test_a_bare_send_keeps_the_lost_key_from_being_replaced(newsletter, cli):
    """After `digest build` + `digest send` (no report.json outcome), losing the database and
    the key file does not make a new key: delivery.json shows links went out with the old one."""
    config = ("--config", newsletter.config_path)
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0
    assert cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    assert cli(*config, "send", "--week", PINNED_WEEK).exit_code == 0
    report = json.loads((newsletter.issues / PINNED_WEEK / "report.json").read_text())
    assert report.get("status") is None and report.get("delivery") is None
    _lose_database(newsletter, "deleted")
    (newsletter.root / "var" / "secret.key").unlink()
    refused = run_digest(*config, "build", "--week", "2026-W49", "--now",
                         "2026-12-03T08:00:00+00:00")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "secret.key is missing" in refused.stderr
    assert f"{PINNED_WEEK}/delivery.json" in refused.stderr
    assert not (newsletter.root / "var" / "secret.key").exists()
