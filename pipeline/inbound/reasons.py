"""Sisimai's reason vocabulary and its hard/soft flag, and the decision of a bounce's reason.

Sisimai (libsisimai.org, Sisimai::Reason and Sisimai::SMTP::Error->soft_or_hard) is the
reference classifier: a bounce is hard only for reasons that say the address will never work
(userunknown, hostunknown, hasmoved, and notaccept with a 5xx); everything else is soft, and
delivered, feedback and vacation are not bounces at all. `decide` follows the order in which
Sisimai tries the reasons: the status code's own reason where it is specific, the diagnostic's
words first for the reasons that must win over the code (a 5.1.1 that says "mailbox full" is a
full mailbox), then the rest."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .patterns import matches

REASONS: dict[str, str] = {
    # name: what it means, in words for the editor and the report
    "userunknown": "the mailbox does not exist",
    "hostunknown": "the domain does not exist or has no mail server",
    "hasmoved": "the address has moved",
    "notaccept": "the domain does not accept mail",
    "mailboxfull": "the mailbox is full",
    "mesgtoobig": "the message is too big",
    "exceedlimit": "the message exceeds a limit of the mailbox",
    "suspend": "the mailbox is suspended or disabled",
    "filtered": "rejected by the recipient's filter",
    "rejected": "the sender was rejected",
    "blocked": "the sending server is blocked",
    "spamdetected": "rejected as spam",
    "virusdetected": "rejected as containing a virus",
    "policyviolation": "rejected by a policy of the receiving side",
    "securityerror": "a security or authentication error",
    "contenterror": "the content was refused",
    "norelaying": "relaying denied",
    "toomanyconn": "too many connections or recipients",
    "systemerror": "an error of the receiving system",
    "systemfull": "the receiving system is full",
    "networkerror": "a network or DNS error",
    "expired": "delivery time expired",
    "mailererror": "the local delivery program failed",
    "syntaxerror": "an SMTP syntax error",
    "onhold": "a failure of unknown cause",
    "undefined": "a failure of unknown cause",
    "delivered": "delivered",
    "feedback": "a complaint (feedback loop)",
    "vacation": "an automatic reply",
}

HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved"})
NOT_BOUNCES = frozenset({"delivered", "feedback", "vacation"})

# RFC 3463 enhanced codes whose meaning is one reason (Sisimai::SMTP::Status).
STATUS_REASONS: dict[str, str] = {
    "2.1.5": "delivered", "4.1.6": "hasmoved", "4.1.7": "rejected", "4.1.8": "rejected",
    "4.1.9": "systemerror", "4.2.1": "suspend", "4.2.2": "mailboxfull", "4.2.3": "exceedlimit",
    "4.2.4": "filtered", "4.3.1": "systemfull", "4.3.2": "notaccept", "4.3.3": "systemerror",
    "4.3.5": "systemerror", "4.4.1": "expired", "4.4.2": "networkerror", "4.4.4": "networkerror",
    "4.4.5": "systemfull", "4.4.6": "networkerror", "4.4.7": "expired", "4.5.3": "systemerror",
    "4.5.5": "systemerror", "4.6.0": "contenterror", "4.6.2": "contenterror",
    "4.6.5": "contenterror", "4.7.1": "blocked", "4.7.2": "blocked", "4.7.5": "securityerror",
    "4.7.6": "securityerror", "4.7.7": "securityerror", "4.7.12": "securityerror",
    "4.7.15": "securityerror", "4.7.16": "mesgtoobig", "4.7.24": "securityerror",
    "4.7.25": "blocked", "5.1.0": "userunknown", "5.1.1": "userunknown", "5.1.2": "hostunknown",
    "5.1.3": "userunknown", "5.1.4": "filtered", "5.1.6": "hasmoved", "5.1.7": "rejected",
    "5.1.8": "rejected", "5.1.9": "systemerror", "5.1.10": "notaccept", "5.2.0": "filtered",
    "5.2.1": "filtered", "5.2.2": "mailboxfull", "5.2.3": "exceedlimit", "5.2.4": "filtered",
    "5.3.0": "systemerror", "5.3.1": "systemfull", "5.3.2": "notaccept", "5.3.3": "systemerror",
    "5.3.4": "mesgtoobig", "5.3.5": "systemerror", "5.4.0": "networkerror",
    "5.4.3": "systemerror", "5.4.4": "hostunknown", "5.5.3": "toomanyconn",
    "5.5.4": "systemerror", "5.5.5": "systemerror", "5.5.6": "securityerror",
    "5.6.0": "contenterror", "5.6.1": "contenterror", "5.6.2": "contenterror",
    "5.6.3": "contenterror", "5.6.5": "contenterror", "5.6.6": "contenterror",
    "5.6.7": "contenterror", "5.6.8": "contenterror", "5.6.9": "contenterror",
    "5.7.13": "suspend", "5.7.16": "mesgtoobig", "5.7.17": "hasmoved", "5.7.18": "hasmoved",
    "5.7.25": "blocked", "5.7.27": "notaccept",
    **{f"5.7.{n}": "securityerror" for n in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 19,
                                            20, 21, 22, 23, 24, 26)},
}

# An enhanced status code in text: "#5.1.1", "550-5.1.1", "5.1.1" (not inside an IP address).
_STATUS_RES = (
    re.compile(r"\(#([45]\.\d\.\d{1,3})\)?"),
    re.compile(r"\b\d{3}[ -]#?([45]\.\d\.\d{1,3})\b"),
    re.compile(r"(?<![\d.])([45]\.\d\.\d{1,3})(?![\d.]*\d)"),
    re.compile(r"(?<![\d.])(2\.[0-7]\.[0-7])(?![\d.]*\d)"),
)
_REPLY_RE = re.compile(r"(?<![\d.-])([45][0-5]\d)(?:[ -]|$)(?![\d.]*\.\d)")
_SPACES = re.compile(r"\s+")

# The order Sisimai tries the reasons the status code cannot override (Sisimai::Reason).
_FIRST = ("mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying",
          "userunknown", "filtered", "rejected", "hostunknown", "spamdetected", "toomanyconn",
          "blocked")
_THEN = ("mailboxfull", "spamdetected", "policyviolation", "virusdetected", "norelaying",
         "securityerror", "systemerror", "networkerror", "suspend", "expired", "contenterror",
         "systemfull", "notaccept", "mailererror")
# A user-unknown code whose words say another reason is that reason.
_UNKNOWN_USER_BUT = ("norelaying", "blocked", "mailboxfull", "hasmoved", "rejected", "notaccept")
_RETRY = frozenset({"", "undefined", "onhold", "systemerror", "securityerror", "networkerror",
                    "hostunknown", "userunknown"})


@dataclass(frozen=True)
class Diagnosis:
    """What is known of one recipient's failure before deciding its reason."""

    status: str = ""  # enhanced status code, "" when unknown
    diagnostic: str = ""  # the server's words
    command: str = ""  # SMTP command it answered: CONN, EHLO, MAIL, RCPT, DATA…
    action: str = ""  # RFC 3464 Action
    reply: str = ""  # SMTP reply code, "550"
    hint: str = ""  # a reason the format itself names (a known MTA text), or ""
    kind: str = ""  # the Diagnostic-Code's type, lower case: "smtp", "x-postfix", "x-unix"…


def fold(text: str) -> str:
    """Lower case, runs of white space as one space: the form patterns match against."""
    return _SPACES.sub(" ", text).strip().lower()


def find_status(text: str) -> str:
    """The first enhanced status code in `text`, "" when there is none."""
    for pattern in _STATUS_RES:
        found = pattern.search(text)
        if found:
            return found.group(1)
    return ""


def find_reply(text: str) -> str:
    """The first SMTP reply code (4xx/5xx) in `text`, "" when there is none."""
    found = _REPLY_RE.search(text)
    return found.group(1) if found else ""


def refine_status(status: str, diagnostic: str) -> str:
    """The code in the diagnostic wins over Status when it is specific (5.1.1, not 5.1.0, as
    Sisimai::Data has it), or when Status says nothing (empty, 5.0.0) and the diagnostic's
    code says more (5.1.0; Sisimai's GSuite and SendGrid readers)."""
    found = find_status(diagnostic)
    if re.match(r"^[45]\.[1-9]\.[1-9]\d*$", found):
        return found
    if status in ("", "5.0.0", "4.0.0") and found and not found.endswith(".0.0") \
            and found[0] == (status or found)[0]:
        return found
    return status or found


def _true(reason: str, d: Diagnosis, text: str, named: str) -> bool:
    """Whether `reason` holds, given the reason the status code names (`named`)."""
    if d.hint == reason:
        return True
    if reason in ("mailboxfull", "exceedlimit", "suspend") and not d.status:
        return False
    if reason == "userunknown":
        if named == "userunknown":
            return not any(matches(other, text) for other in _UNKNOWN_USER_BUT)
        return named != "suspend" and d.command == "RCPT" and matches(reason, text)
    if reason == "filtered":
        if named == "suspend":
            return False
        if named == "filtered":
            return matches("userunknown", text) or matches("filtered", text)
        if d.command in ("CONN", "EHLO", "HELO", "MAIL", "RCPT"):
            return False
        return matches("filtered", text) or matches("userunknown", text)
    if reason == "rejected":
        if named == "rejected":
            return True
        if d.command == "MAIL" or (d.command == "DATA" and named != "userunknown") \
                or named in ("", "onhold", "undefined", "securityerror", "systemerror"):
            return d.command in ("MAIL", "DATA") and matches(reason, text)
        return False
    if reason == "hostunknown":
        if named == "hostunknown":
            return not matches("networkerror", text)
        return matches(reason, text)
    if reason == "mesgtoobig":
        if named == "mesgtoobig":
            return True
        if named == "exceedlimit" or d.status == "5.2.3":
            return False
        return matches(reason, text)
    if reason == "norelaying":
        return d.command not in ("CONN", "EHLO", "HELO") and matches(reason, text)
    if reason == "spamdetected":
        if named == "spamdetected":
            return True
        return d.command not in ("CONN", "EHLO", "HELO", "MAIL", "RCPT") and matches(reason, text)
    if reason in ("hasmoved", "suspend"):
        return matches(reason, text)
    return named == reason or matches(reason, text)


def decide(d: Diagnosis) -> str:
    """Sisimai's reason name for one failure."""
    if d.hint and d.hint not in _RETRY:
        return d.hint
    if d.status.startswith("2.") or d.action in ("delivered", "relayed", "expanded"):
        return "delivered"
    text = fold(d.diagnostic)
    named = STATUS_REASONS.get(d.status, "")
    if d.hint:
        named = named or d.hint
    # Sisimai reads the reasons that depend on the SMTP exchange only in an SMTP diagnostic
    # (Sisimai::Reason->get): "X-Unix; …" or "X-Notes; …" go straight to the others; Postfix's
    # "X-Postfix; host … said: 550 …" is an SMTP reply (Sisimai::Lhost::Postfix).
    smtp = d.kind in ("", "smtp", "x-postfix")
    if smtp:
        for reason in _FIRST:
            if _true(reason, d, text, named):
                return reason
    if named and named not in _RETRY and named != "expired" and smtp:
        return named
    for reason in _THEN:
        if matches(reason, text):
            return reason
    if named:
        return named
    klass = d.status[:3]
    if klass in ("5.6", "4.6"):
        return "contenterror"
    if klass in ("5.7", "4.7"):
        return "securityerror"
    if d.kind in ("x-unix", "x-postfix"):
        return "mailererror"
    if re.match(r"^[45]0[0-7]$", d.reply):
        return "syntaxerror"
    if d.action in ("delayed", "expired"):
        return "expired"
    if d.command in ("EHLO", "HELO"):
        return "blocked"
    if matches("vacation", text):
        return "vacation"
    return "onhold" if text else "undefined"


def hard_or_soft(reason: str, status: str = "", reply: str = "") -> str:
    """Sisimai's flag: "hard", "soft", or "" for what is not a bounce."""
    if reason in NOT_BOUNCES:
        return ""
    if reason in HARD_REASONS:
        return "hard"
    if reason == "notaccept":
        return "soft" if (status or reply).startswith("4") else "hard"
    return "soft"


def describe(reason: str, diagnostic: str = "") -> str:
    """The short human reason: the server's words when short, else the reason's meaning,
    with the reason name in parentheses."""
    words = _SPACES.sub(" ", diagnostic).strip()
    text = words if 0 < len(words) <= 160 else REASONS.get(reason, reason)
    return f"{text} ({reason})" if reason else text
