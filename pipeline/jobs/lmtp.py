"""`digest inbound --lmtp HOST:PORT`: an LMTP server (RFC 2033, aiosmtpd's LMTP) for the MTA
to hand bounces, complaints and unsubscribe mail to, as Mailman 3 takes list mail.

Each message is applied once per envelope recipient (classify trusts the RCPT TO address
before the headers), and LMTP answers after DATA with one reply per recipient: 250 when it
was applied (or is nothing to act on), 451 when the state could not be written (the MTA keeps
the message and retries; the message's key makes the retry harmless). Each message is
applied in a worker thread on a connection of its own, in one transaction. On SIGTERM the
server stops taking connections, lets the messages in flight finish, and returns."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP

from ..errors import PipelineError
from ..inbound import InboundMessage
from ..inbound.sources import MAX_MESSAGE_BYTES
from ..state.db import Database
from .inbound import Context, Result, handle_message

log = logging.getLogger("pipeline.inbound")
DRAIN_SECONDS = 30.0  # how long a stop waits for the messages in flight


def _reply_text(text: str) -> str:
    """One short ASCII line: a reply must not carry CR/LF or 8-bit text."""
    clean = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return clean[:200]


class InboundHandler:
    """aiosmtpd's handler: every recipient of a message gets its own reply."""

    def __init__(self, ctx: Context, on_result: Callable[[Result], None] | None = None) -> None:
        self.ctx = ctx
        self.on_result = on_result
        self.in_flight = 0
        self._lock = threading.Lock()

    def _apply(self, raw: bytes, recipient: str) -> Result:
        with Database.open(self.ctx.config.db_path, migrate=False) as db:
            return handle_message(db, self.ctx, InboundMessage(f"lmtp:{recipient}", raw),
                                  envelope_to=recipient)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        loop = asyncio.get_running_loop()
        raw = envelope.original_content or b""
        replies = []
        with self._lock:
            self.in_flight += 1
        try:
            for recipient in envelope.rcpt_tos:
                try:
                    result = await loop.run_in_executor(None, self._apply, raw, recipient)
                except (PipelineError, sqlite3.Error, OSError) as exc:
                    log.warning("lmtp: message for %s not applied: %s", recipient, exc)
                    replies.append(f"451 4.3.0 <{_reply_text(recipient)}> not applied now, "
                                   "try again later")
                    continue
                if self.on_result is not None:
                    self.on_result(result)
                what = "already applied" if result.duplicate else result.kind
                replies.append(f"250 2.0.0 <{_reply_text(recipient)}> {_reply_text(what)}")
        finally:
            with self._lock:
                self.in_flight -= 1
        return "\r\n".join(replies)


class _LMTPController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


def serve_lmtp(ctx: Context, host: str, port: int, stop: threading.Event,
               on_result: Callable[[Result], None] | None = None,
               on_ready: Callable[[], None] | None = None) -> None:
    """Serve LMTP on host:port until `stop` is set, then drain and return."""
    handler = InboundHandler(ctx, on_result)
    controller = _LMTPController(handler, hostname=host, port=port,
                                 data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True,
                                 server_hostname="digest-inbound")
    try:
        controller.start()
    except (OSError, RuntimeError) as exc:  # aiosmtpd wraps a failed bind in RuntimeError
        raise PipelineError(f"cannot serve LMTP on {host}:{port}: {exc}",
                            hint="choose a free port, or stop what listens there") from exc
    try:
        if on_ready is not None:
            on_ready()
        while not stop.wait(0.2):
            pass
        deadline = time.monotonic() + DRAIN_SECONDS
        while handler.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        controller.stop()
