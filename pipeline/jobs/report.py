"""The run report: what one weekly job did, in issues/<week>/report.json and a short email to
the editor ([newsletter] editor).

The report is typed (`RunReport`, `DeliveryCounts`) and serialised in one place,
`RunReport.to_json`, with the keys report.json has always had. A build writes the build's
part; the job that follows adds its outcome (`finished`).

The editor's email goes through the configured transport but never through the delivery
ledger, so it is not counted with the subscribers' messages. With the Maildir transport it
lands in its own Maildir (var/outbox-editor/) for the same reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from enum import StrEnum
from typing import Any

from ..config import Config
from ..config.inbound import envelope_sender
from ..delivery.loop import SendSummary
from ..delivery.transports import open_transport
from ..mail.check import CheckReport
from ..mail.compose import header_safe
from ..models import FeedReport, Issue, OutgoingMessage
from ..stats.summary import results_lines
from .feedback import IssueFeedback

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.report")

EDITOR_MAILDIR = "outbox-editor"


class RunStatus(StrEnum):
    SENT = "sent"
    PARTIAL = "partial"  # some messages failed or a signal stopped it: the next run resumes
    DRAFT = "draft"  # approval mode: built, waiting for `digest approve`
    APPROVED = "approved"  # approval mode: approved, waiting for its send time
    SKIPPED = "skipped"  # too few new items, or not approved in time: items roll over
    NOT_SENT = "not_sent"  # the check failed, the build failed, or the relay refused
    DRY_RUN = "dry_run"


@dataclass(frozen=True)
class DeliveryCounts:
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    already_sent: int = 0
    remaining: int = 0

    @classmethod
    def of(cls, summary: SendSummary) -> DeliveryCounts:
        return cls(summary.sent, summary.failed, summary.bounced, summary.already_sent,
                   summary.remaining)

    def to_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeliveryCounts:
        return cls(**{f.name: int(data.get(f.name) or 0) for f in fields(cls)})


_FEED_FIELDS = {f.name for f in fields(FeedReport)}


@dataclass(frozen=True)
class RunReport:
    """report.json. `sections` is None when the issue could not be built (an editor's report
    of a failed build); `status` is None for a build without a job's outcome yet."""

    id: str
    number: int | None = None
    sections: Mapping[str, int] | None = None
    items: int = 0
    feeds: tuple[FeedReport, ...] = ()
    check: CheckReport = field(default_factory=CheckReport)
    delivery: DeliveryCounts | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    status: RunStatus | None = None
    message: str = ""
    mode: str | None = None
    new_items: int = 0
    editor_report: str | None = None
    results: Mapping[str, Any] | None = None  # last week's clicks and growth (stats/summary.py)
    # Bounces, complaints and unsubscribes of the latest issues sent (jobs/feedback.py).
    feedback: tuple[IssueFeedback, ...] = ()

    @property
    def built(self) -> bool:
        return self.sections is not None

    @property
    def feeds_failed(self) -> list[str]:
        return [f.name for f in self.feeds if f.status in ("failed", "gone")]

    @property
    def feeds_stale(self) -> list[str]:
        return [f.name for f in self.feeds if f.status == "stale"]

    @classmethod
    def of_build(cls, issue: Issue, feeds: Iterable[FeedReport], check: CheckReport,
                 timings: Mapping[str, float]) -> RunReport:
        return cls(issue.id, issue.number, {s.id: len(s.items) for s in issue.sections},
                   len(issue.items), tuple(feeds), check, None, dict(timings))

    def finished(self, *, status: RunStatus, message: str, mode: str, new_items: int,
                 delivery: DeliveryCounts | None, timings: Mapping[str, float]) -> RunReport:
        """The report at the end of a run: the build's part plus the outcome (a run without
        a send keeps the delivery counts an earlier run recorded)."""
        return replace(self, status=status, message=message, mode=mode, new_items=new_items,
                       delivery=delivery if delivery is not None else self.delivery,
                       timings={**self.timings, **timings})

    def to_json(self) -> dict[str, Any]:
        """report.json: the one place the report becomes JSON."""
        data: dict[str, Any] = {
            "id": self.id,
            "number": self.number,
            "sections": dict(self.sections or {}),
            "items": self.items,
            "feeds": [f.to_json() for f in self.feeds],
            "feeds_failed": self.feeds_failed,
            "check": {"errors": list(self.check.errors), "warnings": list(self.check.warnings),
                      **self.check.facts},
            "delivery": self.delivery.to_json() if self.delivery else None,
            "timings": dict(self.timings),
        }
        if self.status is not None:
            data.update({"status": str(self.status), "message": self.message,
                         "mode": self.mode, "new_items": self.new_items,
                         "feeds_stale": self.feeds_stale})
        if self.editor_report is not None:
            data["editor_report"] = self.editor_report
        if self.results is not None:
            data["last_week_results"] = dict(self.results)
        if self.feedback:
            data["feedback"] = [item.to_json() for item in self.feedback]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunReport:
        """A report.json written earlier (by this version or an older one)."""
        check = dict(data.get("check") or {})
        delivery = data.get("delivery")
        status = data.get("status")
        return cls(
            id=str(data.get("id", "")), number=data.get("number"),
            sections=dict(data.get("sections") or {}), items=int(data.get("items") or 0),
            feeds=tuple(FeedReport(**{k: v for k, v in f.items() if k in _FEED_FIELDS})
                        for f in data.get("feeds") or []),
            check=CheckReport(tuple(check.pop("errors", ()) or ()),
                              tuple(check.pop("warnings", ()) or ()), check),
            delivery=DeliveryCounts.from_json(delivery) if isinstance(delivery, dict) else None,
            timings=dict(data.get("timings") or {}),
            status=RunStatus(status) if status in set(RunStatus) else None,
            message=str(data.get("message") or ""), mode=data.get("mode"),
            new_items=int(data.get("new_items") or 0),
            editor_report=data.get("editor_report"),
            results=data.get("last_week_results"),
            feedback=tuple(IssueFeedback.from_json(item) for item in data.get("feedback") or ()
                           if isinstance(item, dict)))


def headline(report: RunReport) -> str:
    status = report.status
    delivery = report.delivery or DeliveryCounts()
    if status == RunStatus.SENT:
        return f"sent to {delivery.sent + delivery.already_sent} subscriber(s)"
    if status == RunStatus.PARTIAL:
        return (f"partly sent ({delivery.sent} sent, {delivery.failed}"
                f" failed, {delivery.remaining} remaining)")
    return {RunStatus.DRAFT: "draft ready for approval", RunStatus.SKIPPED: "skipped",
            RunStatus.APPROVED: "approved, waiting for its send time",
            RunStatus.NOT_SENT: "NOT sent", RunStatus.DRY_RUN: "dry run"}.get(
        status, str(status))  # type: ignore[arg-type]


def summary_text(config: Config, report: RunReport) -> str:
    """The plain-text body of the editor's email."""
    week = report.id or "?"
    number = "?" if report.number is None else report.number
    lines = [f"{config.newsletter.name}, issue #{number} ({week}): {headline(report)}.", ""]
    if report.message:
        lines += [report.message, ""]
    if not report.built:  # the issue could not be built: nothing more to tell
        return "\n".join(lines)
    lines.append(f"Items: {report.items} ({report.new_items} new)")
    for section, count in (report.sections or {}).items():
        lines.append(f"  {section}: {count}")
    lines.append(f"Feeds: {len(report.feeds)} fetched, {len(report.feeds_failed)} failed,"
                 f" {len(report.feeds_stale)} stale")
    for feed in report.feeds:
        if feed.status in ("failed", "gone", "stale"):
            # A stale feed has no error, its reason is the note ("no new item since …").
            reason = feed.error or feed.note
            lines.append(f"  {feed.status}: {feed.name}" + (f": {reason}" if reason else ""))
    for error in report.check.errors:
        lines.append(f"Check error: {error}")
    for warning in report.check.warnings:
        lines.append(f"Check warning: {warning}")
    if report.delivery:
        lines.append("Delivery: " + ", ".join(f"{k} {v}"
                                              for k, v in report.delivery.to_json().items()))
    if report.results:
        lines += ["", *results_lines(dict(report.results)), ""]
    if report.feedback:
        lines.append("Bounces, complaints and unsubscribes (readers per issue, over the sent):")
        lines += [f"  {item.line()}" for item in report.feedback]
        lines += [f"WARNING: {warning}" for item in report.feedback for warning in item.warnings]
    if report.timings:
        lines.append("Time per stage: " + ", ".join(f"{k} {v:.2f}s"
                                                    for k, v in report.timings.items()))
    lines += ["", f"The full report: {config.archive_dir / week / 'report.json'}"]
    return "\n".join(lines) + "\n"


def log_outcome(report: RunReport) -> None:
    """One line per run: readable on a terminal, structured fields with --log-json."""
    log.info("%s: %s", report.id, report.message or headline(report), extra={
        "fields": {"week": report.id, "status": report.status, "new_items": report.new_items,
                   "delivery": report.delivery.to_json() if report.delivery else None,
                   "feeds_failed": report.feeds_failed,
                   "editor_report": report.editor_report}})


def editor_message(config: Config, report: RunReport, now: datetime) -> OutgoingMessage:
    week = report.id
    sender_name, sender_address = parseaddr(config.newsletter.from_address)
    editor = config.newsletter.editor or ""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((header_safe(sender_name), sender_address))
    msg["To"] = header_safe(editor)
    msg["Subject"] = header_safe(f"[{config.newsletter.name}] editor report {week}: "
                                 f"{headline(report)}")
    msg["Date"] = format_datetime(now)
    mid = make_msgid("report", domain=config.newsletter.sender_domain)
    msg["Message-ID"] = mid
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the robot
    msg["X-Digest-Report"] = week
    msg.set_content(summary_text(config, report), charset="utf-8", cte="quoted-printable")
    return OutgoingMessage(issue_id=week, subscriber_id=None,
                           sender=envelope_sender(config.delivery.return_path, sender_address),
                           recipient=parseaddr(editor)[1] or editor, message_id=mid,
                           data=msg.as_bytes())


def send_to_editor(config: Config, report: RunReport, now: datetime) -> str:
    """Email the report to [newsletter] editor. Never raises: a report that cannot be sent is
    logged and noted in report.json, the job's own result stands."""
    if not config.newsletter.editor:
        return "not sent: no [newsletter] editor address"
    try:
        message = editor_message(config, report, now)
        transport = open_transport(config, outbox=EDITOR_MAILDIR)
        try:
            result = transport.send(message)
        finally:
            transport.close()
    except Exception as exc:  # noqa: BLE001 - the report must never break the job
        log.warning("the editor's report could not be sent: %s", exc)
        return f"not sent: {exc}"
    if not result.ok:
        log.warning("the editor's report was refused: %s %s", result.code, result.detail)
        return f"refused: {result.code} {result.detail}".strip()
    return f"sent to {message.recipient}"
