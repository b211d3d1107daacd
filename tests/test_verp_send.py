"""`[delivery] return_path`: the envelope sender (MAIL FROM) of every message, as the SMTP
server sees it. With {token}: each reader's own, naming the reader and the issue; a test copy
(`digest send --to`) the plain return path; without {token}: one fixed address; unset: the
From address, as before."""

from __future__ import annotations

from email import message_from_bytes, policy

from pipeline.inbound import verify_verp
from pipeline.tokens import reader_ref

from .conftest import PINNED_NOW, PINNED_WEEK, make_newsletter

DOMAIN = "pmcareerdigest.example.com"
READERS = ("ada@example.com", "grace@example.org")


def sent_envelopes(tmp_path, cli, smtp_server, return_path: str | None) -> dict[str, str]:
    line = f'return_path = "{return_path}"\n' if return_path else ""
    news = make_newsletter(tmp_path / "news", extra=f"""
[delivery]
transport = "smtp"
{line}
[delivery.smtp]
host = "127.0.0.1"
port = {smtp_server.port}
security = "none"
connections = 1
""")
    config = ("--config", news.config_path)
    for address in READERS:
        assert cli(*config, "subscribers", "add", address).exit_code == 0
    assert cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    result = cli(*config, "send", "--week", PINNED_WEEK)
    assert result.exit_code == 0, result.output
    test_copy = cli(*config, "send", "--week", PINNED_WEEK, "--to", "ada@example.com")
    assert test_copy.exit_code == 0, test_copy.output
    envelopes = {}
    for sender, recipients, data in smtp_server.messages:
        subject = str(message_from_bytes(data, policy=policy.default)["Subject"])
        label = "test" if subject.startswith("[TEST] ") else recipients[0]
        envelopes[label] = sender
    envelopes["key"] = (news.root / "var" / "secret.key").read_text().strip()
    return envelopes


def test_verp_names_each_reader_and_the_test_copy_has_the_plain_return_path(
        tmp_path, cli, smtp_server):
    envelopes = sent_envelopes(tmp_path, cli, smtp_server, f"bounces+{{token}}@{DOMAIN}")
    key = envelopes["key"].encode()
    tokens = set()
    for reader in READERS:
        local, _, domain = envelopes[reader].partition("@")
        assert domain == DOMAIN and len(local) <= 64
        tokens.add(local.removeprefix("bounces+"))
        assert verify_verp(key, local.removeprefix("bounces+")) == (reader_ref(reader),
                                                                    PINNED_WEEK)
        assert verify_verp(b"x" * 32, local.removeprefix("bounces+")) is None
    assert len(tokens) == 2
    assert envelopes["test"] == f"bounces@{DOMAIN}"


def test_a_fixed_return_path_and_none(tmp_path, cli, smtp_server):
    fixed = sent_envelopes(tmp_path / "a", cli, smtp_server, f"bounces@{DOMAIN}")
    assert {fixed[r] for r in (*READERS, "test")} == {f"bounces@{DOMAIN}"}
    smtp_server.messages.clear()
    unset = sent_envelopes(tmp_path / "b", cli, smtp_server, None)
    assert {unset[r] for r in (*READERS, "test")} == {f"digest@{DOMAIN}"}
