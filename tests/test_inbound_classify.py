"""inbound.classify on messages built as the servers and mail clients write them: an RFC 3464
DSN, an RFC 5965 ARF report, a Microsoft JMRP relay, mailto unsubscribe requests as Gmail,
Apple Mail and Outlook send them, auto-replies; the tokens they carry verify."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser

import pytest

from pipeline.inbound import classify, sign_verp, verify_verp
from pipeline.inbound.verp import encode_local_part, return_path
from pipeline.tokens import read_reader_token, reader_ref, reader_token

KEY = b"k" * 32
READER = "reader@example.org"
LIST = ("news@digest.example", "unsubscribe@digest.example")
TEMPLATE = "bounces+{token}@digest.example"


def original(to: str = READER, token: str | None = None) -> EmailMessage:
    """The newsletter message as compose.py sends it (the headers that matter here)."""
    message = EmailMessage()
    message["From"] = "PM Career Digest <news@digest.example>"
    message["To"] = to
    message["Subject"] = "PM Career Digest #12"
    message["Message-ID"] = "<2026-W48.abc@digest.example>"
    if token:
        message["List-Unsubscribe"] = (f"<https://digest.example/u/{token}>, "
                                       f"<mailto:unsubscribe@digest.example?subject=unsubscribe%20"
                                       f"{token}>")
    message.set_content("This week in product management…")
    return message


def report_part(subtype: str, fields: str) -> MIMEBase:
    """A message/delivery-status or message/feedback-report part: blocks of header fields."""
    part = MIMEBase("message", subtype)
    blocks = [email.message_from_string(block + "\n") for block in fields.split("\n\n")]
    part.set_payload(blocks)
    return part


def dsn(recipient: str, status: str, diagnostic: str, action: str = "failed",
        envelope_to: str = "news@digest.example", with_original: EmailMessage | None = None
        ) -> bytes:
    """A delivery status notification to RFC 3464, as Postfix lays it out."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net (Mail Delivery System)"
    report["To"] = envelope_to
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = "<20261130.DSN1@mx.example.net>"
    report["Auto-Submitted"] = "auto-replied"
    report.attach(MIMEText("This is the mail system at host mx.example.net.\n\n"
                           "I'm sorry to have to inform you that your message could not\n"
                           "be delivered to one or more recipients.\n"))
    report.attach(report_part(
        "delivery-status",
        "Reporting-MTA: dns; mx.example.net\nArrival-Date: Mon, 30 Nov 2026 07:00:01 +0000\n\n"
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\n"
        f"Action: {action}\nStatus: {status}\nRemote-MTA: dns; mx.example.org\n"
        f"Diagnostic-Code: smtp; {diagnostic}\n"))
    report.attach(MIMEMessage(with_original or original(recipient)))
    return report.as_bytes()


def test_user_unknown_dsn_is_hard_with_its_recipient_status_and_original_id() -> None:
    verdict = classify(dsn(READER, "5.1.1", "550 5.1.1 <reader@example.org>: Recipient address "
                                            "rejected: User unknown in virtual mailbox table"),
                       list_addresses=LIST)
    assert verdict.kind == "hard"
    assert verdict.recipients == (READER,)
    assert verdict.status == "5.1.1"
    assert verdict.reason_code == "userunknown"
    assert verdict.reason.endswith("(userunknown)")
    assert verdict.message_id == "20261130.DSN1@mx.example.net"
    assert verdict.original_message_id == "2026-W48.abc@digest.example"


@pytest.mark.parametrize(("status", "diagnostic", "action", "reason"), [
    ("5.2.2", "552 5.2.2 Mailbox full", "failed", "mailboxfull"),
    ("5.0.0", "550 5.1.1 <reader@example.org>... mailbox is full", "failed", "mailboxfull"),
    ("5.7.1", "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org",
     "failed", "blocked"),
    ("4.4.1", "Connection timed out", "delayed", "expired"),
    ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", "failed", "mesgtoobig"),
])
def test_failures_that_are_not_the_address_are_soft(status: str, diagnostic: str, action: str,
                                                    reason: str) -> None:
    verdict = classify(dsn(READER, status, diagnostic, action), list_addresses=LIST)
    assert (verdict.kind, verdict.reason_code) == ("soft", reason)
    assert verdict.recipients == (READER,)


def test_a_delivery_report_is_not_a_bounce() -> None:
    verdict = classify(dsn(READER, "2.0.0", "250 2.0.0 Ok: queued", action="delivered"))
    assert verdict.kind == "not-bounce"


def test_host_unknown_in_a_text_bounce_is_hard() -> None:
    # Postfix without DSN: the recipient and the words on one line, the original attached.
    bounce = MIMEMultipart()
    bounce["From"] = "MAILER-DAEMON@mx.example.net (Mail Delivery System)"
    bounce["To"] = "news@digest.example"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce.attach(MIMEText("This is the mail system at host mx.example.net.\n\n"
                           "<reader@nowhere.example>: Host or domain name not found. Name "
                           "service error for\n    name=nowhere.example type=AAAA: Host not "
                           "found\n"))
    bounce.attach(MIMEMessage(original("reader@nowhere.example")))
    verdict = classify(bounce.as_bytes(), list_addresses=LIST)
    assert (verdict.kind, verdict.recipients, verdict.reason_code) == \
        ("hard", ("reader@nowhere.example",), "hostunknown")


def test_verp_token_comes_back_in_any_header_and_any_case() -> None:
    token = sign_verp(KEY, reader_ref(READER), "2026-W48")
    address = return_path(TEMPLATE, token)
    for raw in (dsn(READER, "5.1.1", "550 5.1.1 unknown", envelope_to=address),
                dsn(READER, "5.1.1", "550 5.1.1 unknown", envelope_to=address.upper())):
        verdict = classify(raw, list_addresses=LIST, verp=TEMPLATE)
        assert verdict.verp_token == token
        assert verify_verp(KEY, verdict.verp_token) == (reader_ref(READER), "2026-W48")
    # A forwarding alias bounced: the recipient differs, the token still names the reader.
    forwarded = classify(dsn("alias-target@elsewhere.example", "5.1.1", "550 5.1.1 unknown",
                             envelope_to=address), list_addresses=LIST, verp=TEMPLATE)
    assert forwarded.recipients == ("alias-target@elsewhere.example",)
    assert verify_verp(KEY, forwarded.verp_token)[0] == reader_ref(READER)


def test_no_verp_template_no_token() -> None:
    token = sign_verp(KEY, reader_ref(READER), "2026-W48")
    raw = dsn(READER, "5.1.1", "550 5.1.1 unknown", envelope_to=return_path(TEMPLATE, token))
    assert classify(raw).verp_token is None
    assert classify(raw, verp="bounces@digest.example").verp_token is None


def arf(feedback_type: str = "abuse", rcpt: str | None = READER,
        redacted: bool = False) -> bytes:
    token = reader_token(KEY, "unsubscribe", reader_ref(READER), "2026-W48")
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>"
    report["To"] = "fbl@digest.example"
    report["Subject"] = "FW: PM Career Digest #12"
    report.attach(MIMEText("This is an email abuse report for an email message received from "
                           "IP 192.0.2.1\n"))
    rcpt_line = f"Original-Rcpt-To: {rcpt}\n" if rcpt else ""
    report.attach(report_part(
        "feedback-report",
        f"Feedback-Type: {feedback_type}\nUser-Agent: Yahoo!-Mail-Feedback/2.0\n"
        f"Version: 1\nOriginal-Mail-From: <bounces@digest.example>\n{rcpt_line}"
        "Arrival-Date: Mon, 30 Nov 2026 07:00:03 +0000\n"))
    report.attach(MIMEMessage(original("redacted@yahoo.example" if redacted else READER, token)))
    return report.as_bytes()


def test_arf_abuse_report_is_a_complaint_about_the_reader() -> None:
    verdict = classify(arf(), list_addresses=LIST)
    assert (verdict.kind, verdict.recipients, verdict.reason_code) == \
        ("complaint", (READER,), "feedback")
    assert verdict.original_message_id == "2026-W48.abc@digest.example"


def test_redacted_arf_still_names_the_reader_by_the_token_of_the_original() -> None:
    verdict = classify(arf(rcpt=None, redacted=True), list_addresses=LIST)
    assert verdict.kind == "complaint"
    assert read_reader_token(KEY, "unsubscribe", verdict.unsubscribe_token) == \
        (reader_ref(READER), "2026-W48")


def test_dmarc_failure_report_is_not_a_complaint() -> None:
    assert classify(arf(feedback_type="auth-failure")).kind == "not-bounce"


def test_microsoft_jmrp_relay_is_a_complaint() -> None:
    relay = MIMEMultipart()
    relay["From"] = "staff@hotmail.com"
    relay["To"] = "fbl@digest.example"
    relay["Subject"] = "complaint about message from 192.0.2.1"
    relay.attach(MIMEText("This is a complaint from Outlook.com's Junk Mail Reporting Program."))
    reported = original("someone@outlook.example")
    reported["X-HmXmrOriginalRecipient"] = "<reader@outlook.example>"
    relay.attach(MIMEMessage(reported))
    verdict = classify(relay.as_bytes(), list_addresses=LIST)
    assert (verdict.kind, verdict.recipients) == ("complaint", ("reader@outlook.example",))


def unsubscribe_mail(subject: str, body: str, to: str = "unsubscribe@digest.example",
                     client: str = "gmail") -> bytes:
    message = EmailMessage()
    message["From"] = f"A Reader <{READER}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{client}.1@mail.example.org>"
    if client == "outlook":
        message["Thread-Topic"] = subject
        message["X-MS-Exchange-Organization-AuthAs"] = "Anonymous"
    message.set_content(body)
    return message.as_bytes()


@pytest.fixture
def token() -> str:
    return reader_token(KEY, "unsubscribe", reader_ref(READER), "2026-W48")


def test_unsubscribe_mail_as_clients_write_it(token: str) -> None:
    cases = [
        # Gmail's "Unsubscribe" button on a mailto List-Unsubscribe: the subject as given.
        unsubscribe_mail(f"unsubscribe {token}", "This message was automatically generated "
                         "by Gmail."),
        # Apple Mail: subject only, empty body.
        unsubscribe_mail(f"unsubscribe {token}", "", client="apple"),
        # Outlook, replying, subject encoded and folded.
        unsubscribe_mail(f"RE: unsubscribe {token}", "", client="outlook"),
        # A client that dropped the subject keeps the body line.
        unsubscribe_mail("Unsubscribe", f"unsubscribe {token}\n\nSent from my phone"),
        # The token in a +tag of the address, lower-case base32.
        unsubscribe_mail("unsubscribe", "",
                         to=f"unsubscribe+{encode_local_part(token)}@digest.example"),
    ]
    for raw in cases:
        verdict = classify(raw, list_addresses=LIST)
        assert verdict.kind == "unsubscribe", raw[:300]
        assert verdict.recipients == (READER,)
        assert read_reader_token(KEY, "unsubscribe", verdict.unsubscribe_token) == \
            (reader_ref(READER), "2026-W48")


def test_unsubscribe_mail_without_a_token_is_unverified() -> None:
    verdict = classify(unsubscribe_mail("unsubscribe", "please remove me"), list_addresses=LIST)
    assert (verdict.kind, verdict.unsubscribe_token) == ("unsubscribe", None)
    assert "unverified" in verdict.reason


def test_a_forged_token_does_not_verify(token: str) -> None:
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    verdict = classify(unsubscribe_mail(f"unsubscribe {forged}", ""), list_addresses=LIST)
    assert verdict.kind == "unsubscribe"
    assert read_reader_token(KEY, "unsubscribe", verdict.unsubscribe_token) is None


def auto_reply(subject: str, headers: dict[str, str], body: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"A Reader <{READER}>"
    message["To"] = "news@digest.example"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


@pytest.mark.parametrize(("subject", "headers", "body"), [
    ("Re: PM Career Digest #12", {"Auto-Submitted": "auto-replied"},
     "I am away on vacation until Monday."),
    ("Automatic reply: PM Career Digest #12", {"X-Auto-Response-Suppress": "All"},
     "I'm out of the office with limited access to email."),
    ("Out of Office: PM Career Digest #12", {}, "Back on the 3rd."),
    ("Abwesenheitsnotiz: PM Career Digest #12", {"X-Autoreply": "yes"}, "Ich bin nicht da."),
    ("Please confirm your message", {"Precedence": "auto_reply"},
     "To get past my spam filter, click the link below."),
    # An auto-reply that quotes a bounce-like word must still not be a bounce.
    ("Auto: Undeliverable: PM Career Digest", {"Auto-Submitted": "auto-replied"},
     "I am out of the office. Mail to me is not delivered until I return; user unknown."),
])
def test_auto_replies_are_auto_replies_never_hard(subject: str, headers: dict[str, str],
                                                  body: str) -> None:
    verdict = classify(auto_reply(subject, headers, body), list_addresses=LIST)
    assert verdict.kind == "auto-reply"


def test_a_readers_reply_is_not_a_bounce() -> None:
    verdict = classify(auto_reply("Re: PM Career Digest #12", {},
                                  "Great issue, thanks! The second link is broken though."),
                       list_addresses=LIST)
    assert verdict.kind == "not-bounce"


def test_broken_input_never_raises() -> None:
    for raw in (b"", b"\x00\xff\xfe", b"From nobody\n", b"Content-Type: multipart/report\n\n--",
                b"Subject: =?utf-8?B?!!!?=\n\nx"):
        assert classify(raw).kind in ("not-bounce", "soft")


def test_verdict_json_matches_the_cli_contract() -> None:
    raw = dsn(READER, "5.1.1", "550 5.1.1 unknown")
    data = classify(raw).as_json("var/mail/new/1")
    assert {"source", "kind", "recipients", "status", "reason"} <= set(data)
    assert data["recipients"] == [READER] and data["source"] == "var/mail/new/1"


def test_classify_reads_bytes_exactly_as_a_parser_would() -> None:
    raw = dsn(READER, "5.1.1", "550 5.1.1 unknown")
    assert BytesParser().parsebytes(raw)["Subject"] == "Undelivered Mail Returned to Sender"
    assert classify(raw.replace(b"\n", b"\r\n")).kind == "hard"


def test_the_envelope_recipient_given_by_lmtp_or_a_pipe_is_trusted(token: str) -> None:
    verp_token = sign_verp(KEY, reader_ref(READER), "2026-W48")
    # A bounce whose headers do not show our return path (a relay rewrote To).
    raw = dsn(READER, "5.1.1", "550 5.1.1 unknown", envelope_to="someone@relay.example")
    verdict = classify(raw, list_addresses=LIST, verp=TEMPLATE,
                       envelope_to=return_path(TEMPLATE, verp_token))
    assert verdict.verp_token == verp_token
    # A client that put the unsubscribe address in Bcc: only the envelope shows it.
    request = unsubscribe_mail("Unsubscribe", f"unsubscribe {token}", to="me@example.org")
    assert classify(request, list_addresses=LIST).kind != "unsubscribe"
    assert classify(request, list_addresses=LIST,
                    envelope_to="unsubscribe@digest.example").kind == "unsubscribe"


def test_a_person_writing_about_rejection_is_not_a_bounce() -> None:
    message = EmailMessage()
    message["Return-Path"] = f"<{READER}>"
    message["From"] = READER
    message["To"] = "news@digest.example"
    message["Subject"] = "Re: Undeliverable promises: why my PM application was rejected"
    message.set_content("My friend colleague@example.com was rejected too; the recruiter said "
                        "the role does not exist any more.")
    verdict = classify(message.as_bytes(), list_addresses=LIST)
    assert verdict.kind == "not-bounce"
