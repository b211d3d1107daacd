"""What particular mail servers write for a reason they name outright (Sisimai's Lhost classes
decide these before the generic rules of patterns.py): such a phrase settles the reason. Most
are safe anywhere (a server's own wording); a few common words ("No such user") settle the
reason only in the bounce of the server known to write them (AGENTS), as Sisimai reads them
only in that server's bounces.

Lower-case; an entry starting with `re:` is a regular expression."""

from __future__ import annotations

import re
from email.message import Message

from .patterns import compile_phrases

HINTS: dict[str, tuple[str, ...]] = {
    "userunknown": (
        "no mailbox here by that name", "does not like recipient.",
        "not listed in domino directory", "not listed in public name & address book",
        "non répertorié dans l'annuaire domino", "re:domino ?ディレクトリ ?には ?見つかりません",
        "re:ディレクトリ ?の ?リスト ?に ?ありません",
        "the recipient name is not recognized", "unknown recipient",
        "invalid final delivery userid", "re:^unknown user", "user not found",
        "because the address couldn't be found",
        # Exchange 2003
        "000c05a6",
    ),
    "hostunknown": (
        "all host address lookups failed permanently",
        "all relevant mx records point to non-existent hosts", "unrouteable address",
        "sorry, i couldn't find any host", "dns error: domain name not found",
        "dns error: dns server returned answer with no data", "host or domain name not found",
        "no such domain.", "re:^unknown host", "as the remote domain doesnt exist",
        "illegal host/domain name found", "re:^(?:invalid domain name|domain does not exist)",
    ),
    "mailboxfull": ("mailbox is full", "error: quota exceed", "disk quota exceeded",
                    "user mailbox exceeds allowed size", "as their mailbox is full",
                    "the number of messages in recipient's mailbox exceeded the local limit",
                    "re:the user\\(s\\) account is temporarily over quota"),
    "exceedlimit": ("the message exeeded the maximum size the user accepts",),
    "mesgtoobig": ("mail size limit exceeded",
                   "message size exceeds fixed maximum message size:"),
    "expired": (
        "retry timeout exceeded", "dns error: could not contact dns servers",
        "delivery to the following recipient has been delayed",
        "the recipient server did not accept our requests to connect", "host not reachable",
        "this message has been in the queue too long", "re:delivery failed \\d+ attempts",
        "envelope expired", "delivery expired", "your message was not delivered within ",
    ),
    "networkerror": (
        "sorry, i wasn't able to establish an smtp connection",
        "sorry, i couldn't find a mail exchanger or ip address",
        "message has exceeded maximum hop count", " had no relevant answers.",
        " responded with code nxdomain", "dns lookup failed.",
        "no mx found for domain", "no mx found for destination", "no valid route to remote mx",
        "network error on destination mxs",
    ),
    "notaccept": (
        "null mx", "an mx or srv record indicated no smtp service",
        "no host found for existing smtp connection",
        "type=mx: malformed or unexpected name server reply",
        "destination seem to reject all mails",
    ),
    "suspend": ("mailaddress is administrative",
                "re:the user\\(s\\) account is (?:disabled|temporarily limited)\\."),
    "filtered": ("cannot route mail to user", "mail delivery failed... user unknown"),
    "norelaying": ("due to the following smtp relay error",),
    "systemerror": (
        "several matches found in domino directory", "this domain's dns violates rfc 1035",
        "automatic homedir creator crashed", "illegal value in ldap attribute",
        "ldap attribute is not given but mandatory",
        "timeout while performing search on ldap server",
        "too many results returned but needs to be unique",
        "error while executing qmail-forward", "temporary error in automatic homedir creation",
        "temporary failure in ldap lookup", "unable to contact ldap server",
        "unable to login into ldap server",
    ),
    "virusdetected": ("re:^requested action not taken: virus detected",),
}
# The order the hints are tried: a Lhost's specific words before the generic ones.
_HINT_ORDER = ("mailboxfull", "exceedlimit", "mesgtoobig", "expired", "notaccept", "suspend",
               "filtered", "norelaying", "hostunknown", "networkerror", "systemerror",
               "virusdetected", "userunknown")


# Servers whose bounces use common words for a reason: (header, its value's pattern) that
# identifies their bounce, and their phrases (Sisimai::Lhost::MessageLabs, McAfee, Verizon).
def _facebook(codes: str) -> tuple[str, ...]:
    return tuple(f"re:\\b{code}\\b" for code in codes.lower().split())


AGENTS: tuple[tuple[str, re.Pattern[str], dict[str, tuple[str, ...]]], ...] = (
    # Facebook's response codes (postmaster.facebook.com/response_codes)
    ("From", re.compile(r"mailer-daemon@mx\.facebook\.com", re.I), {
        "userunknown": _facebook("RCP-P1 INT-P1 INT-P3 INT-P4"),
        "filtered": _facebook("RCP-P2 RCP-P3"), "blocked": _facebook("POL-P1 POL-P2"),
        "mesgtoobig": _facebook("MSG-P1 INT-P2"),
        "contenterror": _facebook("MSG-P2 MSG-P3 POL-P6 POL-P7"),
        "notaccept": _facebook("POL-P3 POL-P4 POL-T1 POL-T2 POL-T3"),
        "rejected": _facebook("DNS-P1 DNS-P2 DNS-T1 DNS-P3 DNS-T2"),
        "systemerror": _facebook("CON-T1 RCP-T1 INT-T1 INT-T2 INT-T3 INT-T4"),
        "toomanyconn": _facebook("CON-T2 CON-T3"), "virusdetected": _facebook("POL-P5"),
        "suspend": _facebook("RCP-T4")}),
    ("From", re.compile(r"post_master@vtext\.com|sysadmin@.+\.vzwpix\.com", re.I),
     {"userunknown": ("no such user here", "no valid recipients for this mm")}),
    ("X-Msg-Ref", re.compile(r"."), {"userunknown": ("no such user", "re:542 .+ rejected")}),
    ("X-NAI-Header", re.compile(r"modified by mcafee", re.I), {"userunknown": (
        "no such user", "re: user \\(.+@.+\\) unknown\\. ", "re:550 unknown user [^ ]+@[^ ]+",
        "re:550 <.+?@.+?>\\.+ user not exist")}),
)
_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(compile_phrases(HINTS[name]).pattern, re.M)) for name in _HINT_ORDER)
# All of them at once: most texts name none, and one search says so.
_ANY_HINT = re.compile("|".join(f"(?:{pattern.pattern})" for _, pattern in _HINTS), re.M)


_AGENT_HINTS = tuple((name, value, {reason: re.compile(compile_phrases(items).pattern, re.M)
                                    for reason, items in table.items()})
                     for name, value, table in AGENTS)


def agent_of(message: Message) -> int:
    """Which of AGENTS wrote the bounce (its index), -1 when none."""
    for index, (name, value, _) in enumerate(_AGENT_HINTS):
        if value.search(str(message.get(name, ""))):
            return index
    return -1


def agent_hint(agent: int, text: str) -> str:
    """The reason the words of AGENTS[agent] name in `text` (lower-cased), or ""."""
    if agent >= 0:
        for reason, pattern in _AGENT_HINTS[agent][2].items():
            if pattern.search(text):
                return reason
    return ""


def hint(text: str, agent: int = -1) -> str:
    """The reason a known MTA's words name outright in `text` (lower-cased), or "": those of
    AGENTS[agent] first when the bounce is theirs."""
    found = agent_hint(agent, text)
    if found or not _ANY_HINT.search(text):
        return found
    for name, pattern in _HINTS:
        if pattern.search(text):
            return name
    return ""


# Local delivery agents (Sisimai::MDA): a line starting with the agent's name (or Dovecot's
# "Your message to <a@b> was automatically rejected:"), and its words for each reason, in the
# lines that follow up to a blank one. Read in a mailer-daemon's bounce only.
_MDA_START = re.compile(r"^(?:your message to \S+ was automatically rejected:$|"
                        r"(mail\.local|procmail|maildrop|vdelivermail|vdeliver): )", re.M)
_MDA_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "dovecot": {"userunknown": ("mailbox doesn't exist: ",),
                "mailboxfull": ("quota exceeded", "not enough disk space")},
    "mail.local": {"userunknown": (": unknown user:", ": user unknown", ": invalid mailbox path",
                                   ": user missing home directory"),
                   "mailboxfull": ("disc quota exceeded", "mailbox full or quota exceeded"),
                   "systemerror": ("temporary file write error",)},
    "procmail": {"mailboxfull": ("quota exceeded while writing",),
                 "systemfull": ("no space left to finish writing",)},
    "maildrop": {"userunknown": ("invalid user specified.", "cannot find system user"),
                 "mailboxfull": ("maildir over quota.",)},
    "vdelivermail": {"userunknown": ("sorry, no mailbox here by that name.",),
                     "filtered": ("account is locked email bounced",
                                  "user does not exist, but will deliver to "),
                     "mailboxfull": ("domain is over quota", "user is over quota")},
    "vdeliver": {"userunknown": ("invalid or unknown base user or domain",
                                 "invalid or unknown virtual user",
                                 "user name does not refer to a virtual user"),
                 "mailboxfull": ("delivery failed due to system quota violation",)},
}
_DAEMON = re.compile(r"^\W*(?:mail delivery subsystem|mailer-daemon|postmaster)", re.I)


def mda_failure(sender: str, text: str) -> tuple[str, str]:
    """(reason, its line) when a local delivery agent's words explain the bounce, else
    ("", "")."""
    if not _DAEMON.match(sender):
        return "", ""
    lower = text.lower()
    start = _MDA_START.search(lower)
    if start is None:
        return "", ""
    agent = start.group(1) or "dovecot"
    lines = []
    for line in lower[start.start():].split("\n"):
        if not line.strip():
            break
        lines.append(line)
    for reason, phrases in _MDA_WORDS[agent].items():
        for line in lines:
            if any(phrase in line for phrase in phrases):
                return reason, line.strip()
    return "", ""
