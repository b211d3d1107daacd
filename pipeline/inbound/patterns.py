"""What mail servers write for each bounce reason: the phrases that name Sisimai's reasons.

Data only (reasons.py decides with them). The phrases are those real servers send, as Sisimai
(libsisimai.org, its Sisimai::Reason classes) and flufl.bounce catalogue them, lower-case; an
entry starting with `re:` is a regular expression, the others are literal substrings. Matching
runs over the lower-cased diagnostic with runs of white space made single spaces."""

from __future__ import annotations

import re

PHRASES: dict[str, tuple[str, ...]] = {
    "mailboxfull": (
        "account is exceeding their quota", "account is over quota", "over quota",
        "account is temporarily over quota", "boite du destinataire pleine",
        "disc quota exceeded", "disk quota exceeded", "does not have enough space",
        "exceeded storage allocation", "exceeding its mailbox quota", "full mailbox",
        "is over disk quota", "mailbox exceeded the local limit", "mailbox full",
        "mailbox has exceeded its disk space limit", "mailbox is full", "mailbox over quota",
        "mailbox quota usage exceeded", "mailbox size limit exceeded", "maildir over quota",
        "mailfolder is full", "not enough storage space", "over the allowed quota",
        "quota exceeded", "quota violation for", "recipient reached disk quota",
        "mailbox would exceed maximum allowed storage", "the user's space has been used up",
        "too much mail data", "user has exceeded quota", "user has too many messages on the server",
        "insufficient system storage", "re:quota (?:full|exceeded)", "mailbox is over quota",
        "account disabled temporarly for exceeding receiving limits", "mail quota exceeded",
        "mail file size exceeds the maximum size allowed for mail delivery",
    ),
    "mesgtoobig": (
        "exceeded maximum inbound message size", "line limit exceeded",
        "max message size exceeded", "message file too big", "message too big",
        "message length exceeds administrative limit", "message size exceeds fixed limit",
        "message size exceeds fixed maximum message size", "message size exceeds maximum value",
        "message too large for this ", "size limit", "taille limite du message atteinte",
        "message exceeds the maximum message size", "exceeds the maximum message size",
        "message is too large",
    ),
    "exceedlimit": ("message header size exceeds limit", "message too large"),
    "suspend": (
        " is currently suspended", " temporary locked", "boite du destinataire archivee",
        "email account that you tried to reach is disabled", "has been suspended",
        "invalid/inactive user", "is a deactivated mailbox", "mailbox currently suspended",
        "mailbox is frozen", "mailbox unavailable or access denied",
        "recipient rejected: temporarily inactive", "recipient suspend the service",
        "this account has been disabled or discontinued", "this mailbox is disabled",
        "user suspended", "account is locked email bounced", "account has been disabled",
        "account is disabled", "account disabled", "account is inactive", "account inactive",
        "user account is unavailable", "this account is disabled",
    ),
    "hasmoved": (" has been replaced by ",),
    "norelaying": (
        "as a relay", "insecure mail relay", "mail server requires authentication when "
        "attempting to send to a non-local e-mail address", "not a gateway",
        "not allowed to relay through this machine", "not an open relay", "not local host",
        "relay access denied", "relay denied", "relaying mail to ", "relay not permitted",
        "relaying denied", "that domain isn't in my list of allowed rcpthost",
        "this system is not configured to relay mail", "unable to relay for",
        "we don't handle mail for", "is not permitted to relay through this server",
    ),
    "userunknown": (
        "#5.1.1 bad address", "re:<[^ ]+> not found", "550 address invalid",
        "5.1.0 address rejected.", "re:account [^ ]+ does not exist at the organization",
        "re:address (?:does not exist|not present in directory|unknown)",
        "archived recipient", "re:bad[-_ ]recipient", "can't accept user", "does not exist.",
        "destination addresses were unknown", "destination server rejected recipients",
        "re:email address (?:does not exist|could not be found)",
        "re:invalid (?:address|mailbox|recipient)",
        "re:is not (?:a known user|a valid mailbox|an active address at this host)",
        "re:mailbox (?:[^ ]+ does not exist|[^ ]+@[^ ]+ unavailable|does not exist|invalid"
        "|is (?:inactive|unavailable)|not (?:present|found)|unavailable)",
        "nessun utente simile in questo indirizzo",
        "re:no (?:account by that name here|existe (?:dicha persona|ese usuario)"
        "|mail ?box available for this user|mailbox by that name is currently available"
        "|mailbox found|matches to nameserver query"
        "|such (?:address here|mailbox|person at this address|recipient|user)"
        "|valid recipients, bye)",
        "re:non[- ]?existent user",
        "re:not (?:a valid (?:recipient|user here)|a local address|email addresses)",
        "re:rcpt <[^ ]+> does not exist",
        "re:recipient (?:[^ ]+ was not found in|does not exist|is not local"
        "|not (?:exist|found|ok)|refuses to accept your mail|unknown)",
        "re:recipient address rejected: (?:access denied|invalid user|invalid-recipient"
        "|user [^ ]+ does not exist|user unknown in [^ ]+ table|unknown user)",
        "requested action not taken: mailbox unavailable", "resolver.adr.recipnotfound",
        "resolver.adr.recipientnotfound",
        "re:sorry, (?:user unknown|badrcptto|no mailbox here by that name"
        "|your envelope recipient has been denied)",
        "that domain or user isn't in my list of allowed rcpthosts",
        "the email account that you tried to reach does not exist",
        "the following recipients was undeliverable", "the user's email name is not found",
        "there is no one at this address", "this address no longer accepts mail",
        "this email address is wrong or no longer valid",
        "this recipient is in my badrecipientto list",
        "this recipient is not in my validrcptto list", "this spectator does not exist",
        "re:unknown (?:e-?mail address|local[- ]part|mailbox|recipient|user)",
        "re:user (?:[^ ]+ was not found|[^ ]+ does not exist|does not exist"
        "|missing home directory|not (?:active|exist|found|known)|unknown)",
        "utilisateur inconnu", "invalid or unknown virtual user",
        "your envelope recipient is in my badrcptto list", "address does not exist",
        "no such user", "user doesn't exist", "user does not exist",
        "this user doesn't have a ", "recipient address rejected: user unknown",
        "unknown address", "address is unknown", "account does not exist",
        "account unknown", "no such account", "not our customer",
        "not listed in domino directory", "not listed in public name & address book",
        "the recipient name is not recognized", "invalid final delivery userid",
        "addressee unknown", "no such recipient", "recipient not found",
    ),
    "filtered": (
        "because the recipient is only accepting mail from specific email addresses",
        "bounced address", "due to extended inactivity new mail is not currently being accepted",
        "has restricted sms e-mail", "is not accepting any mail",
        "message rejected due to user rules", "not found recipient account",
        "refused due to recipient preferences", "resolver.rst.notauthorized",
        "this account is protected by", "user not found", "user reject",
        "recipient id refuse to receive mail", "you have been blocked by the recipient",
    ),
    "rejected": (
        "access denied (in reply to mail from command)", "access denied (sender blacklisted)",
        "address rejected", "administrative prohibition", "batv failed to verify",
        "batv validation failure", "backscatter protection detected an invalid or expired",
        "because the sender isn't on the recipient's list of senders to accept mail from",
        "bogus mail from", "connections not accepted from servers without a valid sender domain",
        "denied [bouncedeny]", "denied by secumail valid-address-filter",
        "delivery not authorized, message refused", "domain of sender address ",
        "email address is on senderfilterconfig list", "emetteur invalide",
        "empty envelope senders not allowed", "error: no third-party dsns",
        "from: domain is invalid", "fully qualified email address required", "invalid sender",
        "is not a registered gateway user", "mail from not owned by user",
        "message rejected: email address is not verified", "mx records for ",
        "null sender is not allowed", "recipient not accepted. (batv: no tag",
        "returned mail not accepted here", "sender address has been blacklisted",
        "sender email address rejected", "sender is in my black list", "sender is spammer",
        "sender not pre-approved", "sender rejected", "sender domain is empty",
        "sender verify failed", "syntax error: empty email address",
        "the message has been rejected by batv defense", "this server does not accept mail from",
        "unroutable sender address", "you are not allowed to post to this mailing list",
        "you are sending to/from an address that has been blacklisted",
    ),
    "hostunknown": (
        "domain does not exist", "domain is not reachable", "domain must exist",
        "host or domain name not found", "host unknown", "host unreachable",
        "mail domain mentioned in email address is unknown", "name or service not known",
        "no such domain", "recipient address rejected: unknown domain name",
        "recipient domain must exist", "the account or domain may not exist", "unknown host",
        "unroutable address", "unrouteable address", "re:553 [^ ]+ does not exist",
        "couldn't find any host named", "all relevant mx records point to non-existent hosts",
        "no mx or a record for", "domain not found", "unknown domain",
    ),
    "spamdetected": (
        "the mail server detected your message as spam", "re:(?:\\d\\.\\d\\.\\d|\\d{3}) spam$",
        "appears to be unsolicited", "blacklisted url in message", "block for spam",
        "blocked by spamassassin", "blocked by policy: no spam please", "bulk email",
        "considered unsolicited bulk e-mail", "content filter rejection",
        "denied due to spam list", "high probability of spam", "spamhaus.org/query",
        "mail appears to be unsolicited", "mail content denied", "may consider spam",
        "re:message (?:considered as spam or virus|contains spam or virus|content rejected"
        "|detected as spam|filtered|is being rejected as it seems to be a spam"
        "|looks like spam|rejected as spam|rejected because of unacceptable content"
        "|rejected due to suspected spam content)",
        "our email server thinks this email is spam", "probable spam", "reject bulk.advertising",
        "rejected: spamassassin score ", "rejected due to spam", "rejecting banned content",
        "rejecting mail content", "related to content with spam-like characteristics",
        "sending address not accepted due to spam filter",
        "re:spam (?:[^ ]+ exceeded|blocked|check|content matched|detected|email|message rejected"
        "|not accepted|refused|rejection|reporting address|score )",
        "spambouncer identified spam", "spamming not allowed", "too much spam.",
        "the email message was detected as spam", "has been rejected by spam filtering engine",
        "rejected due to classification as bulk mail",
        "the content of this message looked like spam",
        "detected as spam", "classified as spam", "this message appears to be spam",
        "identified as spam", "scored as spam", "transaction failed spam message not queued",
        "we dont accept spam", "you're using a mass mailer", "your email is considered spam",
        "your email is probably spam", "your email had spam-like ", "triggered a spam block",
        "failed several antispam checks", "greylisted",
    ),
    "virusdetected": (
        "it has a potentially executable attachment", "virus detected",
        "contains prohibited virus or spam content", "your message was infected with a virus",
        "this form of attachment has been used by recent viruses",
    ),
    "toomanyconn": (
        "all available ips are at maximum connection limit", "connection rate limit exceeded",
        "exceeds per-domain connection limit for", "has exceeded the max emails per hour ",
        "throttling failure", "too many connections", "too many concurrent smtp connections",
        "too many errors from your ip", "too many recipients", "too many smtp sessions",
        "trop de connexions, ", "we have already made numerous attempts to deliver this message",
    ),
    "blocked": (
        " said: 550 blocked", "access denied. ip name lookup failed",
        "re:access from ip address [^ ]+ blocked",
        "all mail servers must have a ptr record", "bad dns ptr resource record",
        "bad sender ip address", "banned sending ip", "blacklisted by",
        "re:(?:blocked|refused) - see https?://", "blocked using ",
        "can't determine purported responsible address", "cannot find your hostname",
        "cannot resolve your address", "re:client host [^ ]+ blocked using",
        "client host rejected: cannot find your hostname", "client host rejected: may not be",
        "client host rejected: was not authenticated", "confirm this mail server",
        "connection dropped", "connection refused by", "connection reset by peer",
        "was dropped by remote host", "not accepted from ip addresses on spamhaus",
        "because the ip is in spamhaus's list", "currently sending spam see: ",
        "re:domain [^ ]+ mismatches client ip", "dynamic/zombied/spam ips blocked",
        "re:email blocked by (?:[^ ]+\\.barracudacentral\\.org|spamhaus)",
        "esmtp not accepting connections", "extreme bad ip profile", "fix reverse dns for",
        "go away", "helo command rejected:", "host network not allowed", "hosts with dynamic ip",
        "invalid ip for sending mail of domain", "ip/domain reputation problems",
        "ips with missing ptr records", "is in a black list", "is not allowed to send mail from",
        "re:mail server at [^ ]+ is blocked", "rejected based on blacklist",
        "message was rejected for possible spam/virus content",
        "temporarily deferred due to user complaints", "no access from mail server",
        "no ptr record found.", "not currently accepting mail from your ip",
        "part of their network is on our block list", "get a custom reverse dns name",
        "please inspect your spf settings", "please use the smtp server of your isp",
        "ptr record setup", "has not passed validation", "poor email reputation score",
        "the sending mta's poor reputation", "rejecting open proxy", "reverse dns failed",
        "reverse dns required", "reverse dns lookup for host", "sender ip address rejected",
        "sender ip reverse lookup rejected", "forbidden by invalid rdns record",
        "forbidden by your ip ", "listed as abusive",
        "service not available, closing transmission channel", "unverifyable sending ips",
        "smtp error from remote mail server after initial connection:",
        "your remotehost looks suspiciously like spammer", "spf record", "spf check: fail",
        "domain authentication fail", "unexpected volume or user complaints",
        "re:the (?:email|domain|ip) [^ ]+ is blacklisted",
        "will not accept messages from servers/devices with no reverse dns",
        "too many spams from your ip", "too many unwanted messages have been sent",
        "unresolvable relay host name", "re:was blocked by [^ ]+",
        "we do not accept mail from dynamic ips",
        "we do not accept mail from hosts with dynamic ip",
        "you are not allowed to connect", "you are sending spam",
        "your email address has been blacklisted", "your network is temporary blacklisted",
        "abuseat.org", "your server requires confirmation",
    ),
    "policyviolation": (
        "an illegal attachment on your message",
        "because the recipient is not accepting mail with ",
        "by non-member to a members-only list", "closed mailing list", "denied by policy",
        "dmarc policy", "email not accepted for policy reasons",
        "email rejected due to security policies", "header are not accepted", "header error",
        "local policy violation", "message bounced due to organizational settings",
        "message given low priority", "message not accepted for policy reasons",
        "message rejected due to local policy", "messages with multiple addresses",
        "rejected for policy reasons", "protocol violation",
        "is not subscribed to this group", "the message was rejected by organization policy",
        "its content presents a potential", "we do not accept messages containing images",
        "allowable number of posts without solving a captcha",
    ),
    "securityerror": (
        "account not subscribed to ses", "authentication credentials invalid",
        "authentication failure", "authentication required",
        "authentication turned on in your email client", "re:domain [^ ]+ is a dead domain",
        "executable files are not allowed in compressed files",
        "recipient address rejected: access denied", "tls required but not supported",
        "unauthenticated senders not allowed", "is not authorized to perform ses:",
        "you are not authorized to send mail, authentication is required",
        "verification failure",
    ),
    "systemerror": (
        "aliasing/forwarding loop broken", "can't create user output file",
        "could not load drd for domain", "internal error reading data",
        "internal server error: operation now in progress", "interrupted system call",
        "it encountered an error while being processed", "it would create a mail loop",
        "local configuration error", "local error in processing",
        "loop was found in the mail exchanger", "loops back to myself", "queue file write error",
        "mail system configuration error", "remote server is misconfigured",
        "server configuration error", "service currently unavailable", "system config error",
        "temporary local problem", "timeout waiting for input", "transaction failed",
    ),
    "systemfull": ("mail system full",
                   "requested mail action aborted: exceeded storage allocation"),
    "networkerror": (
        "could not connect and send the mail to",
        "dns records for the destination computer could not be found",
        "hop count exceeded - possible mail loop", "host is unreachable",
        "host name lookup failure", "host not found, try again", "mail forwarding loop for ",
        "malformed name server reply", "malformed or unexpected name server reply",
        "maximum forwarding loop count exceeded", "message looping",
        "message probably in a routing loop", "no route to host", "too many hops",
        "unable to resolve route ", "unrouteable mail domain", "network is unreachable",
    ),
    "expired": (
        "connection timed out", "could not find a gateway for",
        "delivery attempts will continue to be", "delivery time expired",
        "failed to deliver to domain ", "giving up on", "have been failing for a long time",
        "has been delayed", "it has not been collected after",
        "message expired after sitting in queue for", "message expired, connection refu",
        "message timed out", "retry time not reached for any host after a long failure period",
        "retry timeout exceeded", "server did not respond",
        "this message has been in the queue too long",
        "unable to deliver message after multiple retries",
        "was not reachable within the allowed queue period",
        "your message could not be delivered for more than", "could not be delivered within",
        "delivery has been delayed", "message could not be delivered for ",
        "will retry", "still trying", "delivery delayed", "not yet been delivered",
        "warning: message still undelivered", "delayed mail",
    ),
    "contenterror": (
        "header size exceeds maximum permitted", "improper use of 8-bit data in message header",
        "message header size, or recipient list, exceeds policy limit",
        "message mime complexity exceeds the policy maximum",
        "routing loop detected -- too many received: headers",
        "this message contain invalid mime headers",
        "this message contain improperly-formatted binary content",
        "this message contain text that uses unnecessary base64 encoding",
    ),
    "notaccept": (
        "does not accept mail (nullmx)", "host/domain does not accept mail",
        "host does not accept mail", "name server: .: host not found",
        "no mx record found for domain=", "no route for current request",
        "smtp protocol returned a permanent error",
    ),
    "mailererror": (
        "re:^procmail: ", "re:bin/(?:procmail|maildrop)",
        "re:command (?:failed: |died with status \\d+|output:)", "re:exit \\d+",
        "mailer error", "re:pipe to \\|/[^ ]+", "re:x-unix; \\d+",
    ),
    "vacation": (
        "i am away on vacation", "i am away until", "i am out of the office",
        "i will be traveling for work on",
    ),
}

# Phrases that look like a user-unknown but are something else (Sisimai::Reason::Rejected).
NOT_REJECTED = ("5.1.0 address rejected", "recipient address rejected",
                "sender ip address rejected")


def compile_phrases(phrases: tuple[str, ...]) -> re.Pattern[str]:
    parts = [phrase[3:] if phrase.startswith("re:") else re.escape(phrase) for phrase in phrases]
    return re.compile("|".join(f"(?:{part})" for part in parts))


COMPILED: dict[str, re.Pattern[str]] = {name: compile_phrases(items)
                                         for name, items in PHRASES.items()}


def matches(reason: str, text: str) -> bool:
    """Whether lower-cased, space-folded `text` names `reason`."""
    if reason == "rejected" and any(phrase in text for phrase in NOT_REJECTED):
        return False
    return COMPILED[reason].search(text) is not None
