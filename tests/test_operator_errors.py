"""Item 13: a damaged or locked database, a truncated issue.json, a full disk and a read-only
outbox each give one clear error line (what, where, what to do) and exit 1, never a traceback;
nothing is lost: the next run after the cause is fixed delivers each reader exactly once.
Orphans left in the outbox's tmp/ by a crash are removed; names are shown escaped.

Full disks and read-only folders are real: a small tmpfs and a read-only bind mount (root
only; the tests skip, saying why, where mounting is not allowed)."""

from __future__ import annotations

import errno
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import PINNED_NOW, PINNED_WEEK, make_newsletter, run_digest

pytestmark = pytest.mark.slow  # full disks (tmpfs), locked and damaged databases, subprocesses

READERS = [f"reader{i}@example.com" for i in range(6)]


# --------------------------------------------------------------------------- helpers


def _mount(*args: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs or a read-only bind mount needs root")
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount {' '.join(args)} is not allowed here: {done.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real small file system on `path` (ENOSPC when it is full)."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path))
    try:
        yield path
    finally:
        _umount(path)


def grow(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


@contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """`path` on a read-only bind mount of itself (EROFS for every write under it)."""
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield path
    finally:
        _umount(path)


def one_error(done: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exit 1 and one `error:` line (plus its hint), no traceback."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "hint:" in done.stderr, done.stderr
    return errors[0] + "\n" + done.stderr


def news_with_readers(root: Path, build: bool = True):
    news = make_newsletter(root)
    csv = root / "readers.csv"
    csv.write_text("email\n" + "\n".join(READERS) + "\n", encoding="utf-8")
    assert digest(news, "subscribers", "import", csv).returncode == 0
    if build:
        assert digest(news, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).returncode == 0
    return news


def digest(news, *args, env: dict[str, str] | None = None):
    return run_digest("--config", news.config_path, *args, env=env)


def send(news, *args: str):
    return digest(news, "send", "--week", PINNED_WEEK, *args)


def delivered(news) -> Counter[str]:
    return Counter(m["To"].addresses[0].addr_spec for m in news.outbox_messages())


def ledger(news) -> Counter[str]:
    with sqlite3.connect(news.root / "var" / "digest.sqlite3") as conn:
        return Counter(row[0] for row in conn.execute("SELECT status FROM deliveries"))


# --------------------------------------------------------------------------- database


def test_a_damaged_database_is_one_line_and_names_the_backup(tmp_path):
    news = make_newsletter(tmp_path / "news")
    db = news.root / "var" / "digest.sqlite3"
    db.parent.mkdir()
    db.write_bytes(random.Random(10).randbytes(8192))  # garbage, not a database
    for command in (["subscribers", "list"], ["send", "--week", PINNED_WEEK],
                    ["run", "--now", PINNED_NOW], ["backup"], ["subscribers", "add", "a@b.co"]):
        error = one_error(digest(news, *command))
        assert f"the state database {db} is damaged" in error, error
        assert "restore the latest backup" in error
    assert db.read_bytes() == random.Random(10).randbytes(8192)  # left as it was, for rescue


HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def test_a_database_locked_by_another_program(tmp_path):
    news = news_with_readers(tmp_path / "news")
    db = news.root / "var" / "digest.sqlite3"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        short = {"DIGEST_TEST_BUSY_TIMEOUT_SECONDS": "0.3"}
        for command in (["subscribers", "add", "late@example.com"], ["send", "--week",
                        PINNED_WEEK], ["run", "--week", PINNED_WEEK, "--now", PINNED_NOW]):
            error = one_error(digest(news, *command, env=short))
            assert f"the state database {db} is locked by another program" in error, error
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert delivered(news) == Counter()
    done = send(news)
    assert done.returncode == 0, done.stderr
    assert delivered(news) == Counter({r: 1 for r in READERS})


# --------------------------------------------------------------------------- archive


def test_a_truncated_issue_json_stops_and_the_send_resumes_once_mended(tmp_path):
    from pipeline.delivery.transports.maildir import MaildirTransport
    from pipeline.jobs.send import send as send_issue
    from pipeline.state.handle import State
    from pipeline.weeks import parse_now

    news = news_with_readers(tmp_path / "news")
    config = news.config()
    issue = news.issues / PINNED_WEEK / "issue.json"
    # A send that stopped after its first batch (SIGTERM): some readers have it already.
    outbox = MaildirTransport(config.state_dir / "outbox")
    with State(config, parse_now(PINNED_NOW)) as state:
        first = send_issue(state, PINNED_WEEK, outbox, should_stop=lambda: outbox._count >= 1)
    assert first.sent >= 1 and first.remaining >= 1
    good = issue.read_bytes()
    issue.write_bytes(good[: len(good) // 2])
    for command in (["send", "--week", PINNED_WEEK], ["run", "--week", PINNED_WEEK, "--now",
                    PINNED_NOW], ["check", "--week", PINNED_WEEK]):
        error = one_error(digest(news, *command))
        assert f"{issue} is damaged" in error, error
        assert "restore the file from your copy of the archive" in error  # not rebuilt
    assert sum(delivered(news).values()) == first.sent
    issue.write_bytes(good)
    assert send(news).returncode == 0
    assert delivered(news) == Counter({r: 1 for r in READERS})


def test_a_truncated_issue_json_of_an_unsent_week_says_rebuild(tmp_path):
    news = news_with_readers(tmp_path / "news")
    issue = news.issues / PINNED_WEEK / "issue.json"
    issue.write_text('{"id": "2026-W48", "number": 1, "sect', encoding="utf-8")
    error = one_error(send(news))
    assert f"{issue} is damaged" in error and "digest build --week 2026-W48" in error
    assert digest(news, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).returncode == 0
    assert send(news).returncode == 0
    assert delivered(news) == Counter({r: 1 for r in READERS})


# --------------------------------------------------------------------------- full disk


def test_a_full_outbox_disk_stops_the_send_and_the_resume_sends_each_once(tmp_path):
    news = news_with_readers(tmp_path / "news")
    outbox = news.root / "var" / "outbox"
    size = len((news.issues / PINNED_WEEK / "email.html").read_bytes())
    with tmpfs(outbox, f"{size * 2 // 1024 + 8}k"):  # room for a message or two
        error = one_error(send(news))
        assert f"cannot write into the outbox {outbox}: no space left" in error, error
        assert "free space on the disk" in error and "resume" in error
        got = delivered(news)
        assert sum(got.values()) >= 1 and set(got.values()) == {1}
        counts = ledger(news)
        assert counts["sent"] == sum(got.values()) and "sending" not in counts
        assert list((outbox / "tmp").iterdir()) == []  # the half-written message is gone
        record = (news.issues / PINNED_WEEK / "delivery.json").read_text(encoding="utf-8")
        assert f'"sent": {counts["sent"]}' in record and '"ended_at": null' not in record

        grow(outbox, "16m")  # space freed
        done = send(news)
        assert done.returncode == 0, done.stderr
        assert delivered(news) == Counter({r: 1 for r in READERS})


def test_a_full_archive_disk_names_the_file(tmp_path):
    news = news_with_readers(tmp_path / "news", build=False)
    with tmpfs(news.issues, "8k") as issues:
        error = one_error(digest(news, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW))
        assert f"cannot write {issues / PINNED_WEEK}/" in error and "no space left" in error
        assert not list(issues.rglob(".*.tmp"))  # no temporary file left behind
        grow(issues, "16m")
        assert digest(news, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).returncode == 0
        assert send(news).returncode == 0
        assert delivered(news) == Counter({r: 1 for r in READERS})


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_state_disk_leaves_the_database_right(tmp_path):
    news = make_newsletter(tmp_path / "news")
    state = news.root / "var"
    with tmpfs(state, "2m"):
        assert digest(news, "subscribers", "add", "ada@example.com").returncode == 0
        filler = _fill(state)
        error = one_error(digest(news, "subscribers", "add", "grace@example.com"))
        assert str(state) in error and ("no space left" in error or "disk is full" in error)
        filler.unlink()
        assert digest(news, "subscribers", "add", "grace@example.com").returncode == 0
        listed = digest(news, "subscribers", "list")
        assert listed.returncode == 0
        assert "ada@example.com" in listed.stdout and "grace@example.com" in listed.stdout
        assert "2 subscriber(s)" in listed.stdout


# --------------------------------------------------------------------------- read-only outbox


def test_a_read_only_outbox_stops_the_send_and_loses_nothing(tmp_path):
    from pipeline.delivery.transports.maildir import MaildirTransport

    news = news_with_readers(tmp_path / "news")
    outbox = news.root / "var" / "outbox"
    MaildirTransport(outbox)  # the folders exist, as after an earlier send
    with read_only(outbox):
        error = one_error(send(news))
        assert f"cannot write into the outbox {outbox}: the file system is read-only" in error
        assert ledger(news) == Counter({"queued": len(READERS)})
    done = send(news)
    assert done.returncode == 0, done.stderr
    assert delivered(news) == Counter({r: 1 for r in READERS})


# --------------------------------------------------------------------------- outbox tmp/


def test_orphans_in_the_outbox_tmp_are_removed_when_a_send_starts(tmp_path):
    from pipeline.delivery.transports.maildir import MaildirTransport

    news = news_with_readers(tmp_path / "news")
    tmp = news.root / "var" / "outbox" / "tmp"
    MaildirTransport(tmp.parent)
    host = socket.gethostname().replace("/", "_").replace(":", "_")
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead_pid = int(finished.stdout)  # that process has exited: its file is never finished
    files = {
        "dead": f"{time.time_ns()}.P{dead_pid}Q1.0123456789abcdef.{host}",
        "live": f"{time.time_ns()}.P{os.getpid()}Q1.0123456789abcdef.{host}",
        "old": f"{time.time_ns()}.P1Q1.0123456789abcdef.other.host.example",
        "recent": f"{time.time_ns()}.P1Q2.0123456789abcdef.other.host.example",
    }
    for name in files.values():
        (tmp / name).write_bytes(b"Subject: half a message\n")
    old = time.time() - 37 * 3600  # maildir(5): untouched for 36 hours
    os.utime(tmp / files["old"], (old, old))
    assert send(news).returncode == 0
    assert sorted(p.name for p in tmp.iterdir()) == sorted([files["live"], files["recent"]])
    assert delivered(news) == Counter({r: 1 for r in READERS})


# --------------------------------------------------------------------------- names


def test_subscribers_list_shows_terminal_escapes_escaped(tmp_path):
    news = news_with_readers(tmp_path / "news", build=False)
    evil = "\x1b[2J\x1b[31mMallory\x07\u202eevil\r\x9b"
    with sqlite3.connect(news.root / "var" / "digest.sqlite3") as conn:  # stored before names
        conn.execute("UPDATE subscribers SET name = ? WHERE email = ?", (evil, READERS[0]))
    listed = digest(news, "subscribers", "list")
    assert listed.returncode == 0
    line = next(line for line in listed.stdout.splitlines() if READERS[0] in line)
    assert r"\x1b[2J\x1b[31mMallory\x07\u202eevil\r\x9b" in line
    assert not any(c in listed.stdout for c in "\x1b\x07\u202e\r\x9b")
    as_json = digest(news, "subscribers", "list", "--json")
    assert '"\\u001b[2J\\u001b[31mMallory' in as_json.stdout  # JSON escapes it itself
