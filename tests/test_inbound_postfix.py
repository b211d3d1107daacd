"""A real DSN from Postfix: a private Postfix instance (its own config, queue and Maildir under
the test's folder, SMTP on a free loopback port) takes an issue sent with VERP to a reader
whose mailbox does not exist, bounces it (local(8): "unknown user", 5.1.1) to the message's
return path, and delivers the bounce into a Maildir through its virtual(8) agent
(recipient_delimiter = +: every bounces+TOKEN@ address lands in the bounces@ mailbox).
`digest inbound MAILDIR` reads that Postfix-written DSN and the reader is bounced.

Needs root (Postfix's master runs as root and its data folder belongs to the postfix user);
skipped otherwise, or without Postfix."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import PINNED_NOW, PINNED_WEEK, free_port, require_tool
from .test_inbound_e2e import smtp_newsletter

DOMAIN = "pmcareerdigest.example.com"
READER = "ada@mx.test.example"  # a local domain of the Postfix instance, no such user


def _main_cf(root: Path, port: int) -> str:
    return f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test.example
mydomain = test.example
myorigin = test.example
mydestination = mx.test.example
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
recipient_delimiter = +
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
default_transport = error:this test instance sends nothing out
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
smtputf8_enable = no
"""


def _master_cf(port: int) -> str:
    """The packaged master.cf, with SMTP on our port and nothing chrooted."""
    lines = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        fields = line.split()
        if line[:1].isalnum() and len(fields) >= 8:
            if fields[0] == "smtp" and fields[1] == "inet":
                fields[0] = f"127.0.0.1:{port}"
            fields[4] = "n"  # chroot
            line = " ".join(fields)
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.fixture
def postfix():
    postfix = require_tool("postfix", "makes the real DSN")
    if os.geteuid() != 0 or not Path("/etc/postfix/master.cf").exists():
        pytest.skip("a private Postfix instance needs root (its master runs as root, its data "
                    "folder belongs to the postfix user) and the packaged master.cf")
    # Its own folder under /tmp: the postfix user must reach its data folder, and pytest's
    # folders are private to root.
    root = Path(tempfile.mkdtemp(prefix="digest-postfix-"))
    os.chmod(root, 0o755)
    for folder in ("etc", "queue", "data", "mail"):
        (root / folder).mkdir(parents=True)
    port = free_port()
    (root / "etc" / "main.cf").write_text(_main_cf(root, port))
    (root / "etc" / "master.cf").write_text(_master_cf(port))
    (root / "etc" / "vmailbox").write_text(f"bounces@{DOMAIN} bounces/Maildir/\n")
    shutil.chown(root / "data", user="postfix")
    shutil.chown(root / "mail", user=65534)
    started = subprocess.run([postfix, "-c", str(root / "etc"), "start"], capture_output=True,
                             text=True, timeout=60)
    log = root / "maillog"
    if started.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"the private Postfix did not start: {started.stderr.strip()} "
                    f"{log.read_text() if log.exists() else ''}")
    try:
        yield root, port
    finally:
        subprocess.run([postfix, "-c", str(root / "etc"), "stop"], capture_output=True,
                       timeout=60)
        pid_file = root / "queue" / "pid" / "master.pid"
        deadline = time.monotonic() + 20
        while pid_file.exists() and time.monotonic() < deadline:
            try:
                os.kill(int(pid_file.read_text().split()[0]), 0)
            except (ProcessLookupError, ValueError, OSError):
                break
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.postfix
@pytest.mark.slow
def test_a_dsn_written_by_postfix_bounces_the_reader(tmp_path: Path, cli, postfix) -> None:
    root, port = postfix
    news = smtp_newsletter(tmp_path / "news", port, DOMAIN)
    config = ("--config", news.config_path)
    assert cli(*config, "subscribers", "add", READER).exit_code == 0
    assert cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    sent = cli(*config, "send", "--week", PINNED_WEEK)
    assert sent.exit_code == 0, sent.output  # Postfix accepts, then bounces it itself

    inbox = root / "mail" / "bounces" / "Maildir"
    deadline = time.monotonic() + 60
    while not ((inbox / "new").is_dir() and any((inbox / "new").iterdir())):
        log = (root / "maillog").read_text() if (root / "maillog").exists() else ""
        assert time.monotonic() < deadline, f"no bounce from Postfix; its log:\n{log}"
        time.sleep(0.2)
    (bounce,) = (inbox / "new").iterdir()
    raw = bounce.read_bytes()
    assert b"report-type=delivery-status" in raw and b"X-Postfix-Queue-ID" in raw
    assert re.search(rb"Delivered-To: bounces\+[a-z0-9-]+@" + DOMAIN.encode(), raw)

    result = cli(*config, "inbound", "--json", str(inbox))
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    verdict = json.loads(line)
    assert (verdict["kind"], verdict["status"], verdict["recipients"]) == \
        ("hard", "5.1.1", [READER])
    assert verdict["verp_token"] and verdict["action"] == f"{READER}: bounced"
    listed = json.loads(cli(*config, "subscribers", "list", "--json").output)
    assert [(row["email"], row["status"], row["reason"]["source"]) for row in listed] == \
        [(READER, "bounced", "inbound")]
