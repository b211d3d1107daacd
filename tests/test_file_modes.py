"""Item 14 (file modes): whatever the umask, the public archive is world-readable (files 0644,
folders 0755) and the state is private (files 0600, folders 0700): database and its -wal/-shm,
key, lock, journals, outboxes and backups. The real CLI runs under a restrictive and a
permissive umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PINNED_NOW, PINNED_WEEK, add_excerpt, make_newsletter

DIGEST = str(Path(sys.executable).parent / "digest")
NEXT_WEEK, NEXT_NOW = "2026-W49", "2026-12-03T08:00:00+00:00"


def digest(news, umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([DIGEST, "--config", str(news.config_path), *args],
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.umask(umask))
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def modes(root: Path) -> dict[str, int]:
    """relative path → permission bits, for `root` and everything under it."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


@pytest.mark.slow  # a whole run in a subprocess per umask
@pytest.mark.parametrize("umask", [0o077, 0o000], ids=["umask-077", "umask-000"])
def test_public_archive_and_private_state_whatever_the_umask(tmp_path, smtp_server, umask):
    news = make_newsletter(tmp_path / "news")
    add_excerpt(news.root, NEXT_WEEK, "second-week")  # the shipped excerpts go into W48
    digest(news, umask, "subscribers", "add", "ada@example.com")
    digest(news, umask, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW)  # Maildir outbox
    digest(news, umask, "preview", "--week", PINNED_WEEK)
    digest(news, umask, "backup")
    # The next week over SMTP with two connections: worker journals in var/journal/.
    with news.config_path.open("a", encoding="utf-8") as config:
        config.write(f'\n[delivery]\ntransport = "smtp"\n[delivery.smtp]\nhost = "127.0.0.1"\n'
                     f'port = {smtp_server.port}\nsecurity = "none"\nconnections = 2\n')
    digest(news, umask, "run", "--week", NEXT_WEEK, "--now", NEXT_NOW)
    assert len(smtp_server.messages) >= 1

    public = modes(news.issues)
    for name in ("index.html", "feed.xml", f"{PINNED_WEEK}/issue.json",
                 f"{PINNED_WEEK}/email.html", f"{PINNED_WEEK}/email.txt",
                 f"{PINNED_WEEK}/email.mjml", f"{PINNED_WEEK}/report.json",
                 f"{PINNED_WEEK}/delivery.json", f"{PINNED_WEEK}/index.html",
                 f"{PINNED_WEEK}/preview.html", NEXT_WEEK):
        assert name in public, sorted(public)
    wrong = {name: oct(mode) for name, mode in public.items()
             if mode != (0o755 if (news.issues / name).is_dir() else 0o644)}
    assert wrong == {}

    state = news.root / "var"
    private = modes(state)
    for name in ("digest.sqlite3", "secret.key", "digest.lock", "outbox/new", "outbox/tmp",
                 "outbox-editor/new", "journal", "backups"):
        assert name in private, sorted(private)
    assert any(name.startswith("outbox/new/") for name in private)  # the delivered message
    assert any(name.endswith("/digest.sqlite3") and name.startswith("backups/")
               for name in private)
    wrong = {name: oct(mode) for name, mode in private.items()
             if mode != (0o700 if (state / name).is_dir() else 0o600)}
    assert wrong == {}


def test_the_database_companions_are_private_while_it_is_open(tmp_path):
    """SQLite makes -wal and -shm with the database file's mode: with the database 0600 they
    are 0600 too, even under umask 000, while a connection holds them open."""
    from pipeline.state.db import Database

    db = tmp_path / "var" / "digest.sqlite3"
    previous = os.umask(0)
    try:
        conn = Database.open(db)
        try:
            conn.execute("INSERT INTO subscribers (email, status, created_at, updated_at)"
                         " VALUES ('a@example.com', 'active', 'now', 'now')")
            for suffix in ("", "-wal", "-shm"):
                path = db.with_name(db.name + suffix)
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        finally:
            conn.close()
    finally:
        os.umask(previous)


def test_a_loose_database_from_an_older_version_is_tightened(tmp_path):
    from pipeline.state.db import Database

    db = tmp_path / "digest.sqlite3"
    Database.open(db).close()
    os.chmod(db, 0o644)
    Database.open(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
