"""inbound.classify on the conventions it reads beyond plain RFC 3464, each on a small message
written the way the server writes it: a report whose Status says nothing (5.0.0), the words of
a local delivery agent, a remote host's own codes (Sisimai::Rhost), an SES notification sent by
mail, a bounce forwarded inline, the reason written before the address, ISO-2022-JP text."""

from __future__ import annotations

import json

import pytest

from pipeline.inbound import classify


def _dsn(fields: str, text: str = "Delivery to the following recipient failed.",
         sender: str = "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>") -> bytes:
    return (f"From: {sender}\nTo: news@digest.example\nSubject: Undelivered Mail\n"
            "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;"
            ' boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
            f"{text}\n\n--B\nContent-Type: message/delivery-status\n\n"
            f"Reporting-MTA: dns; mx.example.net\n\n{fields}\n\n--B--\n").encode()


def test_a_generic_status_takes_the_diagnostic_code() -> None:
    # GSuite: "Status: 5.0.0" and the reason in "550 #5.1.0 Address rejected."
    verdict = classify(_dsn("Final-Recipient: rfc822; gone@example.de\nAction: failed\n"
                            "Status: 5.0.0\nDiagnostic-Code: smtp; 550 #5.1.0 Address rejected."))
    assert (verdict.kind, verdict.status, verdict.reason_code) == ("hard", "5.1.0", "userunknown")


def test_a_local_delivery_agent_names_the_reason() -> None:
    text = ("   ----- Transcript of session follows -----\n"
            "mail.local: unknown user: kijitora\n554 <kijitora@example.net>... Service unavailable")
    verdict = classify(_dsn("Final-Recipient: RFC822; <kijitora@example.net>\nAction: failed\n"
                            "Status: 5.5.0", text=text))
    assert (verdict.kind, verdict.reason_code) == ("hard", "userunknown")
    full = classify(_dsn("Final-Recipient: RFC822; neko@example.org\nAction: failed\n"
                         "Status: 5.1.1\nDiagnostic-Code: SMTP; 550 5.1.1 User Unknown",
                         text="Your message to <neko> was automatically rejected:\n"
                              "Not enough disk space"))
    assert (full.kind, full.reason_code) == ("soft", "mailboxfull")


def test_exchange_online_words_by_the_remote_host() -> None:
    # Microsoft 365 answers a directory-based rejection with 5.4.1, which is not a user-unknown
    # code elsewhere; by its host the words say so (Sisimai::Rhost::ExchangeOnline).
    fields = ("Final-Recipient: rfc822; left@contoso.example\nAction: failed\nStatus: 5.4.1\n"
              "Remote-MTA: dns; contoso-example.mail.protection.outlook.com\n"
              "Diagnostic-Code: smtp; 550 5.4.1 Recipient address rejected: Access denied. "
              "AS(201806281) [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]")
    assert classify(_dsn(fields)).kind == "hard"
    elsewhere = fields.replace("contoso-example.mail.protection.outlook.com", "mx.example.com")
    assert classify(_dsn(elsewhere)).kind == "soft"


def test_cox_codes_by_the_recipient_domain() -> None:
    fields = ("Final-Recipient: rfc822; someone@cox.net\nAction: failed\nStatus: 5.1.1\n"
              "Diagnostic-Code: smtp; 550 5.1.1 <someone@cox.net> recipient rejected")
    verdict = classify(_dsn(fields))
    assert (verdict.kind, verdict.reason_code) == ("hard", "userunknown")
    blocked = fields.replace("recipient rejected", "IP blocked, AUP#CXBL")
    assert classify(_dsn(blocked)).reason_code == "blocked"


def _ses(notification: dict[str, object], header: bool = True) -> bytes:
    body = json.dumps({"Type": "Notification", "Message": json.dumps(notification)})
    extra = "x-amz-sns-message-id: 5f0c6a1e-0000-4000-8000-000000000000\n" if header else ""
    return ("From: AWS Notifications <no-reply@sns.amazonaws.com>\n"
            "To: bounces@digest.example\nSubject: AWS Notification Message\n"
            f"Content-Type: text/plain; charset=UTF-8\n{extra}\n{body}\n\n--\n"
            "If you wish to stop receiving notifications from this topic, …\n").encode()


def _bounce(kind: str, status: str = "5.1.1") -> dict[str, object]:
    return {"notificationType": "Bounce",
            "bounce": {"bounceType": kind, "bounceSubType": "General",
                       "bouncedRecipients": [{"emailAddress": "Gone@Example.org",
                                              "action": "failed", "status": status,
                                              "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]},
            "mail": {"commonHeaders": {"messageId": "<w48.abc@digest.example>"}}}


def test_ses_notifications_by_mail() -> None:
    hard = classify(_ses(_bounce("Permanent")))
    assert (hard.kind, hard.recipients, hard.original_message_id) == (
        "hard", ("gone@example.org",), "w48.abc@digest.example")
    assert classify(_ses(_bounce("Transient"))).kind == "soft"
    complaint = classify(_ses({"notificationType": "Complaint", "complaint": {
        "complainedRecipients": [{"emailAddress": "angry@example.org"}]}}))
    assert (complaint.kind, complaint.recipients) == ("complaint", ("angry@example.org",))
    delivered = classify(_ses({"notificationType": "Delivery", "delivery": {
        "recipients": ["fine@example.org"]}}))
    assert delivered.kind == "not-bounce"
    # Without SNS's header it is someone's mail with JSON in it: never a hard bounce.
    assert classify(_ses(_bounce("Permanent"), header=False)).kind != "hard"


# Lotus Notes writes the reason, then the address on its own line.
NOTES = (b"From: Postmaster <postmaster@notes.example.com>\nTo: news@digest.example\n"
         b"Subject: Undeliverable message\n\n------- Failure Reasons  --------\n\n"
         b"User  not listed in public Name & Address Book\nkijitora@example.com\n\n\n"
         b"------- Returned Message --------\nFrom: news@digest.example\n"
         b"To: kijitora@example.com\nSubject: Digest\n\nHello\n")
# Someone forwards a bounce inline, quoted.
FORWARDED = (
    b"From: Someone <someone@example.jp>\nTo: news@digest.example\n"
    b"Subject: Fwd: Returned mail: see transcript for details\n\nForward the message.\n\n"
    b"Begin forwarded message:\n\n> From: Mail Delivery Subsystem <MAILER-DAEMON>\n"
    b"> To: <someone@example.jp>\n> Subject: Returned mail: see transcript for details\n"
    b">\n>    ----- The following addresses had permanent fatal errors -----\n"
    b"> <kijitora@example.com>\n>     (reason: 550 5.1.1 User unknown)\n>\n"
    b"> Final-Recipient: RFC822; kijitora@example.com\n> Action: failed\n"
    b"> Status: 5.1.1\n> Diagnostic-Code: SMTP; 550 5.1.1 <kijitora@example.com>... "
    b"User unknown\n")


@pytest.mark.parametrize("raw", [NOTES, FORWARDED], ids=["reason-before-address", "forwarded"])
def test_the_recipient_of_a_bounce_written_otherwise(raw: bytes) -> None:
    verdict = classify(raw)
    assert (verdict.kind, verdict.recipients) == ("hard", ("kijitora@example.com",))


def test_iso_2022_jp_in_a_report_field() -> None:
    # Domino's Japanese "not found in the Domino directory", in raw ISO-2022-JP.
    words = "ユーザー ka (ka@example.co.jp) は Domino ディレクトリには見つかりません。"
    field = words.encode("iso-2022-jp").decode("ascii")
    verdict = classify(_dsn("Final-Recipient: rfc822;ka@example.co.jp\nAction: failed\n"
                            f"Status: 5.0.0\nDiagnostic-Code: X-Notes; {field}",
                            sender="Postmaster@example.co.jp"))
    assert (verdict.kind, verdict.reason_code) == ("hard", "userunknown")
    assert "Domino" in verdict.reason


def test_a_transcript_with_a_5xx_is_a_failure_not_a_delay() -> None:
    raw = (b"From: Mail Delivery Subsystem <MAILER-DAEMON@mx5.example.com>\n"
           b"To: news@digest.example\nSubject: Returned mail: User unknown\n\n"
           b"   ----- Transcript of session follows -----\nWhile talking to smtp.example.com:\n"
           b">>> RCPT To:<kijitora@example.org>\n<<< 550 <kijitora@example.org>, User Unknown\n"
           b"550 <kijitora@example.org>... User unknown\n421 example.org (smtp)... Deferred: "
           b"Connection timed out during user open with example.org\n\n"
           b"   ----- Unsent message follows -----\nFrom: news@digest.example\n"
           b"To: kijitora@example.org\nSubject: Digest\n\nHello\n")
    assert classify(raw).kind == "hard"
