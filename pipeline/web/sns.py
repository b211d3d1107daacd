"""Fetching for the SNS webhook: the signing certificate (cached) and the SubscribeURL.

Every URL is checked to be https on an sns.<region>.amazonaws.com host BEFORE anything is
fetched (inbound.webhooks.check_sns_url), here again though the parser checked it first; no
redirect is followed, the answer is size-limited, and the timeout is short (SNS waits 15 s for
our answer). A certificate is cached by URL for the life of the process: SNS signs with one
certificate for a long time, and fetching it per message would let anyone who can make us
verify a message make us fetch.

TEST ONLY: when the environment variable DIGEST_TEST_SNS_SERVER is set to a loopback
"127.0.0.1:<port>" (or "[::1]:<port>", "localhost:<port>"), a URL that passed the host check
is fetched over plain http from that address instead, with the same path and query. It lets
the tests run a certificate server; it is ignored unless set, and any other address is
refused (logged), so it can never send a fetch off the machine. Never set it in production.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from urllib.parse import urlsplit

from ..inbound.webhooks import WebhookRejected, check_sns_url

log = logging.getLogger("pipeline.inbound")

TEST_SERVER_ENV = "DIGEST_TEST_SNS_SERVER"
TIMEOUT_SECONDS = 5.0
MAX_BYTES = 64 * 1024  # a PEM certificate is about 2 KB; a confirmation answer under 1 KB
MAX_CACHED = 16
_LOOPBACK = re.compile(r"^(127\.0\.0\.1|\[::1\]|localhost):(\d{1,5})$")


def _test_server() -> str | None:
    value = os.environ.get(TEST_SERVER_ENV)
    if not value:
        return None
    if not _LOOPBACK.match(value):
        log.warning("%s=%r ignored: only a loopback host:port is accepted (tests only)",
                    TEST_SERVER_ENV, value)
        return None
    return value


def _target(url: str) -> str:
    """Where to fetch `url` (already host-checked): itself, or the test server."""
    server = _test_server()
    if server is None:
        return url
    parts = urlsplit(url)
    return f"http://{server}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def _get(url: str) -> bytes:
    import httpx  # heavy: only `digest serve` with an SNS webhook fetches

    try:
        with httpx.stream("GET", _target(url), timeout=TIMEOUT_SECONDS,
                          follow_redirects=False) as response:
            if response.status_code != 200:
                raise WebhookRejected(502, f"{url}: answered {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise WebhookRejected(502, f"{url}: more than {MAX_BYTES} bytes")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise WebhookRejected(502, f"{url}: cannot be fetched: {exc}") from exc


class SnsFetcher:
    """The fetch function the SNS webhook is given: certificates cached, SubscribeURLs not."""

    def __init__(self) -> None:
        self._certificates: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __call__(self, url: str) -> bytes:
        certificate = urlsplit(url).path.endswith(".pem")
        check_sns_url(url, certificate=certificate)
        if certificate:
            with self._lock:
                cached = self._certificates.get(url)
            if cached is not None:
                return cached
        log.info("fetching %s", url)
        data = _get(url)
        if certificate:
            with self._lock:
                if len(self._certificates) >= MAX_CACHED:
                    self._certificates.pop(next(iter(self._certificates)))
                self._certificates[url] = data
        return data
