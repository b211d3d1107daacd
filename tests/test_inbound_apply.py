"""`digest inbound PATH…` acting on what it reads (jobs/inbound.py): bounces mapped to readers
by a verified VERP token or by address, soft bounces counted per issue up to the limit,
unsubscribe mail only through a token that verifies, each message applied once, --dry-run,
the sources (Maildir, mbox, files) and the exit codes; the events say where each came from."""

from __future__ import annotations

import json
import mailbox
import sqlite3
from email.message import EmailMessage
from pathlib import Path

import pytest

from pipeline.inbound import return_path, sign_verp
from pipeline.tokens import reader_ref

from .conftest import PINNED_NOW, PINNED_WEEK, make_newsletter
from .inboundmail import arf, auto_reply, dsn, mailto_unsubscribe, parse

DOMAIN = "pmcareerdigest.example.com"
TEMPLATE = f"bounces+{{token}}@{DOMAIN}"
READERS = ("ada@example.com", "grace@example.org", "linus@example.net", "alan@example.org")


class Sent:
    """A newsletter that sent PINNED_WEEK to READERS through its Maildir outbox."""

    def __init__(self, root: Path, cli, extra: str = "") -> None:
        self.news = make_newsletter(root, extra=f'[delivery]\nreturn_path = "{TEMPLATE}"\n'
                                                + extra)
        self.cli = cli
        for address in READERS:
            assert self.run("subscribers", "add", address).exit_code == 0
        result = self.run("run", "--week", PINNED_WEEK, "--now", PINNED_NOW)
        assert result.exit_code == 0, result.output
        self.key = (root / "var" / "secret.key").read_text().strip().encode()
        self.messages = {}
        for path in sorted(self.news.outbox.iterdir()):
            data = path.read_bytes()
            for address in READERS:
                if f"\nTo: {address}".encode() in data:
                    self.messages[address] = data

    def run(self, *args: str, input: bytes | None = None):
        return self.cli("--config", self.news.config_path, *args, input=input)

    def verp(self, address: str, week: str = PINNED_WEEK) -> str:
        return return_path(TEMPLATE, sign_verp(self.key, reader_ref(address), week))

    def inbound(self, *paths: Path | str, json_out: bool = True, dry_run: bool = False):
        args = ["inbound", *(["--json"] if json_out else []),
                *(["--dry-run"] if dry_run else []), *map(str, paths)]
        return self.run(*args)

    def feed(self, tmp: Path, raw: bytes, name: str = "msg.eml") -> dict:
        path = tmp / name
        path.write_bytes(raw)
        result = self.inbound(path)
        assert result.exit_code == 0, result.output
        (line,) = result.output.splitlines()
        return json.loads(line)

    def statuses(self) -> dict[str, str]:
        listed = self.run("subscribers", "list", "--json")
        return {row["email"]: row["status"] for row in json.loads(listed.output)}

    def events(self) -> list[tuple]:
        with sqlite3.connect(self.news.root / "var" / "digest.sqlite3") as conn:
            return conn.execute("SELECT ref, kind, status, source, detail, issue_id"
                                " FROM subscriber_events ORDER BY id").fetchall()


@pytest.fixture
def sent(tmp_path: Path, cli) -> Sent:
    return Sent(tmp_path / "news", cli)


def test_a_bounce_from_a_forwarding_alias_reaches_its_reader_through_verp(sent, tmp_path):
    # ada's mail was forwarded to an old address that no longer exists: the bounce names the
    # alias, the return path names ada.
    raw = dsn(sent.messages["ada@example.com"], "ada.old@forward.example",
              to=sent.verp("ada@example.com"))
    result = sent.feed(tmp_path, raw)
    assert (result["kind"], result["recipients"]) == ("hard", ["ada.old@forward.example"])
    assert result["action"] == "ada@example.com: bounced"
    assert sent.statuses()["ada@example.com"] == "bounced"
    ref, kind, status, source, detail, issue = sent.events()[-1]
    assert (ref, kind, status, source, issue) == (reader_ref("ada@example.com"), "bounced",
                                                  "bounced", "inbound", PINNED_WEEK)
    assert detail.startswith("hard 5.1.1: ") and result["key"] in detail


def test_a_token_that_does_not_verify_is_ignored(sent, tmp_path):
    forged = sent.verp("grace@example.org").replace("bounces+", "bounces+a", 1)
    # It names nobody: the bounce's own recipient decides (an address on file)…
    raw = dsn(sent.messages["ada@example.com"], "ada@example.com", to=forged)
    result = sent.feed(tmp_path, raw)
    assert "the VERP token does not verify: ignored" in result["action"]
    assert sent.statuses()["ada@example.com"] == "bounced"
    assert sent.statuses()["grace@example.org"] == "active"
    # …or nobody, when that address is not a reader's (and the returned original carries
    # no List-Unsubscribe token of ours either: some servers return the headers they like).
    original = sent.messages["linus@example.net"]
    start = original.index(b"List-Unsubscribe:")
    end = original.index(b"List-Unsubscribe-Post:")
    other = dsn(original[:start] + original[end:], "stranger@example.com",
                to=sent.verp("linus@example.net").replace("bounces+", "bounces+b", 1))
    assert "stranger@example.com: no reader" in sent.feed(tmp_path, other, "2.eml")["action"]
    assert sent.statuses()["linus@example.net"] == "active"


def test_soft_bounces_count_once_per_issue_up_to_the_limit(sent, tmp_path):
    def full(week: str, number: int) -> dict:
        raw = dsn(sent.messages["grace@example.org"], "grace@example.org",
                  to=sent.verp("grace@example.org", week), status="4.2.2", action="delayed",
                  diagnostic="452 4.2.2 <{rcpt}>: Mailbox full")
        return sent.feed(tmp_path, raw, f"soft{number}.eml")

    first = full("2026-W46", 1)
    assert first["kind"] == "soft"
    assert first["action"] == "grace@example.org: soft bounce 1 of 3 within 30 days"
    # The same issue's next warning is the same bounce: still one.
    assert full("2026-W46", 2)["action"].endswith("soft bounce 1 of 3 within 30 days")
    assert full("2026-W47", 3)["action"].endswith("soft bounce 2 of 3 within 30 days")
    assert sent.statuses()["grace@example.org"] == "active"
    third = full(PINNED_WEEK, 4)
    assert third["action"] == "grace@example.org: bounced (3 soft bounces within 30 days)"
    assert sent.statuses()["grace@example.org"] == "bounced"
    *_, (ref, kind, status, source, detail, issue) = sent.events()
    assert (kind, status, issue) == ("bounced", "bounced", PINNED_WEEK)
    assert detail.startswith("3 soft bounces within 30 days (limit 3)")
    soft = [row for row in sent.events() if row[1] == "soft_bounce"]
    assert [row[5] for row in soft] == ["2026-W46", "2026-W46", "2026-W47", PINNED_WEEK]


def test_the_soft_bounce_limit_is_configurable(tmp_path, cli):
    sent = Sent(tmp_path / "news", cli, extra="\n[inbound]\nsoft_bounce_limit = 1\n")
    raw = dsn(sent.messages["alan@example.org"], "alan@example.org",
              to=sent.verp("alan@example.org"), status="5.2.2",
              diagnostic="552 5.2.2 <{rcpt}>: Mailbox full")
    assert sent.feed(tmp_path, raw)["kind"] == "soft"
    assert sent.statuses()["alan@example.org"] == "bounced"


def test_unsubscribe_mail_acts_only_through_a_token_that_verifies(sent, tmp_path):
    plea = EmailMessage()
    plea["From"] = "linus@example.net"
    plea["To"] = f"unsubscribe@{DOMAIN}"
    plea["Subject"] = "unsubscribe"
    plea["Message-ID"] = "<plea.1@example.net>"
    plea.set_content("Please remove me.")
    result = sent.feed(tmp_path, plea.as_bytes())
    assert result["kind"] == "unsubscribe"
    assert "nobody is unsubscribed" in result["reason"]
    assert sent.statuses()["linus@example.net"] == "active"

    genuine = mailto_unsubscribe(sent.messages["linus@example.net"], "linus@example.net")
    token = str(parse(genuine)["Subject"]).split()[-1].encode()
    assert token in genuine  # folded, not encoded
    forged = genuine.replace(token, token[:-2] + (b"AA" if token[-2:] != b"AA" else b"BB"))
    forged = forged.replace(b"Message-ID: <", b"Message-ID: <forged.")  # its own message
    refused = sent.feed(tmp_path, forged, "forged.eml")
    assert "the unsubscribe token does not verify" in refused["action"]
    assert sent.statuses()["linus@example.net"] == "active"

    done = sent.feed(tmp_path, genuine, "genuine.eml")
    assert done["action"] == "linus@example.net: unsubscribed"
    assert sent.statuses()["linus@example.net"] == "unsubscribed"
    _, kind, _, source, detail, issue = sent.events()[-1]
    assert (kind, source, issue) == ("unsubscribed", "inbound", PINNED_WEEK)
    assert detail.startswith("unsubscribe: unsubscribe request by mail") and done["key"] in detail


def test_a_complaint_outranks_an_unsubscribe_and_a_redacted_one_still_names_the_reader(
        sent, tmp_path):
    assert sent.run("subscribers", "remove", "alan@example.org").exit_code == 0
    result = sent.feed(tmp_path, arf(sent.messages["alan@example.org"], "alan@example.org",
                                     redacted=True))
    assert result["kind"] == "complaint"
    assert result["action"] == "alan@example.org: complained"
    assert sent.statuses()["alan@example.org"] == "complained"


def test_auto_replies_and_other_mail_change_nothing(sent, tmp_path):
    before = sent.events()
    vacation = sent.feed(tmp_path, auto_reply(sent.messages["ada@example.com"],
                                              "ada@example.com", sent.verp("ada@example.com")))
    assert vacation["kind"] == "auto-reply"
    assert vacation["action"] == "nothing to do: an automatic reply"
    thanks = EmailMessage()
    thanks["From"] = "ada@example.com"
    thanks["To"] = f"digest@{DOMAIN}"
    thanks["Subject"] = "Re: this week"
    thanks.set_content("Loved the interview piece.")
    other = sent.feed(tmp_path, thanks.as_bytes(), "thanks.eml")
    assert other["kind"] == "not-bounce" and other["key"].startswith("sha256:")
    assert sent.events() == before


def test_dry_run_then_apply_then_again(sent, tmp_path):
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(dsn(sent.messages["ada@example.com"], "ada@example.com",
                    to=sent.verp("ada@example.com")))
    maildir.add(arf(sent.messages["grace@example.org"], "grace@example.org"))
    before = sent.events()
    dry = sent.inbound(tmp_path / "Maildir", dry_run=True)
    assert dry.exit_code == 0, dry.output
    actions = sorted(json.loads(line)["action"] for line in dry.output.splitlines())
    assert actions == ["ada@example.com: would become bounced",
                       "grace@example.org: would become complained"]
    assert sent.events() == before
    assert sent.statuses()["ada@example.com"] == "active"

    applied = sent.inbound(tmp_path / "Maildir", json_out=False)
    assert applied.exit_code == 0
    assert "2 message(s): 1 complaint, 1 hard" in applied.output
    assert sent.statuses()["ada@example.com"] == "bounced"
    after = sent.events()
    again = sent.inbound(tmp_path / "Maildir")
    assert [json.loads(line)["duplicate"] for line in again.output.splitlines()] == [True, True]
    assert sent.events() == after
    listed = sent.run("subscribers", "list")
    line = next(row for row in listed.output.splitlines() if row.startswith("ada@example.com"))
    assert "bounced" in line and "(inbound, " in line and "hard 5.1.1" in line


def test_an_mbox_a_bad_source_and_the_exit_codes(sent, tmp_path):
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    box.add(dsn(sent.messages["ada@example.com"], "ada@example.com",
                to=sent.verp("ada@example.com")))
    box.add(dsn(sent.messages["linus@example.net"], "linus@example.net",
                to=sent.verp("linus@example.net")))
    box.flush()
    result = sent.inbound(tmp_path / "missing", tmp_path / "bounces.mbox")
    assert result.exit_code == 1
    sources = [json.loads(line)["source"] for line in result.output.splitlines()
               if line.startswith("{")]
    assert sources == [f"{tmp_path / 'bounces.mbox'}:1", f"{tmp_path / 'bounces.mbox'}:2"]
    assert sent.statuses()["linus@example.net"] == "bounced"
    assert sent.run("inbound").exit_code == 2
    assert sent.run("inbound", "--lmtp", "127.0.0.1:1", str(tmp_path)).exit_code == 2
    assert sent.run("inbound", "--lmtp", "nowhere").exit_code == 2


def test_a_fixed_return_path_finds_the_reader_by_the_address(tmp_path, cli):
    sent = Sent(tmp_path / "news", cli)
    text = sent.news.config_path.read_text().replace(TEMPLATE, f"bounces@{DOMAIN}")
    sent.news.config_path.write_text(text)
    raw = dsn(sent.messages["alan@example.org"], "alan@example.org", to=f"bounces@{DOMAIN}")
    result = sent.feed(tmp_path, raw)
    assert result["verp_token"] is None
    assert result["action"] == "alan@example.org: bounced"
    assert sent.events()[-1][5] == PINNED_WEEK  # the issue, from the original's Message-ID


@pytest.mark.parametrize("value", ["bounces", "bounces+{token}@", "{token}@example.com",
                                   "b+{token}{token}@example.com", "x@{token}.example.com",
                                   "a-very-long-fixed-part+{token}@example.com"])
def test_a_bad_return_path_is_a_configuration_error(tmp_path, cli, value):
    news = make_newsletter(tmp_path / "news", extra=f'[delivery]\nreturn_path = "{value}"\n')
    result = cli("--config", news.config_path, "inbound", "-")
    assert result.exit_code == 2
    assert "delivery.return_path" in result.output


def test_a_locked_state_is_exit_75_and_the_retry_applies(sent, tmp_path, monkeypatch):
    """A Postfix pipe transport keeps the message and retries on exit 75 (EX_TEMPFAIL)."""
    monkeypatch.setenv("DIGEST_TEST_BUSY_TIMEOUT_SECONDS", "0.2")
    raw = dsn(sent.messages["ada@example.com"], "ada@example.com",
              to=sent.verp("ada@example.com"))
    lock = sqlite3.connect(sent.news.root / "var" / "digest.sqlite3")
    lock.execute("BEGIN IMMEDIATE")
    try:
        locked = sent.run("inbound", "-", input=raw)
    finally:
        lock.rollback()
        lock.close()
    assert locked.exit_code == 75, locked.output
    assert "try again later" in locked.output
    assert sent.statuses()["ada@example.com"] == "active"
    retried = sent.run("inbound", "-", input=raw)
    assert retried.exit_code == 0, retried.output
    assert sent.statuses()["ada@example.com"] == "bounced"
