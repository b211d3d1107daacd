"""The embedded default transport: a real Maildir outbox (tmp/ → new/ by atomic rename).

The outbox holds every reader's address and personal links: its folders are 0700 and its
messages 0600. A message is written whole into tmp/ and renamed into new/, so a reader of new/
never sees half a message; a crash mid-write leaves a file in tmp/. Opening the outbox (every
send starts so) removes such orphans, by the Maildir convention (maildir(5): a file in tmp/
untouched for 36 hours) and sooner when its writer is known to be gone: the name carries the
writer's PID and host, and a file of this host whose process no longer exists is never
finished. A live writer's file (`digest serve` mailing a confirmation meanwhile) is kept.

A full disk, a read-only or foreign outbox stops the send as a DeliveryError naming the folder;
the message was not delivered (nothing reached new/), so the resumed send delivers it once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from pathlib import Path

from ...errors import DeliveryError
from ...fsutil import PRIVATE_DIR, PRIVATE_FILE, make_dirs, storage_error
from ...models import DeliveryResult, OutgoingMessage
from .base import Transport

ORPHAN_AGE_SECONDS = 36 * 3600  # maildir(5)

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.maildir")


def _host() -> str:
    return socket.gethostname().replace("/", "_").replace(":", "_")


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


def _writer(name: str) -> tuple[int, str] | None:
    """(pid, host) from a name written by `MaildirTransport.send`, else None."""
    parts = name.split(".", 3)  # <time_ns>.P<pid>Q<n>.<digest>.<host, may hold dots>
    if len(parts) != 4 or not parts[1].startswith("P") or "Q" not in parts[1]:
        return None
    pid = parts[1][1:].split("Q", 1)[0]
    return (int(pid), parts[3]) if pid.isdigit() else None


def remove_orphans(tmp: Path, host: str, now: float | None = None) -> int:
    """Delete files in `tmp` that no writer will finish; returns how many."""
    now = time.time() if now is None else now
    removed = 0
    for entry in os.scandir(tmp):
        if not entry.is_file(follow_symlinks=False):
            continue
        writer = _writer(entry.name)
        gone = writer is not None and writer[1] == host and writer[0] != os.getpid() \
            and _process_gone(writer[0])
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > ORPHAN_AGE_SECONDS
            if gone or old:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue  # renamed into new/ or removed meanwhile
    if removed:
        log.info("outbox: removed %d unfinished message(s) left in %s by a crash", removed, tmp)
    return removed


class MaildirTransport(Transport):
    def __init__(self, root: Path) -> None:
        self.root = root
        self._host = _host()
        self._count = 0
        try:
            for sub in ("tmp", "new", "cur"):
                make_dirs(root / sub, PRIVATE_DIR)
            remove_orphans(root / "tmp", self._host)
        except OSError as exc:
            raise storage_error(exc, root, "use the outbox") from exc

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        self._count += 1
        digest = hashlib.sha1(message.message_id.encode()).hexdigest()[:16]
        name = f"{time.time_ns()}.P{os.getpid()}Q{self._count}.{digest}.{self._host}"
        tmp = self.root / "tmp" / name
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            try:
                with os.fdopen(fd, "wb") as handle:
                    # Maildir files use LF line endings, as a local delivery agent writes them.
                    handle.write(message.data.replace(b"\r\n", b"\n"))
                    handle.flush()
                    os.fsync(handle.fileno())
                os.rename(tmp, self.root / "new" / name)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            error = storage_error(exc, self.root, "write into the outbox")
            raise DeliveryError(error.message, hint=error.hint) from exc
        return DeliveryResult(recipient=message.recipient, ok=True, code=250)

    def close(self) -> None:
        pass
