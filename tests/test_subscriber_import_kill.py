"""A `digest subscribers import` killed with SIGKILL in the middle of writing leaves nothing
half imported: the whole file is one transaction. The real console script in a subprocess, a
real SQLite file, a real kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import make_newsletter, run_digest

pytestmark = pytest.mark.slow  # a large import killed mid-way


def write_rows(path: Path, prefix: str, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("Email Address,First Name,Last Name\n")
        for i in range(rows):
            f.write(f"{prefix}{i}@example.com,First{i},Last{i}\n")


def write_locked(db: Path) -> bool:
    """Another process holds SQLite's write lock (the import's transaction) right now."""
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc), exc
        return True
    finally:
        probe.close()


def kill_while_writing(command: list[str], db: Path) -> tuple[int, bool]:
    """Start the import; SIGKILL it once it has held the write lock for a moment (the open's
    own migration check holds it for microseconds, the import's transaction far longer).
    Returns (exit status, whether it was killed inside its transaction)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if write_locked(db):
                time.sleep(0.05)
                if write_locked(db):
                    os.kill(process.pid, signal.SIGKILL)
                    return process.wait(), True
            time.sleep(0.002)
        return process.wait(timeout=5), False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def count(db: Path, prefix: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM subscribers WHERE email LIKE ?",
                            (f"{prefix}%",)).fetchone()[0]


def test_a_killed_import_leaves_nothing_half_imported(tmp_path):
    news = make_newsletter(tmp_path / "news", curated=False)
    # The database and its schema exist before the import, as on a running newsletter.
    assert run_digest("--config", news.config_path, "subscribers", "add",
                      "first@example.com").returncode == 0
    db = news.root / "var" / "digest.sqlite3"
    digest = str(Path(sys.executable).parent / "digest")
    rows = 50_000
    for attempt in range(4):
        prefix = f"k{attempt}-"
        csv_path = tmp_path / f"big{attempt}.csv"
        write_rows(csv_path, prefix, rows)
        status, in_transaction = kill_while_writing(
            [digest, "--config", str(news.config_path), "subscribers", "import",
             str(csv_path)], db)
        imported = count(db, prefix)
        assert imported in (0, rows), f"{imported} of {rows} rows: half imported"
        if in_transaction and status == -signal.SIGKILL and imported == 0:
            break
        rows *= 2  # it finished before the kill: a bigger file gives a wider window
    else:
        pytest.fail("the import always finished before it could be killed mid-write")

    # The database is intact and the same file imports completely afterwards.
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert count(db, "first@") == 1
    again = run_digest("--config", news.config_path, "subscribers", "import", csv_path)
    assert again.returncode == 0, again.stderr
    assert f"{rows} added" in again.stdout
    assert count(db, prefix) == rows
