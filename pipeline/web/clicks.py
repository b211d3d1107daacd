"""`GET`/`HEAD /c/<token>`: the click redirect (`[tracking] clicks`).

The token (tracking/clicktoken.py) is checked against the current and retired keys; it names a
link of its issue by index, looked up in that issue's link table, rebuilt from the archived
issue.json (cached per issue, reloaded when the file changes). So the redirect can only lead to
a URL of that issue: never an open redirect. A forged or altered token gets 400 and no
Location. HEAD and prefetches are redirected but not counted; the trap link (index 0) leads
to the issue's web version and is stored as a trap hit; any other click is stored and leads to
the article (with its UTM tags when those are on).

The request path does no database write: clicks go to a `ClickWriter` thread that stores
whatever has queued up in one transaction (group commit), so a burst of clicks costs one
commit, and a quiet server writes each click within milliseconds. What is stored is
state/clicks.py's row: no IP address, no header but the user agent.
"""

from __future__ import annotations

import logging
import queue
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..archive import files as archive
from ..config import Config
from ..errors import PipelineError
from ..issue.links import tracked_links
from ..state import clicks as stored
from ..state.db import Database
from ..tokens import REF_LENGTH, Keys
from ..tracking import TRAP_INDEX, TrackedLink, read_click_token, target, uncounted_reason
from .pages import message
from .security import MAX_PATH_TOKEN

log = logging.getLogger(__name__)
NO_STORE = {"cache-control": "no-store, private"}


@dataclass(frozen=True)
class _Table:
    stamp: tuple[int, int]  # issue.json's (mtime_ns, size) when it was read
    links: tuple[TrackedLink, ...]


class ClickWriter:
    """Stores clicks from a thread of its own, started by the first click; `close` writes
    what is left."""

    _STOP = object()

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, row: stored.ClickRow) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="click-writer",
                                                    daemon=True)
                    self._thread.start()
        self._queue.put(row)

    def close(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._queue.put(self._STOP)
            self._thread.join(timeout)

    def _run(self) -> None:
        db: Database | None = None
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < 5000:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(row is self._STOP for row in batch)
                rows = [row for row in batch if row is not self._STOP]
                if rows:
                    db = db or Database.open(self.db_path, migrate=False)
                    self._write(db, rows)
                if stop:
                    return
        finally:
            if db is not None:
                db.close()

    @staticmethod
    def _write(db: Database, rows: list[stored.ClickRow]) -> None:
        try:
            stored.record(db, rows)
        except (PipelineError, OSError, Exception) as exc:  # noqa: BLE001 - keep serving
            log.error("%d click(s) not stored: %s", len(rows), exc)


class ClickRoute:
    """What the view needs, made once per app: keys, the link tables, the writer."""

    def __init__(self, config: Config, keys: Keys) -> None:
        self.config = config
        self.keys = keys
        self.base = config.newsletter.base_url.rstrip("/")
        self.mode = config.tracking.clicks
        self._tables: dict[str, _Table] = {}
        self.writer = ClickWriter(config.db_path)

    def table(self, week: str) -> tuple[TrackedLink, ...] | None:
        """The week's link table; None when the week has no archived issue."""
        path = archive.issue_dir(self.config.archive_dir, week) / "issue.json"
        try:
            info = path.stat()
        except OSError:
            return None
        stamp = (info.st_mtime_ns, info.st_size)
        cached = self._tables.get(week)
        if cached is None or cached.stamp != stamp:
            try:
                issue = archive.read_issue(self.config.archive_dir, week)
            except PipelineError as exc:
                log.error("click on %s: %s", week, exc.message)
                return None
            cached = self._tables[week] = _Table(stamp, tracked_links(self.config, issue))
        return cached.links

    def counted(self, delivery: str) -> bool:
        """Whether a click of this delivery part is stored: never with clicks off, and in
        `aggregate` never a reader's ref (a token made under `per_reader` before a switch)."""
        if self.mode == "off":
            return False
        return self.mode == "per_reader" or len(delivery) != REF_LENGTH


def _forged(request: Request) -> Response:
    return message(request, "This link is not valid",
                   "The link may have been cut off or altered.",
                   "Open the article from the newsletter you received, or read the issue in "
                   "the archive.", link=("/issues/", "The archive"), status=400,
                   headers=NO_STORE)


async def click(request: Request) -> Response:
    route: ClickRoute = request.app.state.clicks
    token = request.path_params["token"]
    ref = read_click_token(route.keys, token) if len(token) <= MAX_PATH_TOKEN else None
    if ref is None:
        return _forged(request)
    if ref.link_index == TRAP_INDEX:
        if route.table(ref.issue) is None:
            return _forged(request)
        url = f"{route.base}/issues/{ref.issue}/"
    else:
        links = route.table(ref.issue)
        link = target(links, ref.link_index) if links is not None else None
        if link is None:  # genuine, but the issue or the link is gone (a rebuilt draft)
            return _forged(request)
        url = link.url
    if uncounted_reason(request.method, request.headers) is None and route.counted(ref.delivery):
        route.writer.put(stored.ClickRow(
            ref.issue, ref.link_index, ref.delivery,
            datetime.now(UTC).isoformat(timespec="microseconds"), request.method,
            request.headers.get("user-agent", "")))
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


def lifespan_for(route: ClickRoute):
    """The app's lifespan: the clicks still queued are written when the server stops."""
    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            route.writer.close()
    return lifespan
