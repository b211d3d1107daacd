"""One run at a time: an OS file lock (fcntl.flock) in the state folder.

Every command that writes state holds it for its whole run; `digest schedule` holds it only
while a job runs, never while it sleeps. The kernel drops a flock when its process dies, so a
crash never leaves a stale lock behind. The holder writes its PID and command line into the
lock file so a refused invocation can say who holds it. The file itself is never deleted:
deleting a lock file lets two processes lock two different inodes.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import LockedError
from ..fsutil import PRIVATE_DIR, PRIVATE_FILE, make_dirs, storage_error

LOCK_NAME = "digest.lock"
# Test-only knob: hold the lock this many seconds after taking it, so a test can start a
# second process while the first one surely holds it. Never set it in production.
HOLD_ENV = "DIGEST_TEST_HOLD_LOCK_SECONDS"

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.lock")

# Locks this process already holds (path → depth): nested holders in one process are fine;
# a second flock on a new file description would refuse our own process.
_held: dict[Path, int] = {}


def lock_path(config: Config) -> Path:
    return config.state_dir / LOCK_NAME


def read_holder(path: Path) -> dict[str, Any]:
    """What the holder wrote into the lock file; {} when unreadable or not yet written."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe_holder(holder: dict[str, Any]) -> str:
    if not holder.get("pid"):
        return "another process (its PID is not written yet)"
    text = f"process {holder['pid']}"
    if holder.get("command"):
        text += f" (`{holder['command']}`"
        text += f", since {holder['since']})" if holder.get("since") else ")"
    return text


def command_line() -> str:
    """How this process was started, e.g. `digest run --week 2026-W48`."""
    argv = [os.path.basename(sys.argv[0]) if sys.argv else "digest", *sys.argv[1:]]
    return " ".join(argv)


@contextmanager
def state_lock(config: Config, command: str | None = None) -> Iterator[Path]:
    """Hold the state lock, or raise LockedError (exit 75) naming the process that holds it."""
    path = lock_path(config).resolve()
    if _held.get(path):
        _held[path] += 1
        try:
            yield path
        finally:
            _held[path] -= 1
        return
    try:
        make_dirs(path.parent, PRIVATE_DIR)
        # Private like the rest of the state folder: it names the holder's command line.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    except OSError as exc:
        raise storage_error(exc, path, "create the state lock") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(path)
            for _ in range(10):  # the holder may be between flock() and writing its PID
                if holder.get("pid"):
                    break
                time.sleep(0.02)
                holder = read_holder(path)
            raise LockedError(
                f"another digest run holds the state lock {path}: {describe_holder(holder)}",
                hint="it is safe to try again when that process has finished "
                     f"(check with `ps -p {holder.get('pid', 'PID')}`); the lock frees itself "
                     "when the process exits") from None
        info = {"pid": os.getpid(), "command": command or command_line(),
                "since": datetime.now(UTC).isoformat(timespec="seconds")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        except OSError as exc:  # a full disk: the lock holds all the same, unnamed
            log.warning("state lock %s: holder not written: %s", path, exc.strerror)
        _held[path] = 1
        log.debug("state lock taken", extra={"fields": {"lock": str(path)}})
        try:
            hold = float(os.environ.get(HOLD_ENV) or 0)
            if hold > 0:
                time.sleep(hold)
            yield path
        finally:
            _held.pop(path, None)
            os.ftruncate(fd, 0)  # no stale PID for the next reader to misreport
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
