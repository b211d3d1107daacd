"""Bounces that are not RFC 3464: the texts of qmail, Exim, Sendmail, Exchange, Notes, Yahoo,
Gmail and the rest, read structurally: the part of the text before the returned message, the
addresses it names (each with the words that follow it), and the original's recipient when the
text names none. flufl.bounce (Mailman's detectors for many old formats) is asked when that
structure gives no recipient."""

from __future__ import annotations

import re
from email.message import Message
from functools import lru_cache

from flufl.bounce import all_failures

from .dsn import Found, smtp_command
from .mime import addresses, all_headers, header
from .mtas import agent_of, hint

_ORIGINAL_MARKER = re.compile(
    r"^\s*[-=_*>| ]*\s*(?:"
    r"(?:this is a |here is a )?copy of (?:the|your) (?:original )?message"
    r"|below this line is a copy|original message|returned message|undelivered message"
    r"|unsent message|unsent message below|message headers follow|headers of the original"
    r"|the original message (?:follows|headers)|original message headers"
    r"|content-type: message/rfc822|message text follows|included is a copy"
    r"|your message reads|the header of the original|the first \d+ lines of the message"
    r"|a copy of the original|start of returned message|text of the message follows"
    r"|message you sent|your message was)", re.I)
_HEADER_LINE = re.compile(r"^(?:return-path|received|from|to|subject|date|message-id|"
                          r"mime-version|content-type|x-[a-z-]+|dkim-signature|reply-to|"
                          r"delivered-to):", re.I)
_SYSTEM_LOCAL = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|maildaemon|mailerdaemon|"
                           r"double-bounce|root|nobody|abuse|noreply|no-reply|"
                           r"bounce[s]?(?:[+-].*)?|mdaemon|smtp|daemon)$", re.I)
_FAILURE_WORDS = re.compile(
    r"fail|error|unknown|not |n't|reject|denied|invalid|unavailable|full|quota|exist|"
    r"refused|undeliver|bounce|permanent|disabled|suspend|blocked|inactive|no such|unable|"
    r"couldn't|could not|timed out|expired|[45]\d\d[ -]|[45]\.\d\.\d|unrouteable|too large|"
    r"over|delay|giving up|no mailbox|does not|doesn't", re.I)
_DELAY_WORDS = re.compile(r"\bwill (?:continue|keep) (?:to )?(?:try|retry|trying)|"
                          r"still (?:trying|being retried)|has not yet been delivered|"
                          r"delivery (?:has been|is) delayed|delayed mail|"
                          r"warning: (?:message|could not)|\bwill be retried|"
                          r"not been delivered yet|"
                          r"temporary (?:failure|error|problem)|this is (?:only )?a warning|"
                          r"delivery delayed|deferred|will retry", re.I)
_PERMANENT_WORDS = re.compile(r"permanent(?:ly)?|fatal|giving up|will not (?:try|retry)|"
                              r"not going to try again|could not be delivered|"
                              r"failed permanently", re.I)
_PERMANENT_REPLY = re.compile(r"(?<![\d.])5[0-5]\d[ -]|(?<![\d.])5\.\d\.\d{1,3}\b")


@lru_cache(maxsize=16)
def error_region(text: str) -> str:
    """The bounce's own words: the text before the returned message or its headers (cached:
    several questions about one message ask for it)."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if index and _ORIGINAL_MARKER.match(line) and not _FAILURE_WORDS.search(
                line.split("message", 1)[-1] if "message" in line.lower() else ""):
            return "\n".join(lines[:index])
        if _HEADER_LINE.match(line) and index + 2 < len(lines) \
                and sum(bool(_HEADER_LINE.match(next_line)) for next_line in
                        lines[index + 1:index + 4]) >= 2:
            return "\n".join(lines[:index])
    return text


def _is_system(address: str) -> bool:
    local = address.split("@", 1)[0]
    return bool(_SYSTEM_LOCAL.match(local))


def words_for(region: str, address: str, others: list[str]) -> str:
    """The words that go with `address`: from its line to the next other recipient's line
    (Postfix and qmail write "<address>: words", Exchange and Notes the words on the lines
    after it, some a paragraph later)."""
    lower = region.lower()
    start = lower.rfind("\n", 0, lower.find(address)) + 1
    end = len(region)
    for other in others:
        if other != address:
            position = lower.find(other, start + 1)
            if position > start:
                end = min(end, lower.rfind("\n", 0, position) + 1 or position)
    return region[start:end][:1000]


_CONTACT = re.compile(r"\b(?:contact(?:ing)?|write to|reach|questions? to|send (?:an? )?"
                      r"e-?mail to)\b[^@]*$")
_QUOTED_HEADER = re.compile(r"^[ \t>]*(?:to|from|cc|sender|reply-to|return-path)\s*:")


def _line_of(lower: str, position: int) -> str:
    start = lower.rfind("\n", 0, position) + 1
    end = lower.find("\n", position)
    return lower[start:end if end >= 0 else len(lower)]


def candidates(region: str, exclude: set[str]) -> list[str]:
    """Addresses the bounce text names as failed, in order."""
    found = [address for address in addresses(region)
             if address not in exclude and not _is_system(address)]
    lower = region.lower()
    # An address named once, in a quoted header line of the original ("To: …"), is not a
    # failure report.
    quoted = {address for address in found if lower.count(address) == 1
              and _QUOTED_HEADER.match(_line_of(lower, lower.find(address)))}
    found = [address for address in found if address not in quoted] or found
    # "For further assistance, please contact <support@…>": a help address, not a failure.
    helpers = {address for address in found
               if _CONTACT.search(_line_of(lower, lower.find(address))
                                  .split(address, 1)[0][-60:])}
    found = [address for address in found if address not in helpers] or found
    if len(found) <= 1:
        return found
    failing = []
    for address in found:
        position = lower.find(address)
        line_start = lower.rfind("\n", 0, position) + 1
        nearby = lower[line_start:position + len(address) + 400]
        # Failure words near it, or the address alone on its line ("<a@b>:", "  a@b").
        alone = any(line.strip().strip("<>:").strip() == address
                    for line in lower.split("\n") if address in line)
        if alone or _FAILURE_WORDS.search(nearby.replace(address, "")):
            failing.append(address)
    return failing or found


def _flufl(message: Message) -> tuple[list[str], bool | None]:
    """flufl.bounce's recipients and whether they are permanent (None: none found)."""
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # noqa: BLE001 - a detector crashing on one message is its failure only
        return [], None
    def text(items: set[bytes]) -> list[str]:
        return [item.decode("utf-8", "replace").lower() for item in items
                if isinstance(item, bytes) and b"@" in item] + \
            [str(item).lower() for item in items if isinstance(item, str) and "@" in item]
    if permanent:
        return sorted(text(permanent)), True
    if temporary:
        return sorted(text(temporary)), False
    return [], None


def nonstandard_failures(message: Message, report: str, exclude: set[str],
                         original: Message | None, own: frozenset[str] | set[str] = frozenset()
                         ) -> list[Found]:
    """One Found per recipient of a non-RFC 3464 bounce (possibly none). `exclude`: addresses
    that are not the failed recipient unless the text lists them as one (the bounce's own To,
    when someone wrote to themselves); `own`: the newsletter's, never."""
    region = error_region(report)
    failed_header = [address for value in all_headers(message, "X-Failed-Recipients")
                     for address in addresses(value)]
    listed = failed_header or candidates(region, exclude)
    alias = ""
    if len(failed_header) == 1:
        # Exim's text may name the recipient otherwise than its header (before routing): the
        # one address its text lists alone on a line is the same recipient's other name.
        lines = {line.strip() for line in region.lower().split("\n")}
        others = [address for address in candidates(region, exclude)
                  if address not in failed_header and address in lines]
        alias = others[0] if len(others) == 1 else ""
    if not listed:
        flufl_listed, _ = _flufl(message)
        listed = [address for address in flufl_listed if address not in exclude]
    if not listed and original is not None:
        listed = [address for field in ("To", "Cc")
                  for address in addresses(header(original, field)) if address not in exclude][:1]
    if not listed:
        # A recipient line ("<a@b>:", qmail and Postfix) names the recipient even when it is
        # also the bounce's own addressee.
        lines = {line.strip().strip("<>:").strip() for line in region.lower().split("\n")}
        listed = [address for address in addresses(region)
                  if address in lines and address not in own and not _is_system(address)][:1]
    delayed = bool(_DELAY_WORDS.search(region)) and not _PERMANENT_WORDS.search(region)
    agent = agent_of(message)
    found = []
    whole = " ".join(region.split())[:1500]
    for address in listed:
        named = address if address in region.lower() else alias
        words = words_for(region, named, listed) if named and named in region.lower() else ""
        diagnostic = " ".join(words.split()) or whole[:600]
        # Notes, MailMarshal, Verizon and others give the reason before the address ("User not
        # listed…" then the address): with one recipient the whole text is about it.
        context = whole if len(listed) == 1 and diagnostic != whole[:600] else ""
        # A 5xx reply about the recipient is a failure, whatever else the text defers.
        held = delayed and not _PERMANENT_REPLY.search(diagnostic)
        found.append(Found(recipient=address, alias=alias, diagnostic=diagnostic,
                           action="delayed" if held else "failed",
                           command=smtp_command(diagnostic),
                           hint=hint(diagnostic.lower(), agent) or
                           (hint(context.lower(), agent) if context else ""),
                           context=context))
    return found
