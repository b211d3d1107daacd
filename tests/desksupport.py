"""Helpers for the editor's desk tests (no tests here): a newsletter with two small fixture
feeds (one article in both, under two URLs), a git snapshot of its curated folder, and the real
`digest desk` in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import FEEDS, Newsletter, free_port, make_newsletter, start_server, stop_server

WEEK = "2026-W48"
BEFORE_SEND = "2026-11-22T23:00:00+00:00"  # Sunday evening in New York: the editor's pass
AT_SEND = "2026-11-23T12:30:00+00:00"  # Monday 07:30 New York: past the 07:00 send time
READERS = ("ada@example.com", "grace@example.com")
APPROVAL = '\n[schedule]\nmode = "approval"\nweekday = "monday"\ntime = "07:00"\n'


def desk_newsletter(root: Path, extra: str = "", max_items: int = 4) -> Newsletter:
    """Feeds Alpha and Beta (tests/fixtures/feeds/desk), an empty curated folder under git."""
    (root / "feeds").mkdir(parents=True)
    for name in ("alpha.xml", "beta.xml"):
        shutil.copy(FEEDS / "desk" / name, root / "feeds" / name)
    news = make_newsletter(root, feeds=[("Alpha", "feeds/alpha.xml"), ("Beta", "feeds/beta.xml")],
                           max_items=max_items, extra=extra, curated=False)
    git(root, "init", "-q")
    git(root, "add", "config.toml", "curated")
    git(root, "commit", "-q", "--allow-empty", "-m", "before the editor's pass")
    return news


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env=env).stdout


def curated_changes(root: Path) -> list[str]:
    """`git status --porcelain` of the curated folder: what the editor's pass changed."""
    return git(root, "status", "--porcelain", "--untracked-files=all", "curated").splitlines()


def rows(cli, news: Newsletter, now: str = BEFORE_SEND) -> list[dict]:
    result = cli("--config", news.config_path, "candidates", "--week", WEEK, "--now", now,
                 "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def issue_json(news: Newsletter) -> dict:
    return json.loads((news.issues / WEEK / "issue.json").read_text(encoding="utf-8"))


@contextmanager
def running_desk(news: Newsletter, *args: str, env: dict[str, str] | None = None,
                 host: str = "127.0.0.1") -> Iterator[str]:
    """The real `digest desk` (a subprocess, stopped by its PID); yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(["--config", str(news.config_path), "desk", "--host", host, "--port",
                         str(port), *args], base, env)
    try:
        yield base
    finally:
        stop_server(proc)
