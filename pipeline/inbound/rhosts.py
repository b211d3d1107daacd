"""The reason of a failure by the remote host that gave it (Sisimai::Rhost): large providers
write their own codes and words ("AUP#CXBL", "550 5.4.1 Recipient address rejected: Access
denied"), and Sisimai reads those by the provider's table before its generic rules. The host
is the report's Remote-MTA, the host a transcript names, or the recipient's domain."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import rhost_data as data

_RETRY = frozenset({"", "undefined", "onhold", "systemerror", "securityerror", "networkerror",
                    "hostunknown", "userunknown"})
_STATUS = re.compile(r"^[245]\.\d\.\d+$")


@dataclass(frozen=True)
class Reply:
    """What the rule of a remote host reads."""

    status: str
    reply: str
    command: str
    diagnostic: str  # as the server wrote it
    hint: str  # the reason the bounce's format already names, or ""


def _words(table: tuple[tuple[str, str], ...], text: str) -> str:
    return next((reason for reason, words in table if words in text), "")


def _cox(r: Reply) -> str:
    code = re.search(r"AUP#([0-9A-Z]+)", r.diagnostic)
    return (data.COX_CODES.get(code.group(1), "") if code else "") or \
        _words(data.COX_WORDS, r.diagnostic.lower())


def _exchange_online(r: Reply) -> str:
    if r.hint or not r.diagnostic or not _STATUS.match(r.status):
        return ""
    text = r.diagnostic.lower()
    third = int(r.status.rsplit(".", 1)[1])
    for reason, code, low, high, words in data.EXCHANGE_ONLINE:
        if low == high:
            if r.status != code:
                continue
        elif not r.status.startswith(code) or not low <= third <= high:
            continue
        if words in text:
            return reason
    return ""


def _france_ptt(r: Reply) -> str:
    if r.hint:
        return ""
    found = re.search(r"\b(LPN|LPNAAA|OFR|OUK)(_[0-9]{3}|[0-9]{3}[-_][0-9]{3})\b",
                      r.diagnostic, re.I)
    return data.FRANCE_PTT_CODES.get((found.group(1) + found.group(2))[-3:], "undefined") \
        if found else ""


def _godaddy(r: Reply) -> str:
    if r.hint:
        return ""
    code = re.search(r"\s(IB\d{3})\b", r.diagnostic)
    if code:
        return data.GODADDY_CODES.get(code.group(1), "")
    return _words(data.GODADDY_WORDS, r.diagnostic.lower())


def _google(r: Reply) -> str:
    if r.hint or not r.reply or not r.diagnostic or not _STATUS.match(r.status):
        return ""
    text = r.diagnostic.lower()
    for reason, reply, status, words in data.GOOGLE_APPS:
        if words in text and reply[1:] == r.reply[1:] and status[2:] == r.status[2:]:
            return reason
    return ""


def _iua(r: Reply) -> str:
    code = re.search(r"\.i\.ua/err/(\d+)", r.diagnostic.lower())
    return data.IUA_CODES.get(code.group(1), "") if code else ""


def _kddi(r: Reply) -> str:
    if "550 : User unknown" in r.diagnostic:
        return "filtered"
    return "userunknown" if ">: User unknown" in r.diagnostic else ""


def _mimecast(r: Reply) -> str:
    if not r.diagnostic or not re.match(r"^[245]\d\d$", r.reply):
        return ""
    text, reply = r.diagnostic.lower(), int(r.reply)
    return next((reason for reason, code, words in data.MIMECAST
                 if code == reply and words in text), "")


def _docomo(r: Reply) -> str:
    if r.status in ("5.1.1", "5.0.911"):
        return "userunknown"
    if r.status == "5.2.0":
        return "filtered"
    text = r.diagnostic.lower()
    for reason, pattern in (("mailboxfull", "552 too much mail data"),
                            ("toomanyconn", "552 too many recipients"),
                            ("syntaxerror", "503 bad sequence of commands"),
                            ("syntaxerror", "504 command parameter not implemented")):
        if pattern in text:
            return reason
    if r.status == "5.0.0":
        return {"RCPT": "userunknown", "DATA": "rejected"}.get(r.command, "")
    return ""


def _spectrum(r: Reply) -> str:
    code = re.search(r"AUP#[-A-Za-z]*(\d{4})", r.diagnostic)
    number = int(code.group(1)) if code else 0
    return data.SPECTRUM_CODES.get(number) or next(
        (reason for low, high, reason in data.SPECTRUM_RANGES if low <= number <= high), "")


def _tencent(r: Reply) -> str:
    return _words(data.TENCENT_WORDS, r.diagnostic.lower())


_HOSTS: tuple[tuple[re.Pattern[str], Callable[[Reply], str]], ...] = (
    (re.compile(r"cox\.net"), _cox),
    (re.compile(r"\.(?:prod|protection)\.outlook\.com$"), _exchange_online),
    (re.compile(r"\b(?:laposte\.net|(?:orange|wanadoo)\.fr)$"), _france_ptt),
    (re.compile(r"^(?:smtp|mailstore1)\.secureserver\.net$"), _godaddy),
    (re.compile(r"(?:aspmx|gmail-smtp-in)\.l\.google\.com$"), _google),
    (re.compile(r"\.email\.ua$"), _iua),
    (re.compile(r"\.(?:ezweb\.ne\.jp|au\.com)$"), _kddi),
    (re.compile(r"\.mimecast\.com$"), _mimecast),
    (re.compile(r"mfsmax\.docomo\.ne\.jp$"), _docomo),
    (re.compile(r"charter\.net"), _spectrum),
    (re.compile(r"mx[0-9]+\.qq\.com$"), _tencent),
)
_TRANSCRIPT_HOST = re.compile(
    r"\b(?:host|while talking to|remote host|server)\s+\[?([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+?)"
    r"\.?\]?\s*(?:\[|\(|:|said)", re.I)


def host_in(text: str) -> str:
    """The remote host a bounce's words name ("host mx.example.com[192.0.2.1] said"), or ""."""
    found = _TRANSCRIPT_HOST.search(text)
    if found and not re.match(r"^[\d.]+$", found.group(1)):
        return found.group(1).lower()
    return ""


def rhost_reason(rhost: str, recipient: str, reply: Reply) -> str:
    """The reason the rules of the remote host (else of the recipient's domain) give, or ""
    when no rule applies. Like Sisimai, only when the format named no definite reason."""
    if reply.hint not in _RETRY or reply.status.startswith("2."):
        return ""
    for host in (rhost.lower().strip("."), recipient.rpartition("@")[2]):
        if not host:
            continue
        for pattern, rule in _HOSTS:
            if pattern.search(host):
                reason = rule(reply)
                if reason:
                    return reason
                break
    return ""
