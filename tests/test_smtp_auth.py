"""SMTP AUTH with the password read from the environment variable the config names; a refused
login stops the run with exit 1, a clear message, and the ledger intact."""

from __future__ import annotations

from aiosmtpd.smtp import AuthResult

from .conftest import PINNED_WEEK, run_digest
from .test_smtp_faults import FaultHandler, FaultServer, ledger, smtp_newsletter

PASSWORD = "correct horse battery staple"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"digest" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def test_login_with_password_from_the_environment(tmp_path):
    handler = FaultHandler(pipelining=False)
    with FaultServer(handler, authenticator=authenticator, auth_require_tls=False) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, 5, connections=2)
        text = news.config_path.read_text().replace(
            'security = "none"', 'security = "none"\nusername = "digest"\n'
                                 'password_env = "DIGEST_TEST_SMTP_PASSWORD"')
        news.write_config(text)
        args = ("--config", news.config_path, "send", "--week", PINNED_WEEK)

        wrong = run_digest(*args, env={"DIGEST_TEST_SMTP_PASSWORD": "wrong"})
        assert wrong.returncode == 1
        assert "refused the login for 'digest'" in wrong.stderr
        assert "password_env" in wrong.stderr
        assert handler.accepted == []
        assert {status for status, _, _ in ledger(news).values()} <= {"queued", "sending"}

        right = run_digest(*args, env={"DIGEST_TEST_SMTP_PASSWORD": PASSWORD})
    assert right.returncode == 0, right.stdout + right.stderr
    assert "5 sent" in right.stdout
    assert len(handler.accepted) == 5
