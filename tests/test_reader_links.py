"""Links name the reader by the ref of their address, not a row id, through the real CLI and the
real web server: an old unsubscribe link still acts on its own address after the database is
recreated and the list imported again in another order; a link for an address not on file
changes nothing; after a key rotation, links signed with the retired key work only while
[web] previous_secrets_env names it (`digest serve` in a subprocess)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pipeline.state import migrations, subscribers
from pipeline.state.db import Database
from pipeline.tokens import read_reader_token, reader_ref

from .conftest import PINNED_NOW, PINNED_WEEK, free_port, make_newsletter
from .test_web_support import running, subscriber, wait_for, web_newsletter

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
OLD_KEY, NEW_KEY = "old-" + "a" * 60, "new-" + "b" * 60


def _unsubscribe_links(news) -> dict[str, str]:
    """address → the https List-Unsubscribe URL of the message it received."""
    links = {}
    for message in news.outbox_messages():
        address = message["To"].addresses[0].addr_spec
        urls = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
        links[address] = next(u for u in urls if u.startswith("http"))
    return links


def _statuses(news) -> dict[str, str]:
    with sqlite3.connect(news.config().db_path) as conn:
        return dict(conn.execute("SELECT email, status FROM subscribers"))


def _csv(path: Path, *addresses: str) -> Path:
    path.write_text("email,name\n" + "".join(f"{a},{a.split('@')[0].title()}\n"
                                             for a in addresses), encoding="utf-8")
    return path


def test_an_old_link_acts_on_its_address_after_the_database_is_recreated(tmp_path, cli):
    port = free_port()
    news = web_newsletter(tmp_path / "news", port)
    config = ("--config", news.config_path)
    first = ["ada@example.com", "bob@example.com", "carol@example.com", "dan@example.com",
             "erin@example.com"]
    assert cli(*config, "subscribers", "import", _csv(tmp_path / "a.csv", *first)).exit_code == 0
    old_ada = subscriber(news, "ada@example.com")
    sent = cli(*config, "run", "--now", PINNED_NOW)
    assert sent.exit_code == 0, sent.output
    links = _unsubscribe_links(news)
    assert sorted(links) == sorted(first)

    # The database is lost; the list comes back in another order, without erin.
    for path in (news.root / "var").glob("digest.sqlite3*"):
        path.unlink()
    again = ["dan@example.com", "carol@example.com", "ada@example.com", "bob@example.com"]
    assert cli(*config, "subscribers", "import", _csv(tmp_path / "b.csv", *again)).exit_code == 0
    # Under row ids, ada's old link would now name dan.
    assert subscriber(news, "dan@example.com").id == old_ada.id

    with running(news, port), httpx.Client(follow_redirects=False, timeout=10) as client:
        page = client.get(links["ada@example.com"])
        assert page.status_code == 200 and "Unsubscribe</button>" in page.text
        done = client.post(links["ada@example.com"], data=ONE_CLICK)
        assert done.status_code == 200 and "You are unsubscribed" in done.text
        assert _statuses(news) == {"ada@example.com": "unsubscribed",
                                   "bob@example.com": "active", "carol@example.com": "active",
                                   "dan@example.com": "active"}
        # erin is not on file any more: her genuine old link is refused, nobody changes.
        for response in (client.get(links["erin@example.com"]),
                         client.post(links["erin@example.com"], data=ONE_CLICK)):
            assert response.status_code == 400 and "Nothing was changed" in response.text
        assert subscriber(news, "erin@example.com") is None
        assert list(_statuses(news).values()).count("active") == 3


def test_migration_3_gives_existing_readers_refs_stamps_and_clean_names(tmp_path):
    """An old state folder (schema 2) upgrades itself: every reader gets the ref of their
    address and a stamp, stored names are normalised, and new rows get a stamp from any code
    (their ref from the state layer: see the next test)."""
    path = tmp_path / "digest.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in migrations.MIGRATIONS[:2]:
        conn.executescript(migration)
    conn.execute("PRAGMA user_version=2")
    conn.execute("INSERT INTO subscribers (email, name, status, created_at, updated_at) VALUES"
                 " ('Ada@example.com', ?, 'active', 'x', 'x'),"
                 " ('bob@example.com', NULL, 'unsubscribed', 'x', 'x')",
                 ("Ada\r\nBcc: x@evil.example \x1b[31m=?utf-8?q?X?=",))
    conn.close()

    conn = Database.open(path)
    rows = {r["email"]: r for r in conn.execute("SELECT * FROM subscribers")}
    assert rows["Ada@example.com"]["ref"] == reader_ref("ada@example.com")
    assert rows["bob@example.com"]["ref"] == reader_ref("bob@example.com")
    assert rows["Ada@example.com"]["name"] == "Ada Bcc: x@evil.example = ?utf-8?q?X?="
    stamps = {r["status_stamp"] for r in rows.values()}
    assert len(stamps) == 2 and all(re.fullmatch(r"[0-9a-f]{16}", s) for s in stamps)
    # A row written by plain SQL gets its stamp from a trigger; a status change renews the
    # stamp, other updates do not.
    conn.execute("INSERT INTO subscribers (email, status, created_at, updated_at)"
                 " VALUES ('carol@example.com', 'active', 'x', 'x')")
    carol = conn.execute("SELECT ref, status_stamp FROM subscribers"
                         " WHERE email = 'carol@example.com'").fetchone()
    assert carol["status_stamp"]
    conn.execute("UPDATE subscribers SET name = 'Carol' WHERE email = 'carol@example.com'")
    assert conn.execute("SELECT status_stamp FROM subscribers WHERE email ="
                        " 'carol@example.com'").fetchone()[0] == carol["status_stamp"]
    conn.execute("UPDATE subscribers SET status = 'bounced' WHERE email = 'carol@example.com'")
    assert conn.execute("SELECT status_stamp FROM subscribers WHERE email ="
                        " 'carol@example.com'").fetchone()[0] != carol["status_stamp"]
    conn.close()


def test_another_tool_may_write_readers_and_they_get_their_ref(tmp_path, cli):
    """No trigger needs a function only digest registers (migration 4): the `sqlite3` shell
    (here: Python's sqlite3, nothing registered) inserts a reader and changes an address
    without "no such function"; the state layer gives each its ref when it next opens the
    database, and links for those addresses then act on them."""
    news = make_newsletter(tmp_path / "news", curated=False)
    assert cli("--config", news.config_path, "subscribers", "add", "ada@example.com"
               ).exit_code == 0
    path = news.config().db_path
    with sqlite3.connect(path) as conn:  # a plain connection: no reader_ref() in SQL
        conn.execute("INSERT INTO subscribers (email, status, created_at, updated_at)"
                     " VALUES ('carol@example.com', 'active', 'x', 'x')")
        conn.execute("UPDATE subscribers SET email = 'ada@example.org'"
                     " WHERE email = 'ada@example.com'")
        rows = dict(conn.execute("SELECT email, ref FROM subscribers"))
    assert rows == {"ada@example.org": None, "carol@example.com": None}  # stale ref dropped
    with Database.open(path) as db:
        rows = dict(db.execute("SELECT email, ref FROM subscribers"))
        assert rows == {"ada@example.org": reader_ref("ada@example.org"),
                        "carol@example.com": reader_ref("carol@example.com")}
        reader, stamp = subscribers.get_by_ref(db, reader_ref("carol@example.com"))
        assert reader.email == "carol@example.com" and re.fullmatch(r"[0-9a-f]{16}", stamp)
    # Every path of the state layer that inserts a reader writes the ref itself (read back
    # without reopening, so nothing filled it in on the way).
    with Database.open(path) as db:
        subscribers.add(db, "erin@example.com", status="pending", source="web")
        csv = tmp_path / "more.csv"
        csv.write_text("email\nfrank@example.com\n", encoding="utf-8")
        subscribers.import_csv(db, csv)
        refs = dict(db.execute("SELECT email, ref FROM subscribers"
                               " WHERE email IN ('erin@example.com', 'frank@example.com')"))
    assert refs == {"erin@example.com": reader_ref("erin@example.com"),
                    "frank@example.com": reader_ref("frank@example.com")}


# --------------------------------------------------------------------------- key rotation


@contextmanager
def serving(news, port: int, env: dict[str, str]) -> Iterator[str]:
    """`digest serve` in a subprocess with exactly these secrets in its environment."""
    digest = Path(sys.executable).parent / "digest"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_SECRET")}
    process = subprocess.Popen(
        [str(digest), "--config", str(news.config_path), "serve", "--host", "127.0.0.1",
         "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**clean, **env})
    base = f"http://127.0.0.1:{port}"

    def healthy():
        if process.poll() is not None:
            raise AssertionError(f"digest serve exited: {process.stderr.read().decode()}")
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, 30, "digest serve to answer")
        yield base
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()


@pytest.mark.slow  # two `digest serve` processes: 2-5 s each on this machine
def test_links_signed_with_a_retired_key_work_while_it_is_listed(tmp_path, cli, monkeypatch):
    port = free_port()
    news = web_newsletter(tmp_path / "news", port)
    config = ("--config", news.config_path)
    for address in ("ada@example.com", "bob@example.com"):
        assert cli(*config, "subscribers", "add", address).exit_code == 0
    monkeypatch.setenv("DIGEST_SECRET", OLD_KEY)
    assert cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    assert cli(*config, "send", "--week", PINNED_WEEK).exit_code == 0
    links = _unsubscribe_links(news)

    # A new key, the old one not listed: the links in inboxes are refused and change nothing.
    with serving(news, port, {"DIGEST_SECRET": NEW_KEY}):
        for response in (httpx.get(links["ada@example.com"]),
                         httpx.post(links["ada@example.com"], data=ONE_CLICK)):
            assert response.status_code == 400 and "Nothing was changed" in response.text
    assert _statuses(news) == {"ada@example.com": "active", "bob@example.com": "active"}

    # The retired key listed in [web] previous_secrets_env: the same link works.
    news.write_config(news.config_path.read_text(encoding="utf-8")
                      + '\n[web]\nprevious_secrets_env = ["DIGEST_SECRET_PREVIOUS"]\n')
    with serving(news, port, {"DIGEST_SECRET": NEW_KEY, "DIGEST_SECRET_PREVIOUS": OLD_KEY}):
        with httpx.Client(follow_redirects=False, timeout=10) as client:
            done = client.post(links["ada@example.com"], data=ONE_CLICK)
            assert done.status_code == 200 and "You are unsubscribed" in done.text
            assert _statuses(news) == {"ada@example.com": "unsubscribed",
                                       "bob@example.com": "active"}
            # The page's own resubscribe form is signed with the new key, and works.
            token = re.search(r'name="token" value="([^"]+)"', done.text).group(1)
            assert read_reader_token(NEW_KEY.encode(), "resubscribe", token) is not None
            csrf = re.search(r'name="csrf" value="([^"]+)"', done.text).group(1)
            back = client.post(links["ada@example.com"].split("/u/")[0] + "/resubscribe",
                               data={"token": token, "csrf": csrf})
            assert back.status_code == 200 and "Welcome back" in back.text
    assert _statuses(news)["ada@example.com"] == "active"
