"""Helpers for the web tests (no tests here): a newsletter whose base_url is a real uvicorn
server on 127.0.0.1, running the app in a thread."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .conftest import Newsletter, free_port, make_newsletter


@dataclass
class WebServer:
    base: str
    news: Newsletter

    def url(self, path: str) -> str:
        return self.base + path

    def client(self) -> httpx.Client:
        # Never follow redirects: a test must see them.
        return httpx.Client(base_url=self.base, follow_redirects=False, timeout=10)


def web_newsletter(root: Path, port: int, extra: str = "", curated: bool = True) -> Newsletter:
    """A newsletter whose public base_url is http://127.0.0.1:<port>."""
    news = make_newsletter(root, extra=extra, curated=curated)
    text = news.config_path.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^base_url = ".*"$', f'base_url = "http://127.0.0.1:{port}"', text)
    news.write_config(text)
    return news


@contextmanager
def running(news: Newsletter, port: int) -> Iterator[WebServer]:
    """`digest serve`'s application on uvicorn, in a thread, for the duration of the block."""
    import uvicorn

    from pipeline.web import create_app

    config = news.config()
    server = uvicorn.Server(uvicorn.Config(
        create_app(config), host="127.0.0.1", port=port, log_level="warning",
        proxy_headers=True, forwarded_allow_ips=config.web.forwarded_allow_ips))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield WebServer(f"http://127.0.0.1:{port}", news)
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def web(root: Path, extra: str = "", curated: bool = True) -> Iterator[WebServer]:
    port = free_port()
    with running(web_newsletter(root, port, extra, curated), port) as server:
        yield server


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    """Poll until `predicate()` is truthy (work done after a response, e.g. a mail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def add_subscriber(news: Newsletter, email: str, name: str | None = None,
                   status: str = "active"):
    from pipeline.state import subscribers
    from pipeline.state.db import Database

    conn = Database.open(news.config().db_path)
    try:
        return subscribers.add(conn, email, name, status=status)[0]
    finally:
        conn.close()


def subscriber(news: Newsletter, email: str):
    from pipeline.state import subscribers
    from pipeline.state.db import Database

    conn = Database.open(news.config().db_path)
    try:
        return subscribers.get(conn, email)
    finally:
        conn.close()
