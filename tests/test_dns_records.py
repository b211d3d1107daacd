"""`digest dns`: the DKIM record derived from the key file verifies a signature made with it
(dkimpy, offline, the record read back from the printed strings); SPF on the return-path
domain, DMARC p=none with rua, MX for where bounces and unsubscribe mail go; alignment
warnings; a key that is not one is exit 2."""

from __future__ import annotations

import re

import dkim

from pipeline.mail.dkim import DkimSigner

from .conftest import make_newsletter
from .test_compose_headers import make_dkim_keys

DOMAIN = "pmcareerdigest.example.com"


def records(output: str, name: str) -> list[str]:
    """The TXT strings of the record `name`, joined (a resolver gives them as one)."""
    for line in output.splitlines():
        if line.startswith(name + " "):
            return ["".join(re.findall(r'"([^"]*)"', line))]
    return []


def test_dns_records_for_a_verp_newsletter(tmp_path, cli):
    private, _ = make_dkim_keys(tmp_path)
    news = make_newsletter(tmp_path / "news", extra=f"""
[delivery]
return_path = "bounces+{{token}}@bounces.{DOMAIN}"

[delivery.dkim]
domain = "{DOMAIN}"
selector = "digest2026"
key_file = "{private}"
""")
    result = cli("--config", news.config_path, "dns")
    assert result.exit_code == 0, result.output
    out = result.output
    dkim_line = next(line for line in out.splitlines()
                     if line.startswith(f"digest2026._domainkey.{DOMAIN}. "))
    strings = re.findall(r'"([^"]*)"', dkim_line)
    assert len(strings) >= 2 and all(len(s) <= 255 for s in strings)
    (record,) = records(out, f"digest2026._domainkey.{DOMAIN}.")
    assert record.startswith("v=DKIM1; k=rsa; p=")

    # The published record verifies what the key signs.
    message = (f"From: Digest <digest@{DOMAIN}>\r\nTo: ada@example.com\r\nSubject: hi\r\n"
               "Date: Mon, 30 Nov 2026 07:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nHello.\r\n"
               ).encode()
    signed = DkimSigner(DOMAIN, "digest2026", private.read_bytes())(message) + message

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"digest2026._domainkey.{DOMAIN}.".encode()
        return record.encode()

    assert dkim.verify(signed, dnsfunc=dnsfunc)

    assert records(out, f"bounces.{DOMAIN}.") == ["v=spf1 mx ~all"]
    (dmarc,) = records(out, f"_dmarc.{DOMAIN}.")
    assert dmarc.startswith("v=DMARC1; p=none; rua=mailto:")
    assert f"bounces.{DOMAIN}. 3600 IN MX 10 " in out  # bounces come back here
    assert f"{DOMAIN}. 3600 IN MX 10 " in out  # and unsubscribe@ mail here
    assert f"unsubscribe@{DOMAIN}" in out
    assert "WARNING" not in out  # bounces.<domain> aligns with <domain>


def test_misaligned_domains_are_named_and_a_bad_key_is_exit_2(tmp_path, cli):
    key = tmp_path / "not-a-key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    news = make_newsletter(tmp_path / "news", extra="""
[delivery]
return_path = "bounces@esp-bounces.example.net"
""")
    result = cli("--config", news.config_path, "dns")
    assert result.exit_code == 0
    assert "WARNING: esp-bounces.example.net does not align" in result.output
    assert "DKIM: not configured" in result.output
    news.config_path.write_text(news.config_path.read_text() + f"""
[delivery.dkim]
domain = "esp.example.net"
selector = "s1"
key_file = "{key}"
""")
    bad = cli("--config", news.config_path, "dns")
    assert bad.exit_code == 2 and "delivery.dkim.key_file" in bad.output
