"""`GET`/`HEAD /c/<token>`: the click redirect (`[tracking] clicks`).

The token (tracking/clicktoken.py) is checked against the current and retired keys; it names a
link of its issue by index, looked up in that issue's link table, rebuilt from the archived
issue.json (cached per issue, reloaded when the file changes). So the redirect can only lead to
a URL of that issue: never an open redirect. A forged or altered token gets 400 and no
Location. HEAD and prefetches are redirected but not counted; the trap link (index 0) leads
to the issue's web version and is stored as a trap hit; any other click is stored and leads to
the article (with its UTM tags when those are on).

The request path does no database write: clicks are batched and stored a quarter of a second
later, one transaction per batch (`ClickWriter`). What is stored is state/clicks.py's row: no
IP address, no header but the user agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..archive import files as archive
from ..config import Config
from ..errors import PipelineError
from ..issue.links import tracked_links
from ..state import clicks as stored
from ..state.db import Database
from ..tokens import REF_LENGTH, Keys
from ..tracking import (
    PREFETCH_HEADERS,
    TRAP_INDEX,
    ClickRef,
    TrackedLink,
    read_click_token,
    target,
    uncounted_reason,
)
from .pages import message
from .security import MAX_PATH_TOKEN, TOKEN_PAGE_HEADERS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Table:
    stamp: tuple[int, int]  # issue.json's (mtime_ns, size) when it was read
    links: tuple[TrackedLink, ...]
    checked: float  # time.monotonic() of the last look at the file
    locations: tuple[bytes, ...]  # [0] the web version (the trap's), then each link's URL


def _location(url: str) -> bytes:
    """A Location header value, quoted as Starlette's RedirectResponse quotes it."""
    return quote(url, safe=":/%#?=@[]!$&'()*+,;").encode("latin-1")


class ClickWriter:
    """Stores clicks in batches, on the event loop itself.

    Clicks are gathered in a list and written every FLUSH_SECONDS (or at once past
    FLUSH_ROWS) in one transaction, by the event loop: ~10 µs a row, a few milliseconds a
    batch. Measured on 2 cores (bench/clicks.py): a writer thread, woken per click or per
    batch, fought the event loop for the GIL and the CPU and cost a third of the redirects
    per second. The connection waits for no lock (busy timeout 0): while another program
    writes, the batch waits for the next flush instead of stalling the server. At most
    FLUSH_SECONDS of clicks are lost if the process is killed (none when it is stopped:
    `close` writes them)."""

    FLUSH_SECONDS = 0.25
    FLUSH_ROWS = 2000
    MAX_PENDING = 200_000  # a database locked for long: the oldest clicks give way

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._pending: list[stored.ClickRow] = []
        self._timer: asyncio.TimerHandle | None = None
        self._db: Database | None = None

    def put(self, row: stored.ClickRow) -> None:
        """On the event loop: keep the click for the next batch."""
        self._pending.append(row)
        if len(self._pending) >= self.FLUSH_ROWS:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.FLUSH_SECONDS, self.flush)

    def flush(self, wait: bool = False) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        try:
            if self._db is None:
                self._db = Database.open(self.db_path, migrate=False)
            stored.wait_for_lock(self._db, 30.0 if wait else 0.0)
            stored.record(self._db, self._pending)
            self._pending = []
        except Exception as exc:  # noqa: BLE001 - the server keeps redirecting
            log.warning("%d click(s) not stored yet: %s", len(self._pending), exc)
            del self._pending[:-self.MAX_PENDING]
            if not wait:
                with contextlib.suppress(RuntimeError):  # no loop: the server is stopping
                    self._timer = asyncio.get_running_loop().call_later(1.0, self.flush)

    def close(self) -> None:
        self.flush(wait=True)
        if self._db is not None:
            self._db.close()
            self._db = None


class ClickRoute:
    """What the view needs, made once per app: keys, the link tables, the writer."""

    RECHECK_SECONDS = 2.0

    def __init__(self, config: Config, keys: Keys) -> None:
        self.config = config
        self.keys = keys
        self.base = config.newsletter.base_url.rstrip("/")
        self.mode = config.tracking.clicks
        self._tables: dict[str, _Table] = {}
        self.writer = ClickWriter(config.db_path)

    def location(self, ref: ClickRef) -> bytes | None:
        """Where a genuine token leads: its issue's web version (the trap) or its article;
        None when the issue or the link is gone (a rebuilt draft)."""
        table = self.table(ref.issue)
        if table is None:
            return None
        if ref.link_index == TRAP_INDEX:
            return table.locations[0]
        return table.locations[ref.link_index] if target(table.links, ref.link_index) else None

    def table(self, week: str) -> _Table | None:
        """The week's link table; None when the week has no archived issue. The file is
        looked at again after RECHECK_SECONDS (a rebuilt draft), not on every click."""
        now = time.monotonic()
        cached = self._tables.get(week)
        if cached is not None and now - cached.checked < self.RECHECK_SECONDS:
            return cached
        path = archive.issue_dir(self.config.archive_dir, week) / "issue.json"
        try:
            info = path.stat()
        except OSError:
            self._tables.pop(week, None)
            return None
        stamp = (info.st_mtime_ns, info.st_size)
        if cached is None or cached.stamp != stamp:
            try:
                issue = archive.read_issue(self.config.archive_dir, week)
            except PipelineError as exc:
                log.error("click on %s: %s", week, exc.message)
                return None
            links = tracked_links(self.config, issue)
            cached = _Table(stamp, links, now, tuple(_location(url) for url in (
                f"{self.base}/issues/{week}/", *(link.url for link in links))))
        self._tables[week] = dataclasses.replace(cached, checked=now)
        return cached

    def counted(self, delivery: str) -> bool:
        """Whether a click of this delivery part is stored: never with clicks off, and in
        `aggregate` never a reader's ref (a token made under `per_reader` before a switch)."""
        if self.mode == "off":
            return False
        return self.mode == "per_reader" or len(delivery) != REF_LENGTH


def _forged(request: Request) -> Response:
    # This route skips the SecurityHeaders middleware: the page carries them itself.
    return message(request, "This link is not valid",
                   "The link may have been cut off or altered.",
                   "Open the article from the newsletter you received, or read the issue in "
                   "the archive.", link=("/issues/", "The archive"), status=400,
                   headers={k.decode(): v.decode() for k, v in TOKEN_PAGE_HEADERS.items()})


_PREFETCH = frozenset(n.encode() for n in PREFETCH_HEADERS)


class ClickApp:
    """The /c/ endpoint as a bare ASGI app: the only route under load (a scanner sweeps every
    link of thousands of messages within minutes), so it reads the two headers it needs from
    the raw list and writes its 302 itself, Location encoded once per link. Measured: a
    third more redirects per second than a Request/RedirectResponse view."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: ClickRoute = scope["app"].state.clicks
        token = scope["path_params"]["token"]
        ref = read_click_token(route.keys, token) if len(token) <= MAX_PATH_TOKEN else None
        location = route.location(ref) if ref is not None else None
        if ref is None or location is None:  # forged, or its issue or link is gone
            await _forged(Request(scope, receive))(scope, receive, send)
            return
        agent, prefetch = "", False
        for name, value in scope["headers"]:  # ASGI: names in lower case
            if name == b"user-agent":
                agent = value.decode("latin-1")
            elif name in _PREFETCH:
                prefetch = True
        method = scope["method"]
        if prefetch or method != "GET":  # the rare case: ask the rule itself
            headers = {n.decode("latin-1"): v.decode("latin-1") for n, v in scope["headers"]}
            counted = uncounted_reason(method, headers) is None
        else:
            counted = True
        if counted and route.counted(ref.delivery):
            route.writer.put(stored.ClickRow(
                ref.issue, ref.link_index, ref.delivery,
                datetime.now(UTC).isoformat(timespec="microseconds"), method, agent))
        await send({"type": "http.response.start", "status": 302,
                    "headers": [(b"location", location), *_REDIRECT_HEADERS]})
        await send({"type": "http.response.body", "body": b""})


# What a redirect needs of the security headers (it skips the middleware): no caching (each
# click must reach us), no referrer (the token must not leak to the article's site), no index.
_REDIRECT_HEADERS = ((b"cache-control", b"no-store, private"), (b"content-length", b"0"),
                     (b"referrer-policy", b"no-referrer"), (b"x-robots-tag", b"noindex"),
                     (b"x-content-type-options", b"nosniff"))
click = ClickApp()


def lifespan_for(route: ClickRoute):
    """The app's lifespan: the clicks still queued are written when the server stops."""
    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            route.writer.close()
    return lifespan
