"""Fetch stage: bytes for every configured feed, from http(s) or a local path.

All feeds are fetched at once by a bounded pool of threads (`[fetch] concurrency`), each request
on its own connection (one shared TLS context) made by `httpget` (http.py) on the standard library's
http.client: with a hundred feeds at once the cost is the Python work per request, and httpx's
layers cost several times more than http.client's (bench/fetch.py measured httpx's pooled,
per-feed and asyncio variants before this). Each fetch has its own time limit
(`timeout_seconds`, covering connect, redirects and the body) and the stage as a whole an
overall deadline (`deadline_seconds`); the body is streamed and abandoned past `max_bytes`
(after gzip/deflate decoding, so a compression bomb stops too). Redirects are followed by hand,
at most five, so a loop or a chain is named as such; a permanent redirect becomes a note
suggesting the new URL. Conditional GET: the caller passes the ETag and Last-Modified of the
last fetch and gets `not_modified` back on a 304. 429 and 503 are retried once their
Retry-After has passed, when that is before the deadline.

Never raises for one feed: a failure becomes a FetchResult with status "failed" and a reason.
"""

from __future__ import annotations

import email.utils
import functools
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

from .. import __version__
from ..config import Config, FeedConfig
from ..models import FetchResult
from . import http as httpget  # feeds/http.py (the name `http` is the standard library's here)

MAX_REDIRECTS = 5
REDIRECT_CODES = {301, 302, 303, 307, 308}
PERMANENT_CODES = {301, 308}
RETRY_CODES = {429, 503}
MAX_ATTEMPTS = 3  # one request and at most two retries after a Retry-After
T = TypeVar("T")
R = TypeVar("R")
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
          "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
          "application/json;q=0.8, */*;q=0.5")


@dataclass(frozen=True)
class Validators:
    """What the last fetch of a feed returned, to make the next one conditional."""

    etag: str | None = None
    last_modified: str | None = None


class FetchFailed(Exception):
    def __init__(self, reason: str, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status


def user_agent(config: Config) -> str:
    return f"PMCareerDigest/{__version__} (+{config.newsletter.base_url})"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """A verifying TLS context, built once per process (loading the CA bundle takes tens of
    milliseconds)."""
    return ssl.create_default_context()


def fetch_all(config: Config, validators: dict[str, Validators] | None = None
              ) -> list[FetchResult]:
    """One FetchResult per enabled feed, in the config's order."""
    feeds = [f for f in config.feeds if f.enabled]
    if not feeds:
        return []
    settings = config.fetch
    validators = validators or {}
    start = time.monotonic()
    deadline = start + settings.deadline_seconds
    session = _Session(user_agent(config), settings.timeout_seconds, settings.max_bytes,
                       deadline, settings.deadline_seconds)
    if any(f.is_remote for f in feeds):
        _tls_context()  # once, before the threads need it

    def one(feed: FeedConfig) -> FetchResult:
        try:
            if not feed.is_remote:
                return fetch_local(feed, Path(config.resolve(feed.url)), settings.max_bytes)
            if time.monotonic() >= deadline:
                return _failed(feed, "not started: the overall fetch deadline "
                               f"({settings.deadline_seconds:g} s) had passed", time.monotonic())
            return session.fetch(feed, validators.get(feed.name))
        except Exception as exc:  # a bug or a blow-up: still only this feed's failure
            return _failed(feed, f"internal error: {type(exc).__name__}: {exc}", start)

    results = run_until(feeds, one, min(settings.concurrency, len(feeds)), deadline)
    return [result or _failed(feed, "stopped at the overall fetch deadline "
                              f"({settings.deadline_seconds:g} s)", start)
            for feed, result in zip(feeds, results, strict=True)]


def run_until(items: list[T], work: Callable[[T], R], workers: int, deadline: float
              ) -> list[R | None]:
    """`work(item)` for every item on `workers` threads, until `deadline` (time.monotonic):
    the results in order, None for an item not finished by then. `work` must not raise.

    The threads are daemon threads, not a ThreadPoolExecutor's: the interpreter joins those at
    exit, so one fetch stuck where no time limit reaches (a DNS lookup) would keep the
    process alive after the job is done. Every socket read is bounded by its fetch's limit
    (httpget), so a thread left behind ends by itself soon after the deadline."""
    results: list[R | None] = [None] * len(items)
    lock = threading.Lock()
    todo = iter(enumerate(items))
    left = [len(items)]
    stopped = False
    all_done = threading.Event()

    def worker() -> None:
        while True:
            with lock:
                task = None if stopped else next(todo, None)
            if task is None:
                return
            index, item = task
            result = work(item)
            with lock:
                if not stopped:
                    results[index] = result
                left[0] -= 1
                if not left[0]:
                    all_done.set()

    for n in range(min(workers, len(items))):
        threading.Thread(target=worker, name=f"fetch-{n}", daemon=True).start()
    all_done.wait(timeout=max(0.0, deadline - time.monotonic()))
    with lock:
        stopped = True  # late results are dropped; items not started are never started
        return list(results)


def fetch_local(feed: FeedConfig, path: Path, max_bytes: int) -> FetchResult:
    start = time.monotonic()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return FetchResult(feed.name, feed.url, str(path), "failed",
                               error=f"file is {_mb(size)}, over the {_mb(max_bytes)} limit",
                               seconds=time.monotonic() - start)
        body = path.read_bytes()
    except OSError as exc:
        return FetchResult(feed.name, feed.url, str(path), "failed",
                           error=f"cannot read {path}: {exc.strerror}",
                           seconds=time.monotonic() - start)
    return FetchResult(feed.name, feed.url, path.as_uri(), "ok", body=body,
                       seconds=time.monotonic() - start)


def _failed(feed: FeedConfig, reason: str, start: float, http_status: int | None = None,
            final_url: str | None = None, note: str | None = None) -> FetchResult:
    return FetchResult(feed.name, feed.url, final_url or feed.url, "failed",
                       http_status=http_status, error=reason, note=note,
                       seconds=time.monotonic() - start)


class _Session:
    """What every fetch of one run shares: headers, limits and the deadline."""

    def __init__(self, agent: str, timeout: float, max_bytes: int, deadline: float,
                 deadline_seconds: float) -> None:
        self.headers = {"User-Agent": agent, "Accept": ACCEPT,
                        "Accept-Encoding": "gzip, deflate"}
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.deadline_seconds = deadline_seconds

    def fetch(self, feed: FeedConfig, validators: Validators | None) -> FetchResult:
        start = time.monotonic()
        headers = dict(self.headers)
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        for attempt in range(1, MAX_ATTEMPTS + 1):
            limit = min(self.timeout, self.deadline - time.monotonic())
            try:
                status, response_headers, body, final_url, moved = self._get(
                    feed.url, headers, time.monotonic() + limit)
            except FetchFailed as exc:
                return _failed(feed, exc.reason, start, exc.http_status)
            except httpget.TimedOut:
                return _failed(feed, self._timed_out(limit), start)
            except httpget.ConnectFailed as exc:
                return _failed(feed, f"cannot connect: {exc}", start)
            except httpget.BadResponse as exc:
                return _failed(feed, str(exc), start)
            note = (f"moved permanently: update the URL in config.toml to {final_url}"
                    if moved else None)
            if status in RETRY_CODES and attempt < MAX_ATTEMPTS:
                wait_for = retry_after(response_headers.get("retry-after"))
                if wait_for is not None and time.monotonic() + wait_for < self.deadline:
                    time.sleep(wait_for)
                    continue
            seconds = time.monotonic() - start
            if status == 304:
                return FetchResult(feed.name, feed.url, final_url, "not_modified",
                                   http_status=304, headers=response_headers,
                                   seconds=seconds, note=note)
            if not 200 <= status < 300:
                return _failed(feed, _http_error(status, response_headers), start, status,
                               final_url, note)
            return FetchResult(feed.name, feed.url, final_url, "ok", http_status=status,
                               body=body, headers=response_headers, seconds=seconds,
                               note=note)
        raise AssertionError("unreachable: the last attempt always returns")  # pragma: no cover

    def _timed_out(self, limit: float) -> str:
        if limit < self.timeout:  # one message, whichever thread reports it first
            return f"timed out at the overall fetch deadline ({self.deadline_seconds:g} s)"
        return f"timed out after {limit:.3g} s (the time limit)"

    def _get(self, url: str, headers: dict[str, str],
             until: float) -> tuple[int, dict[str, str], bytes, str, bool]:
        """GET with redirects followed by hand and the body streamed up to `max_bytes`, all
        before `until`. Returns the status, the headers (lower-case names), the body, the
        final URL and whether every hop was a permanent redirect."""
        chain = [url]
        permanent = True
        while True:
            try:
                response = httpget.get_once(url, headers, until, self.max_bytes, _tls_context())
            except httpget.TooLarge as exc:
                size = f"body of {_mb(exc.declared)} is" if exc.declared else "body"
                raise FetchFailed(f"{size} over the {_mb(self.max_bytes)} limit"
                                  + ("" if exc.declared else " (stopped reading)")) from exc
            status, response_headers = response.status, response.headers
            location = response_headers.get("location")
            if status in REDIRECT_CODES and location:
                permanent = permanent and status in PERMANENT_CODES
                target = urljoin(url, location.strip())
                if urlsplit(target).scheme not in ("http", "https"):
                    raise FetchFailed(f"redirected to a non-http URL: {target}", status)
                if target in chain:
                    raise FetchFailed("redirect loop: " + " → ".join([*chain, target]), status)
                if len(chain) > MAX_REDIRECTS:
                    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects (last: "
                                      f"{target})", status)
                chain.append(target)
                url = target
                continue
            moved = permanent and len(chain) > 1
            return status, response_headers, response.body, url, moved


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _http_error(status: int, headers: dict[str, str]) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if status == 410:
        return "HTTP 410 Gone: the publisher removed this feed; delete it from config.toml"
    if status in RETRY_CODES:
        wait_for = headers.get("retry-after")
        return f"HTTP {status} {phrase}" + (f" (Retry-After {wait_for} is past the deadline)"
                                             if wait_for else "")
    return f"HTTP {status} {phrase}".rstrip()


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"
