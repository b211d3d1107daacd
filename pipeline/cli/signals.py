"""SIGTERM and SIGINT for the long commands (run, send, schedule): the message in flight
finishes, then the command stops cleanly; the ledger resumes the rest next time."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from threading import Event

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.schedule")


@contextmanager
def stop_on_signals() -> Iterator[Event]:
    """An Event set by SIGTERM or SIGINT (the message in flight finishes, then we stop
    cleanly). The previous handlers come back on exit; off the main thread, signals stay
    as they are."""
    stop = Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame) -> None:
        log.warning("%s received: finishing the message in flight, then stopping",
                    signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
