"""The run report: what one weekly job did, in issues/<week>/report.json and a short email to
the editor ([newsletter] editor).

The editor's email goes through the configured transport but never through the delivery
ledger, so it is not counted with the subscribers' messages. With the Maildir transport it
lands in its own Maildir (var/outbox-editor/) for the same reason.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any

from ..config import Config
from ..delivery.loop import SendSummary, Transport
from ..mail.compose import header_safe
from ..models import OutgoingMessage

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.report")

EDITOR_MAILDIR = "outbox-editor"


def delivery_counts(summary: SendSummary | None) -> dict[str, int] | None:
    if summary is None:
        return None
    return {"sent": summary.sent, "failed": summary.failed, "bounced": summary.bounced,
            "already_sent": summary.already_sent, "remaining": summary.remaining}


def complete(report: dict[str, Any], *, status: str, message: str, mode: str, new_items: int,
             delivery: dict[str, int] | None, timings: dict[str, float]) -> dict[str, Any]:
    """report.json as written at the end of a run (build_report's fields plus the outcome)."""
    feeds = report.get("feeds") or []
    report.update({
        "status": status,  # sent | partial | draft | approved | skipped | not_sent | dry_run
        "message": message,
        "mode": mode,
        "new_items": new_items,
        "feeds_failed": [f["name"] for f in feeds if f.get("status") in ("failed", "gone")],
        "feeds_stale": [f["name"] for f in feeds if f.get("status") == "stale"],
        "delivery": delivery if delivery is not None else report.get("delivery"),
        "timings": {**(report.get("timings") or {}), **timings},
    })
    return report


def headline(report: dict[str, Any]) -> str:
    status = report.get("status")
    delivery = report.get("delivery") or {}
    if status == "sent":
        total = delivery.get("sent", 0) + delivery.get("already_sent", 0)
        return f"sent to {total} subscriber(s)"
    if status == "partial":
        return (f"partly sent ({delivery.get('sent', 0)} sent, {delivery.get('failed', 0)}"
                f" failed, {delivery.get('remaining', 0)} remaining)")
    return {"draft": "draft ready for approval", "skipped": "skipped",
            "approved": "approved, waiting for its send time",
            "not_sent": "NOT sent", "dry_run": "dry run"}.get(str(status), str(status))


def summary_text(config: Config, report: dict[str, Any]) -> str:
    """The plain-text body of the editor's email."""
    week = report.get("id", "?")
    lines = [f"{config.newsletter.name}, issue #{report.get('number', '?')} ({week}): "
             f"{headline(report)}.", ""]
    if report.get("message"):
        lines += [str(report["message"]), ""]
    if "items" not in report:  # the issue could not be built: nothing more to tell
        return "\n".join(lines)
    lines.append(f"Items: {report.get('items', 0)} ({report.get('new_items', 0)} new)")
    for section, count in (report.get("sections") or {}).items():
        lines.append(f"  {section}: {count}")
    feeds = report.get("feeds") or []
    lines.append(f"Feeds: {len(feeds)} fetched, {len(report.get('feeds_failed') or [])} failed,"
                 f" {len(report.get('feeds_stale') or [])} stale")
    for feed in feeds:
        if feed.get("status") in ("failed", "gone", "stale"):
            lines.append(f"  {feed['status']}: {feed['name']}: {feed.get('error') or ''}".rstrip())
    check = report.get("check") or {}
    for error in check.get("errors") or []:
        lines.append(f"Check error: {error}")
    for warning in check.get("warnings") or []:
        lines.append(f"Check warning: {warning}")
    delivery = report.get("delivery")
    if delivery:
        lines.append("Delivery: " + ", ".join(f"{k} {v}" for k, v in delivery.items()))
    timings = report.get("timings") or {}
    if timings:
        lines.append("Time per stage: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))
    lines += ["", f"The full report: {config.archive_dir / week / 'report.json'}"]
    return "\n".join(lines) + "\n"


def log_outcome(report: dict[str, Any]) -> None:
    """One line per run: readable on a terminal, structured fields with --log-json."""
    log.info("%s: %s", report.get("id"), report.get("message") or headline(report), extra={
        "fields": {"week": report.get("id"), "status": report.get("status"),
                   "new_items": report.get("new_items"), "delivery": report.get("delivery"),
                   "feeds_failed": report.get("feeds_failed"),
                   "editor_report": report.get("editor_report")}})


def editor_message(config: Config, report: dict[str, Any], now: datetime) -> OutgoingMessage:
    week = str(report.get("id", ""))
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
    return OutgoingMessage(issue_id=week, subscriber_id=None, sender=sender_address,
                           recipient=parseaddr(editor)[1] or editor, message_id=mid,
                           data=msg.as_bytes())


def editor_transport(config: Config) -> Transport:
    if config.delivery.transport == "maildir":
        from ..delivery.transports.maildir import MaildirTransport

        return MaildirTransport(config.state_dir / EDITOR_MAILDIR)
    from .build import make_transport

    return make_transport(config)


def send_to_editor(config: Config, report: dict[str, Any], now: datetime) -> str:
    """Email the report to [newsletter] editor. Never raises: a report that cannot be sent is
    logged and noted in report.json, the job's own result stands."""
    if not config.newsletter.editor:
        return "not sent: no [newsletter] editor address"
    try:
        message = editor_message(config, report, now)
        transport = editor_transport(config)
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
