"""Progress of a send: a rich progress bar (sent, failed, rate, ETA) on a terminal; nothing
while it runs otherwise (cron mails stay short: the caller prints a one-line summary)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ..models import DeliveryResult


class RateColumn(ProgressColumn):
    """Messages per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("–/s" if speed is None else f"{speed:,.0f} msg/s", style="progress.data.speed")


class SendProgress:
    """Pass `start` as on_start and the instance as on_progress; call `stop` at the end."""

    def __init__(self, label: str, enabled: bool | None = None,
                 console: Console | None = None) -> None:
        self.label = label
        self.enabled = sys.stdout.isatty() if enabled is None else enabled
        self.console = console
        self.sent = self.failed = self.bounced = 0
        self._progress: Progress | None = None
        self._task: Any = None

    def start(self, total: int) -> None:
        if not self.enabled or self._progress is not None:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("sent {task.fields[sent]}  failed {task.fields[failed]}"
                       "  bounced {task.fields[bounced]}"),
            RateColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, transient=False)
        self._task = self._progress.add_task(self.label, total=total, sent=0, failed=0,
                                             bounced=0)
        self._progress.start()

    def __call__(self, result: DeliveryResult) -> None:
        if result.ok:
            self.sent += 1
        elif result.permanent:
            self.bounced += 1
        else:
            self.failed += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1, sent=self.sent, failed=self.failed,
                                  bounced=self.bounced)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
