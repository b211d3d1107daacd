"""STARTTLS and implicit TLS against aiosmtpd with a certificate made for the test: the
certificate is verified (here against delivery.smtp.ca_file), and one the client cannot verify
stops the run with a clear message instead of sending in clear or retrying."""

from __future__ import annotations

import ssl

import pytest

from .conftest import PINNED_WEEK, run_digest
from .test_smtp_faults import FaultHandler, FaultServer, ledger, smtp_newsletter


@pytest.fixture
def certificate(tls_certificate):
    cert, key = tls_certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.mark.slow  # makes a certificate with openssl
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_is_verified_and_used(tmp_path, certificate, security):
    cert, context = certificate
    handler = FaultHandler()
    options = ({"tls_context": context, "require_starttls": True} if security == "starttls"
               else {"ssl_context": context})
    with FaultServer(handler, **options) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, 4, connections=2)
        config = news.config_path.read_text().replace('security = "none"',
                                                      f'security = "{security}"')
        args = ("--config", news.config_path, "send", "--week", PINNED_WEEK)

        news.write_config(config)  # the test CA is not trusted: refused, nothing sent
        refused = run_digest(*args)
        assert refused.returncode == 1
        assert "certificate" in refused.stderr and "ca_file" in refused.stderr
        assert handler.accepted == []
        assert {s for s, _, _ in ledger(news).values()} <= {"queued", "sending"}

        news.write_config(config.replace(f'security = "{security}"',
                                         f'security = "{security}"\nca_file = "{cert}"'))
        sent = run_digest(*args)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "4 sent" in sent.stdout and len(handler.accepted) == 4
