"""Composed messages: the headers bulk senders need (RFC 8058 one-click unsubscribe, List-Id,
Precedence), MIME structure (multipart/alternative, text first, HTML last, quoted-printable),
safe substitution of per-reader values into the once-compiled issue, and DKIM verified offline
with dkimpy against a key pair made for the test."""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

import dkim
import pytest

from pipeline.errors import ConfigError
from pipeline.jobs.build import build, load_rendered
from pipeline.mail.compose import make_composer, personalise, reader_links, token_values
from pipeline.mail.dkim import SIGNED_HEADERS, load_signer
from pipeline.models import Subscriber
from pipeline.state.handle import State
from pipeline.tokens import reader_ref, verify

from .conftest import PINNED_NOW, PINNED_WEEK, require_tool

KEY = b"test-signing-key"
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
READER = Subscriber(id=42, email="ada@example.com", name="Ada <script>alert(1)</script> Lovelace",
                    status="active")


@pytest.fixture
def rendered(newsletter):
    from pipeline.weeks import parse_now

    config = newsletter.config()
    with State(config, parse_now(PINNED_NOW)) as state:
        build(state, PINNED_WEEK)
    return config, load_rendered(config, PINNED_WEEK)


def parse(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def test_headers_and_structure(rendered):
    config, issue = rendered
    message = make_composer(config, issue, KEY, NOW).compose(READER)
    msg = parse(message.data)
    assert msg["From"] == "PM Career Digest <digest@pmcareerdigest.example.com>"
    assert msg["To"].addresses[0].addr_spec == "ada@example.com"
    assert msg["Subject"] == issue.issue.subject
    assert parsedate_to_datetime(msg["Date"]) == NOW
    assert msg["Reply-To"] == "editor@pmcareerdigest.example.com"
    assert re.fullmatch(r"<2026-W48\.[0-9a-f]{20}@pmcareerdigest\.example\.com>",
                        msg["Message-ID"])
    assert msg["List-Id"] == "PM Career Digest <pm-career-digest.pmcareerdigest.example.com>"
    assert msg["Precedence"] == "bulk"
    # RFC 8058: an https URI (plus a mailto) and the exact one-click POST header.
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    uris = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    assert uris[0].startswith("https://pmcareerdigest.example.com/u/")
    assert uris[1].startswith("mailto:unsubscribe@pmcareerdigest.example.com?subject=")
    token = uris[0].rsplit("/", 1)[1]
    # The web endpoint's contract: the address's ref (never the row id) and the week.
    assert verify(KEY, "unsubscribe", token) == (reader_ref("ada@example.com"), PINNED_WEEK)
    assert message.sender == "digest@pmcareerdigest.example.com"
    assert message.recipient == "ada@example.com"

    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.get_payload()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    for part in (text, html):
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_charset() == "utf-8"
    # The decoded parts are exactly the issue with this reader's values, escaped in the HTML.
    links = reader_links(config, KEY, READER, PINNED_WEEK)
    want_html, want_text = personalise(issue, token_values(READER, links))
    # (compose ends each part with a line break)
    assert html.get_content().replace("\r\n", "\n").rstrip("\n") == want_html.rstrip("\n")
    assert text.get_content().replace("\r\n", "\n").rstrip("\n") == want_text.rstrip("\n")
    assert "%%" not in html.get_content() and "%%" not in text.get_content()
    assert "<script>alert" not in html.get_content()
    # Wire format: CRLF only, lines within the limits, nothing for SMTP to dot-stuff.
    data = message.data
    assert b"\n" not in data.replace(b"\r\n", b"")
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    body = data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert max(len(line) for line in body) <= 76
    assert not any(line.startswith(b".") for line in lines)


def test_message_id_is_stable_per_issue_and_reader(rendered):
    config, issue = rendered
    composer = make_composer(config, issue, KEY, NOW)
    first = composer.compose(READER).message_id
    later = make_composer(config, issue, KEY, datetime(2026, 11, 27, tzinfo=UTC))
    assert later.compose(READER).message_id == first  # a resend after a crash: same ID
    other = dataclasses.replace(READER, id=43, email="grace@example.com")
    assert composer.compose(other).message_id != first
    assert composer.compose(READER, recipient="editor@example.com").message_id != first
    # A test copy to the reader's own address must not share the real issue's Message-ID
    # (Gmail folds messages with one ID: the real issue would be dropped as a duplicate).
    assert composer.compose(READER, recipient=READER.email).message_id != first


def test_subject_injection_and_non_ascii(rendered):
    config, issue = rendered
    hostile = dataclasses.replace(issue, issue=dataclasses.replace(
        issue.issue, subject="Ünïcode salaries\r\nBcc: victim@example.com"))
    reader = Subscriber(id=7, email="zoe@bücher.example", name="Zoë Ünal", status="active")
    message = make_composer(config, hostile, KEY, NOW, subject_prefix="[TEST] ").compose(reader)
    head = message.data.split(b"\r\n\r\n", 1)[0]
    assert b"Bcc:" not in head.replace(b"\r\n ", b" ").split(b"Subject:")[0]
    assert not re.search(rb"\r\nBcc:", head)
    assert head.isascii()  # RFC 2047 encoded-words, not raw UTF-8
    msg = parse(message.data)
    assert msg["Subject"] == "[TEST] Ünïcode salaries Bcc: victim@example.com"
    assert msg["To"].addresses[0].display_name == "Zoë Ünal"
    assert message.recipient == "zoe@xn--bcher-kva.example"  # IDNA for the envelope


def make_dkim_keys(folder):
    """A throw-away RSA key pair made for the test: (private key file, DNS TXT record)."""
    openssl = require_tool("openssl", "makes the test DKIM key pair")
    private = folder / "dkim.key"
    subprocess.run([openssl, "genrsa", "-out", str(private), "2048"], check=True,
                   capture_output=True)
    public = subprocess.run([openssl, "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture
def dkim_keys(tmp_path):
    return make_dkim_keys(tmp_path)


def test_dkim_signature_verifies_offline(rendered, dkim_keys):
    config, issue = rendered
    private, record = dkim_keys
    from pipeline.config import DkimConfig

    signer = load_signer(DkimConfig(domain="pmcareerdigest.example.com", selector="digest",
                                    key_file=private))
    message = make_composer(config, issue, KEY, NOW, sign=signer).compose(READER)
    asked: list[bytes] = []

    def dnsfunc(name, timeout=5):
        asked.append(name)
        return record

    assert dkim.verify(message.data, dnsfunc=dnsfunc)
    assert asked == [b"digest._domainkey.pmcareerdigest.example.com."]
    signature = parse(message.data)["DKIM-Signature"]
    signed = {h.strip().lower() for h in
              re.search(r"h=([^;]+);", signature.replace("\r\n", "")).group(1).split(":")}
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject",
            "message-id"} <= signed
    assert {h.decode() for h in SIGNED_HEADERS} <= signed
    # Tampering with the unsubscribe header breaks the signature.
    tampered = message.data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                                    b"List-Unsubscribe-Post: nothing")
    assert tampered != message.data
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_dkim_bad_key_file_is_a_config_error(tmp_path):
    from pipeline.config import DkimConfig

    with pytest.raises(ConfigError, match="key_file"):
        load_signer(DkimConfig("example.com", "s", tmp_path / "missing.key"))
    junk = tmp_path / "junk.key"
    junk.write_text("not a key")
    with pytest.raises(ConfigError, match="not a usable DKIM key"):
        load_signer(DkimConfig("example.com", "s", junk))


@pytest.mark.parametrize("width", [74, 75, 76, 77])
def test_quoted_printable_lines_stay_within_76_around_reader_values(rendered, width):
    """RFC 2045: an encoded line is at most 76 characters, the soft break's "=" included,
    also where a per-reader value is joined to a literal piece of any length."""
    from pipeline.issue.render import TOKENS

    config, issue = rendered
    body = ("x" * width + TOKENS["greeting"] + "y" * width + "=" + TOKENS["web_url"]
            + "é" * width + "\n")
    crafted = dataclasses.replace(issue, html=body, text=body)
    message = make_composer(config, crafted, KEY, NOW).compose(READER)
    lines = message.data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert max(len(line) for line in lines) <= 76
    text, html = parse(message.data).get_payload()
    links = reader_links(config, KEY, READER, PINNED_WEEK)
    want_html, want_text = personalise(crafted, token_values(READER, links))
    assert text.get_content().replace("\r\n", "\n") == want_text
    assert html.get_content().replace("\r\n", "\n") == want_html
