"""Fetch stage: bytes for every configured feed, from http(s) or a local path.

Never raises for one feed: a failure becomes a FetchResult with status "failed" and a reason.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from .config import Config, FeedConfig
from .models import FetchResult


def user_agent(config: Config) -> str:
    from . import __version__

    return f"PMCareerDigest/{__version__} (+{config.newsletter.base_url})"


def fetch_local(feed: FeedConfig, path: Path) -> FetchResult:
    start = time.monotonic()
    try:
        body = path.read_bytes()
    except OSError as exc:
        return FetchResult(feed.name, feed.url, str(path), "failed",
                           error=f"cannot read {path}: {exc.strerror}",
                           seconds=time.monotonic() - start)
    return FetchResult(feed.name, feed.url, path.as_uri(), "ok", body=body,
                       seconds=time.monotonic() - start)


def fetch_remote(client: httpx.Client, feed: FeedConfig) -> FetchResult:
    start = time.monotonic()
    try:
        response = client.get(feed.url)
    except httpx.TimeoutException:
        return FetchResult(feed.name, feed.url, feed.url, "failed", error="timed out",
                           seconds=time.monotonic() - start)
    except httpx.HTTPError as exc:
        return FetchResult(feed.name, feed.url, feed.url, "failed",
                           error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - start)
    seconds = time.monotonic() - start
    if response.status_code >= 400:
        return FetchResult(feed.name, feed.url, str(response.url), "failed",
                           http_status=response.status_code,
                           error=f"HTTP {response.status_code}", seconds=seconds)
    return FetchResult(feed.name, feed.url, str(response.url), "ok",
                       http_status=response.status_code, body=response.content,
                       headers=dict(response.headers), seconds=seconds)


def fetch_all(config: Config) -> list[FetchResult]:
    feeds = [f for f in config.feeds if f.enabled]
    results: list[FetchResult] = []
    with httpx.Client(timeout=config.fetch.timeout_seconds, follow_redirects=True,
                      max_redirects=5, headers={"User-Agent": user_agent(config)}) as client:
        for feed in feeds:
            if feed.is_remote:
                results.append(fetch_remote(client, feed))
            else:
                results.append(fetch_local(feed, Path(config.resolve(feed.url))))
    return results
