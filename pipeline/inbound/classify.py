"""classify(raw) → Verdict: what one inbound message is and whom it is about.

The order of the questions is the order of trust: a complaint report (ARF or a known relay), a
delivery status notification (RFC 3464), mail to the unsubscribe address, a bounce in one of the
non-standard texts, an automatic reply; anything else is not a bounce. Hard needs a bounce seen
for what it is (a report, a mailer-daemon's text) and a reason that says the address will never
work: in doubt the answer is soft, or not a bounce, never hard."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from email.message import Message

from . import reasons
from .arf import complaint
from .autoreply import is_auto_reply
from .dsn import Found, dsn_failures, inline_failures, smtp_command
from .mime import (
    addresses,
    header,
    message_id,
    original_message,
    parse,
    report_text,
    unwrap,
)
from .model import Failure, Kind, Verdict
from .mtas import agent_hint, agent_of, hint, mda_failure
from .nonstandard import error_region, nonstandard_failures, words_for
from .rhosts import Reply, host_in, rhost_reason
from .sesmail import ses_bounces, ses_complainers, ses_kind, ses_notification
from .unsubscribe import find_token, unsubscribe_request
from .verp import find_verp_token

_SYSTEM_SENDER = re.compile(
    r"mailer-daemon|postmaster|mail[ -]?delivery|maildelivery|mail-?daemon|mdaemon|"
    r"double-bounce|mail administrator|internet mail|microsoftexchange|mailer@|"
    r"mail system|smtp gateway|mail router|mailadmin|returned mail|autoresponder-bounce", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|not delivered|delivery (?:status|failure|failed|notification|problem|"
    r"report|error)|returned mail|failure notice|mail delivery|could not (?:be )?deliver|"
    r"non[- ]?deliver|\bndn\b|\bndr\b|bounced|mail system error|could not send|delayed mail|"
    r"nondeliverable|message not delivered|unzustellbar|non remis|non recapitabile|"
    r"onbestelbaar|no se puede entregar|warning: could not|returned to sender|delivery warning|"
    r"mail failure|rejected|failed delivery|delivery has failed|undeliverable", re.I)
_BOUNCE_BODY = re.compile(
    r"qmail-send program|created automatically by mail delivery software|"
    r"could not be delivered to|permanent fatal errors|"
    r"delivery to the following recipient|wasn'?t able to deliver|"
    r"this is the mail system at host|did not reach (?:the following|some or all)|"
    r"delivery has failed to these recipients|following recipient\(?s\)? (?:cannot|could not) be|"
    r"message could not be delivered|unable to deliver|could not deliver|"
    r"delivery (?:to the following|of your message) .{0,40}fail|failed permanently|"
    r"the original message was received at|transcript of session follows|"
    r"were unable to deliver|message delivery (?:has )?failed|"
    r"non-?delivery (?:report|notification)|"
    r"errors occurred (?:during|while) deliver|has not been delivered|"
    r"this message was undeliverable|undeliverable to the following|"
    r"your message (?:was|has been|could not be) (?:rejected|returned|delivered)|"
    r"the following (?:addresses|recipients?|message) (?:had|could not|was|were|failed)|"
    r"delivery (?:status notification|failure|to these recipients)|"
    r"smtp error from remote (?:mail server|server)|the mail system|"
    r"mailbox (?:unavailable|full|is full)|user unknown|no such user|"
    r"i'?m sorry to have to inform you|unable to be delivered|could not be sent|"
    r"the following errors? occurred|retry timeout exceeded|could not be forwarded", re.I)
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
                     "X-Original-Rcpt-To", "To", "Cc")


def _evidence(message: Message, report: str) -> tuple[bool, bool, bool]:
    """(sent by a mail system, says what bounces say, has a bounce's subject or null sender)."""
    system = bool(message.get("X-Failed-Recipients")) or \
        bool(_SYSTEM_SENDER.search(header(message, "From")))
    words = bool(_BOUNCE_BODY.search(error_region(report)[:20000]))
    # A bounce's subject counts only on mail with a null (or unknown) envelope sender: a
    # person's reply titled "Re: rejected…" has a return path.
    weak = bool(_BOUNCE_SUBJECT.search(header(message, "Subject"))) \
        and header(message, "Return-Path").strip() in ("<>", "")
    return system, words, weak


def _exclusions(message: Message, original: Message | None, own: set[str]) -> set[str]:
    """Addresses that are never the failed recipient: ours, the bounce's own (its To is the
    envelope sender of the original), the original's envelope sender."""
    excluded = set(own)
    for name in ("From", "To", "Reply-To", "Return-Path", "Sender"):
        excluded.update(addresses(header(message, name)))
    if original is not None:
        excluded.update(addresses(header(original, "Return-Path")))
    return excluded


def _original_id(message: Message, original: Message | None, report: str) -> str | None:
    if original is not None and original.get("Message-ID"):
        return message_id(header(original, "Message-ID"))
    found = re.search(r"^message-id:\s*(<[^>\s]+>)", report, re.I | re.M)
    if found:
        return message_id(found.group(1))
    for name in ("In-Reply-To", "References"):
        value = header(message, name)
        if value:
            return message_id(value.split()[-1])
    return None


def _with_words(found: Found, report: str, every: list[Found]) -> Found:
    """A DSN recipient gets what its report's text says about it: the words when there is no
    Diagnostic-Code, the SMTP command from a transcript (">>> RCPT TO:") when the code does
    not say."""
    vague = not reasons.STATUS_REASONS.get(reasons.refine_status(found.status,
                                                                  found.diagnostic))
    if found.diagnostic and found.command and not (vague and len(every) == 1):
        return found
    region = error_region(report)
    if vague and len(every) == 1 and region.strip():
        # One recipient, a code that names no reason: the whole text is about it.
        found = replace(found, context=" ".join(region.split())[:1500])
    if found.diagnostic and found.command:
        return found
    if found.recipient not in region.lower():
        return found
    words = " ".join(words_for(region, found.recipient,
                               [other.recipient for other in every]).split())
    return replace(found, diagnostic=found.diagnostic or words,
                   command=found.command or smtp_command(words))


def _local_agent(message: Message, report: str) -> Callable[[Found], Found]:
    """What a local delivery agent's words (mail.local, procmail, Dovecot…: mtas.mda_failure)
    make of each recipient: their reason and line, over the report's fields."""
    reason, line = mda_failure(header(message, "From"), report)
    if not reason:
        return lambda found: found
    return lambda found: replace(found, hint=reason, diagnostic=line, command="", context="")


def _judge(found: Found, sure: bool, agent: int = -1) -> Failure:
    status = reasons.refine_status(found.status, found.diagnostic)
    if not found.hint and (found.diagnostic or found.context):
        # The words of a server known to use its own (Facebook's codes) name the reason; in a
        # report whose code says nothing, so may the words other servers use for one, in the
        # recipient's diagnostic or else the text around it (EZweb's "account is disabled").
        texts = [reasons.fold(text) for text in (found.diagnostic, found.context) if text]
        said = next((word for text in texts if (word := agent_hint(agent, text))), "")
        if not said and status in ("", "5.0.0", "4.0.0"):
            said = next((word for text in texts if (word := hint(text))), "")
        found = replace(found, hint=said)
    reply = reasons.find_reply(found.diagnostic)
    diagnosis = reasons.Diagnosis(status=status, diagnostic=found.diagnostic,
                                  command=found.command, action=found.action, reply=reply,
                                  hint=found.hint, kind=found.diagnostic_type)
    reason = rhost_reason(found.rhost or host_in(found.diagnostic), found.recipient,
                          Reply(status=status, reply=reply, command=found.command,
                                diagnostic=found.diagnostic, hint=found.hint)) \
        or reasons.decide(diagnosis)
    if reason in ("onhold", "undefined") and found.context:
        # The recipient's own words say nothing: the text around them may.
        wider = replace(diagnosis, diagnostic=found.context,
                        status=status or reasons.find_status(found.context),
                        reply=reply or reasons.find_reply(found.context))
        reason = reasons.decide(wider)
        status, reply = wider.status, wider.reply
    flag = reasons.hard_or_soft(reason, status, reply)
    kind: Kind
    if reason == "delivered":
        kind = "not-bounce"
    elif reason in ("vacation", "feedback"):
        kind = "auto-reply" if reason == "vacation" else "complaint"
    elif flag == "hard" and sure and found.action not in ("delayed", "relayed"):
        kind = "hard"
    else:
        kind = "soft"
    return Failure(recipient=found.recipient, kind=kind, reason_code=reason,
                   status=status or None, diagnostic=" ".join(found.diagnostic.split())[:300],
                   action=found.action, alias=found.alias or None)


def _bounce(failures: list[Failure], base: dict[str, object]) -> Verdict:
    bounced = [failure for failure in failures if failure.kind in ("hard", "soft")]
    if not bounced:
        others = [failure for failure in failures if failure.kind != "not-bounce"]
        if others:
            first = others[0]
            return Verdict(kind=first.kind, recipients=(first.recipient,), status=first.status,
                           reason=reasons.describe(first.reason_code, first.diagnostic),
                           reason_code=first.reason_code, failures=tuple(failures), **base)
        return Verdict(kind="not-bounce", recipients=tuple(f.recipient for f in failures),
                       reason="a delivery report, not a failure (delivered)",
                       reason_code="delivered", failures=tuple(failures), **base)
    kind: Kind = "hard" if all(failure.kind == "hard" for failure in bounced) else "soft"
    first = bounced[0]
    named = [address for failure in bounced for address in (failure.recipient, failure.alias)
             if address]
    return Verdict(kind=kind, recipients=tuple(dict.fromkeys(named)),
                   status=first.status,
                   reason=reasons.describe(first.reason_code, first.diagnostic),
                   reason_code=first.reason_code, failures=tuple(failures), **base)


def _ses(notification: dict[str, object], base: dict[str, object]) -> Verdict:
    """The verdict on an SES notification received by mail (sesmail.py)."""
    mail = notification.get("mail")
    if isinstance(mail, dict):
        common = mail.get("commonHeaders")
        sent = common.get("messageId") if isinstance(common, dict) else None
        if isinstance(sent, str) and sent:
            base = {**base, "original_message_id": message_id(sent)}
    kind = ses_kind(notification)
    if kind == "Bounce":
        found, permanent = ses_bounces(notification)
        failures = [_judge(item, True) for item in found]
        if not permanent:  # SES says it may work later: never hard
            failures = [replace(item, kind="soft") if item.kind == "hard" else item
                        for item in failures]
        if failures:
            return _bounce(failures, base)
        return Verdict(kind="soft", reason="an SES bounce naming no recipient (undefined)",
                       reason_code="undefined", **base)
    if kind == "Complaint":
        people, feedback_type = ses_complainers(notification)
        if feedback_type != "not-spam":
            return Verdict(kind="complaint", recipients=tuple(people),
                           reason=f"spam complaint, SES {feedback_type} report (feedback)",
                           reason_code="feedback", feedback_type=feedback_type, **base)
    return Verdict(kind="not-bounce", reason=f"an SES {kind or 'unknown'} notification",
                   reason_code="delivered" if kind == "Delivery" else "", **base)


def classify(raw: bytes, *, list_addresses: Iterable[str] = (), verp: str | None = None,
             envelope_to: str | None = None) -> Verdict:
    """The verdict on one message.

    list_addresses: the newsletter's own addresses (From, Reply-To, the return path, the
    unsubscribe mailto address): never a recipient, and the unsubscribe address is recognised
    among them (local part "unsubscribe…"). verp: the `[delivery] return_path` template with
    `{token}`, or None; the token found is returned raw, for the caller to verify.
    envelope_to: the envelope recipient when the caller knows it (LMTP's RCPT TO, a Postfix
    pipe's ${recipient}); trusted before the headers."""
    message = parse(raw)
    own = {address.lower() for address in list_addresses}
    original = original_message(message)
    report = unwrap(report_text(message))
    envelope = [envelope_to or ""] + [header(message, name) for name in _ENVELOPE_HEADERS]
    if original is not None:
        envelope.append(header(original, "Return-Path"))
    list_token = None
    if original is not None:
        list_token = find_token(header(original, "List-Unsubscribe"))
    base: dict[str, object] = {
        "message_id": message_id(header(message, "Message-ID")),
        "original_message_id": _original_id(message, original, report),
        "verp_token": find_verp_token(envelope, verp),
        "unsubscribe_token": list_token,
    }

    reported = complaint(message, own)
    if reported is not None:
        feedback_type = reported.feedback_type or None
        if not reported.is_complaint:
            # A DMARC failure report names whoever got a message failing authentication,
            # often a forgery: never a reason to drop a reader.
            return Verdict(kind="not-bounce", recipients=reported.recipients,
                           reason=f"a {reported.feedback_type} report, not a complaint (feedback)",
                           reason_code="feedback", feedback_type=feedback_type, **base)
        what = f"{reported.feedback_type} report" if reported.feedback_type else "complaint relay"
        return Verdict(kind="complaint", recipients=reported.recipients,
                       reason=f"spam complaint, {what} (feedback)", reason_code="feedback",
                       feedback_type=feedback_type, **base)

    notification = ses_notification(message)
    if notification is not None:
        return _ses(notification, base)

    dsn = dsn_failures(message)
    if dsn:
        agent = agent_of(message)
        local = _local_agent(message, report)
        return _bounce([_judge(local(_with_words(found, report, dsn)), True, agent)
                        for found in dsn], base)

    request = unsubscribe_request(message, report, own, envelope_to)
    if request is not None:
        token, sender = request
        base["unsubscribe_token"] = token
        said = "token in the request" if token else "no token: the sender is unverified"
        return Verdict(kind="unsubscribe", recipients=(sender,) if sender else (),
                       reason=f"unsubscribe request by mail, {said}", **base)

    system, words, weak = _evidence(message, report)
    autoreply = is_auto_reply(message, report)
    # A person's automatic reply may quote a bounce's words; a mail system's bounce may carry
    # Auto-Submitted (Exim, Gmail): the sender decides.
    strong = system or (words and not autoreply)
    if strong or dsn is not None or (weak and not autoreply):
        found = inline_failures(report) or nonstandard_failures(
            message, report, _exclusions(message, original, own), original, own)
        sure = strong or dsn is not None
        if found:
            local = _local_agent(message, report)
            return _bounce([_judge(local(item), sure) for item in found], base)
        if strong or not autoreply:
            return Verdict(kind="soft", reason="a bounce naming no recipient (undefined)",
                           reason_code="undefined", **base)
    if autoreply:
        sender = (addresses(header(message, "From")) or [""])[0]
        return Verdict(kind="auto-reply", recipients=(sender,) if sender else (),
                       reason=f"automatic reply: {autoreply} (vacation)", reason_code="vacation",
                       **base)
    return Verdict(kind="not-bounce", reason="not a bounce, complaint or unsubscribe request",
                   **base)
