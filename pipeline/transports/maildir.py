"""The embedded default transport: a real Maildir outbox (tmp/ → new/ by atomic rename)."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path

from ..models import DeliveryResult, OutgoingMessage


class MaildirTransport:
    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._host = socket.gethostname().replace("/", "_").replace(":", "_")
        self._count = 0

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        self._count += 1
        digest = hashlib.sha1(message.message_id.encode()).hexdigest()[:16]
        name = f"{time.time_ns()}.P{os.getpid()}Q{self._count}.{digest}.{self._host}"
        tmp = self.root / "tmp" / name
        with open(tmp, "wb") as handle:
            # Maildir files use LF line endings, as a local delivery agent writes them.
            handle.write(message.data.replace(b"\r\n", b"\n"))
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, self.root / "new" / name)
        return DeliveryResult(recipient=message.recipient, ok=True, code=250)

    def close(self) -> None:
        pass
