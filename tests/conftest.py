"""Shared test fixtures: a newsletter in a temp folder, a real HTTP server on 127.0.0.1, a real
SMTP server (aiosmtpd), the CLI runner, and `require_tool` for system tools."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FEEDS = FIXTURES / "feeds"
PINNED_NOW = "2026-11-26T08:00:00+00:00"
PINNED_WEEK = "2026-W48"


def require_tool(name: str, reason: str) -> str:
    """The tool's path; skip when missing on a laptop, fail when CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not installed: {reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: .ci/run must install it)")
        pytest.skip(message)
    return path


def require_mjml_npm() -> Path:
    """The official mjml command line (npm, installed by `make test`): skip on a laptop without
    it, fail when CI=true."""
    require_tool("node", "the official mjml runs on Node")
    path = ROOT / "node_modules" / ".bin" / "mjml"
    if not path.exists():
        message = "npm package mjml not installed: run `npm install` (make test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


# Two [[social]] links, for tests that render the footer's icons.
SOCIAL = """
[[social]]
network = "linkedin"
url = "https://www.linkedin.com/company/pm-career-digest"

[[social]]
network = "x"
url = "https://x.com/pmcareerdigest"
"""


@pytest.fixture
def tls_certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made for the test: (cert.pem, key)."""
    openssl = require_tool("openssl", "makes the test TLS certificate")
    key, cert = tmp_path / "tls.key", tmp_path / "tls.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def playwright_api():
    """Playwright's sync API: skip on a laptop without it, fail when CI=true."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "playwright not installed: pip install -e '.[test]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return sync_playwright


@contextmanager
def chromium_browser(reason: str) -> Iterator[object]:
    """Headless Chromium driven by Playwright: the system's Chromium (`executable_path`),
    never a downloaded one. Yields a playwright Browser; closed afterwards."""
    chromium = require_tool("chromium", reason)
    sync_playwright = playwright_api()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


# --------------------------------------------------------------------------- HTTP


Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class HttpServer:
    """A threaded HTTP server on 127.0.0.1. `routes[path]` is a handler function; files added
    with `serve_file` are served with a content type; every request is logged in `requests`."""

    server: ThreadingHTTPServer
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve_bytes(self, path: str, body: bytes, content_type: str = "application/xml",
                    status: int = 200, headers: dict[str, str] | None = None) -> str:
        def handler(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(body)

        self.routes[path] = handler
        return self.url(path)

    def serve_file(self, path: str, file: Path, content_type: str = "application/xml") -> str:
        return self.serve_bytes(path, file.read_bytes(), content_type)


def _handler_class(state: HttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _dispatch(self) -> None:
            path = self.path.split("?", 1)[0]
            state.requests.append((self.command, self.path, dict(self.headers)))
            route = state.routes.get(path) or state.routes.get(self.path)
            if route is None:
                body = b"not found"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            route(self)

        do_GET = do_HEAD = do_POST = _dispatch

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many feeds fetched at once must not overflow the backlog


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = HttpServer(server)
    server.RequestHandlerClass = _handler_class(state)
    server.daemon_threads = True
    # serve_forever polls for shutdown every 0.5 s by default: half a second per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


# --------------------------------------------------------------------------- SMTP


@dataclass
class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts."""

    host: str
    port: int
    messages: list[tuple[str, list[str], bytes]]
    controller: object

    def parsed(self) -> list[EmailMessage]:
        return [message_from_bytes(data, policy=policy.default) for _, _, data in self.messages]

    def recipients(self) -> list[str]:
        return [rcpt for _, rcpts, _ in self.messages for rcpt in rcpts]


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    messages: list[tuple[str, list[str], bytes]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSink("127.0.0.1", port, messages, controller)
    controller.stop()


# --------------------------------------------------------------------------- newsletter


@dataclass
class Newsletter:
    """A complete newsletter in a temp folder: config.toml, curated/, feeds/."""

    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def issues(self) -> Path:
        return self.root / "issues"

    @property
    def outbox(self) -> Path:
        return self.root / "var" / "outbox" / "new"

    def write_config(self, text: str) -> None:
        self.config_path.write_text(text, encoding="utf-8")

    def config(self):
        from pipeline.config import load_config

        return load_config(self.config_path)

    def outbox_messages(self) -> list[EmailMessage]:
        if not self.outbox.is_dir():
            return []
        return [message_from_bytes(p.read_bytes(), policy=policy.default)
                for p in sorted(self.outbox.iterdir())]


BASE_CONFIG = """\
[newsletter]
name = "PM Career Digest"
from = "PM Career Digest <digest@pmcareerdigest.example.com>"
reply_to = "editor@pmcareerdigest.example.com"
editor = "editor@pmcareerdigest.example.com"
base_url = "https://pmcareerdigest.example.com"
postal_address = "PM Career Digest, 548 Market St #12345, San Francisco, CA 94104, USA"
timezone = "America/New_York"

[issue]
lookback_days = {lookback_days}
max_items = {max_items}
max_per_source = 2

[[sections]]
id = "breaking-in"
title = "Breaking into product"
keywords = ["breaking into", "career change", "aspiring"]

[[sections]]
id = "interviews"
title = "Interviews and hiring"
keywords = ["interview", "hiring", "resume"]

[[sections]]
id = "craft"
title = "The craft"
keywords = ["roadmap", "discovery", "design", "product", "search"]

[[sections]]
id = "growth"
title = "Growth and leadership"
keywords = ["leadership", "career", "manager", "team"]

[[sections]]
id = "market"
title = "Pay and the job market"
keywords = ["salary", "layoff", "layoffs", "union", "workers"]

[curated]
dir = "curated"

[state]
dir = "var"

[archive]
dir = "issues"
"""


def make_newsletter(root: Path, feeds: list[tuple[str, str]] | None = None,
                    lookback_days: int = 3600, max_items: int = 12,
                    extra: str = "", curated: bool = True) -> Newsletter:
    """A newsletter folder. `feeds` are (name, url-or-relative-path) pairs."""
    root.mkdir(parents=True, exist_ok=True)
    text = BASE_CONFIG.format(lookback_days=lookback_days, max_items=max_items)
    for name, url in feeds or []:
        text += f'\n[[feeds]]\nname = "{name}"\nurl = "{url}"\n'
    text += extra
    (root / "config.toml").write_text(text, encoding="utf-8")
    if curated:
        shutil.copytree(ROOT / "curated", root / "curated")
    else:
        (root / "curated").mkdir()
    return Newsletter(root)


def add_excerpt(root: Path, week: str, slug: str, section: str = "craft") -> Path:
    """A curated excerpt pinned to `week` in the newsletter at `root` (an issue needs items:
    an empty one fails its check, `empty-issue`)."""
    path = root / "curated" / f"{slug}.md"
    path.write_text(
        f'+++\ntitle = "Notes for {week}: {slug}"\nurl = "https://example.com/{slug}"\n'
        f'source = "Example"\nsection = "{section}"\nadded = 2026-11-01T09:00:00Z\n'
        f'week = "{week}"\n+++\n> A passage worth quoting about {slug}.\n', encoding="utf-8")
    return path


@pytest.fixture
def newsletter(tmp_path: Path) -> Newsletter:
    """A newsletter with the shipped curated excerpts and two local fixture feeds."""
    feeds_dir = tmp_path / "news" / "feeds"
    feeds_dir.mkdir(parents=True)
    for name in ("rss2_kagi-blog_summary-only.xml", "rss2_collective-action-in-tech.xml"):
        shutil.copy(FEEDS / "real" / name, feeds_dir / name)
    return make_newsletter(tmp_path / "news", feeds=[
        ("Kagi Blog", "feeds/rss2_kagi-blog_summary-only.xml"),
        ("Collective Action in Tech", "feeds/rss2_collective-action-in-tech.xml"),
    ])


@pytest.fixture
def cli() -> Callable[..., object]:
    """Invoke `digest` in-process: cli("--config", path, "build", ...) → click Result."""
    from pipeline.cli import main

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


def run_digest(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `digest` console script in a subprocess."""
    digest = Path(sys.executable).parent / "digest"
    return subprocess.run([str(digest), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def start_server(args: list[str], base: str, env: dict[str, str] | None = None
                 ) -> subprocess.Popen:
    """Start the real `digest ARGS…` (a web server) and wait until `base`/healthz answers."""
    digest = str(Path(sys.executable).parent / "digest")
    proc = subprocess.Popen([digest, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"digest {' '.join(args)} exited: {proc.communicate()}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_server(proc)
            raise AssertionError(f"digest {' '.join(args)} did not start")
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a server this test started, by its PID."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def serve():
    """Start the real `digest serve` for a newsletter; stopped (by its PID) afterwards."""
    started: list[subprocess.Popen] = []

    def start(news, port: int) -> str:
        base = f"http://127.0.0.1:{port}"
        started.append(start_server(["--config", str(news.config_path), "serve", "--port",
                                     str(port)], base))
        return base

    yield start
    for proc in started:
        stop_server(proc)
