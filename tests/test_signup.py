"""Signup with double opt-in through the real server on 127.0.0.1 (Maildir transport): the
same answer for new and known addresses, the confirmation link, the welcome mail once, the
honeypot, CSRF, the per-IP rate limit, length limits and escaping."""

from __future__ import annotations

import re
import time

import pytest

from pipeline.state.keys import signing_key
from pipeline.tokens import reader_ref, reader_token

from .conftest import free_port
from .test_web_support import add_subscriber, subscriber, wait_for, web

SENT = "Check your inbox"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _signup(client, email: str, name: str = "", website: str = "", headers=None):
    token = _csrf(client.get("/subscribe").text)
    return client.post("/subscribe", data={"email": email, "name": name, "website": website,
                                           "csrf": token}, headers=headers)


def _mails(news, kind: str, to: str):
    return [m for m in news.outbox_messages()
            if m["Subject"].startswith(kind) and to in m["To"]]


def _link(message, prefix: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"(http://\S+{prefix}\S+)", text).group(1)


def press_confirm(client, path: str):
    """What a reader does with the link: open the page (GET), press its Confirm button."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    assert f'<form method="post" action="{path}">' in page.text
    button = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(path, data={"csrf": button})


def test_double_opt_in_with_confirmation_and_one_welcome(tmp_path):
    with web(tmp_path / "news") as server:
        news = server.news
        with server.client() as client:
            page = client.get("/subscribe")
            assert page.status_code == 200 and 'name="website"' in page.text
            assert "<script" not in page.text
            assert "script-src" not in page.headers["content-security-policy"]  # none allowed
            response = _signup(client, "New.Reader@Example.com", "Nell Reader")
            assert response.status_code == 200 and SENT in response.text
            assert "location" not in response.headers
            confirm = wait_for(lambda: _mails(news, "Confirm", "New.Reader@example.com"),
                               what="the confirmation mail")[0]
            assert subscriber(news, "new.reader@example.com").status == "pending"
            link = _link(confirm, "/confirm/")
            assert link.startswith(server.base + "/confirm/")
            for _ in range(3):  # mail scanners open every link: GET never confirms
                shown = client.get(link.removeprefix(server.base))
                assert shown.status_code == 200 and "Confirm</button>" in shown.text
                assert subscriber(news, "new.reader@example.com").status == "pending"
            opened = press_confirm(client, link.removeprefix(server.base))
            assert opened.status_code == 200 and "You are subscribed" in opened.text
            assert subscriber(news, "new.reader@example.com").status == "active"
            welcome = wait_for(lambda: _mails(news, "Welcome", "New.Reader@example.com"),
                               what="the welcome mail")[0]
            assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert "Nell Reader" in welcome["To"]
            again = client.get(link.removeprefix(server.base))
            assert "already subscribed" in again.text
            time.sleep(0.3)  # a second welcome would be sent after the response
            assert len(_mails(news, "Welcome", "New.Reader@example.com")) == 1


def test_same_answer_for_known_addresses_and_no_mail_to_active_ones(tmp_path):
    with web(tmp_path / "news") as server:
        news = server.news
        add_subscriber(news, "known@example.com")
        add_subscriber(news, "gone@example.com", status="unsubscribed")
        with server.client() as client:
            known = _signup(client, "known@example.com")
            gone = _signup(client, "gone@example.com")
            new = _signup(client, "fresh@example.com")
        assert known.status_code == gone.status_code == new.status_code == 200
        strip = lambda r: re.sub(r'value="[^"]*"', "", r.text)  # noqa: E731
        assert strip(known) == strip(new) == strip(gone)
        # An unsubscribed reader may come back, through a new confirmation.
        wait_for(lambda: _mails(news, "Confirm", "gone@example.com"), what="a confirmation")
        wait_for(lambda: _mails(news, "Confirm", "fresh@example.com"), what="a confirmation")
        assert subscriber(news, "gone@example.com").status == "unsubscribed"
        assert _mails(news, "Confirm", "known@example.com") == []


def test_honeypot_csrf_and_limits_create_nobody(tmp_path):
    with web(tmp_path / "news", extra="\n[web]\nsignup_limit = 100\n") as server:
        news = server.news
        with server.client() as client:
            bot = _signup(client, "bot@example.com", website="http://spam.example")
            assert bot.status_code == 200 and SENT in bot.text  # a bot learns nothing
            no_csrf = client.post("/subscribe", data={"email": "x@example.com"})
            assert no_csrf.status_code == 400
            token = _csrf(client.get("/subscribe").text)
            with server.client() as stranger:  # the token without its cookie
                foreign = stranger.post("/subscribe", data={"email": "y@example.com",
                                                            "csrf": token})
                assert foreign.status_code == 400
            too_long = _signup(client, "a" * 250 + "@example.com")
            assert too_long.status_code == 400 and "too long" in too_long.text
            assert _signup(client, "z@example.com", name="n" * 201).status_code == 400
            huge = client.post("/subscribe", content=b"email=" + b"a" * 20000,
                               headers={"content-type": "application/x-www-form-urlencoded"})
            assert huge.status_code == 413
            evil = _signup(client, '<script>alert(1)</script>@example.com')
            assert evil.status_code == 400
            assert "<script>alert" not in evil.text and "&lt;script&gt;" in evil.text
        time.sleep(0.3)
        for address in ("bot@", "x@", "y@", "z@"):
            assert subscriber(news, address + "example.com") is None
        assert news.outbox_messages() == []


def test_per_ip_rate_limit(tmp_path):
    with web(tmp_path / "news", extra="\n[web]\nsignup_limit = 2\n") as server:
        with server.client() as client:
            ip_a = {"x-forwarded-for": "203.0.113.7"}  # uvicorn trusts the local proxy
            assert _signup(client, "a1@example.com", headers=ip_a).status_code == 200
            assert _signup(client, "a2@example.com", headers=ip_a).status_code == 200
            limited = _signup(client, "a3@example.com", headers=ip_a)
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
            other = _signup(client, "b1@example.com", headers={"x-forwarded-for": "198.51.100.2"})
            assert other.status_code == 200
        wait_for(lambda: subscriber(server.news, "b1@example.com"), what="b1 pending")
        assert subscriber(server.news, "a3@example.com") is None


def test_expired_or_foreign_confirmation_links_change_nothing(tmp_path):
    with web(tmp_path / "news") as server:
        news = server.news
        add_subscriber(news, "p@example.com", status="pending")
        key = signing_key(news.config())
        ref = reader_ref("p@example.com")
        expired = reader_token(key, "confirm", ref, "", int(time.time() - 3600))
        unknown = reader_token(key, "confirm", reader_ref("q@example.com"), "",
                               int(time.time() + 3600))  # genuine, for an address not on file
        unsub = reader_token(key, "unsubscribe", ref, "", int(time.time() + 60))
        forged = reader_token(b"x" * 32, "confirm", ref, "", int(time.time() + 3600))
        with server.client() as client:
            button = _csrf(client.get("/subscribe").text)  # a CSRF cookie, for the POSTs
            for token in (expired, unknown, unsub, forged, "nonsense"):
                page = client.get(f"/confirm/{token}")
                assert page.status_code == 400 and "Nothing was changed" in page.text
                assert "Confirm</button>" not in page.text
                post = client.post(f"/confirm/{token}", data={"csrf": button})
                assert post.status_code == 400 and "Nothing was changed" in post.text
        assert subscriber(news, "p@example.com").status == "pending"


@pytest.mark.slow  # waits out the retries to a closed port
def test_an_unreachable_mail_server_does_not_break_the_signup(tmp_path, caplog):
    dead = free_port()  # nothing listens there
    extra = (f'\n[delivery]\ntransport = "smtp"\n\n[delivery.smtp]\nhost = "127.0.0.1"\n'
             f'port = {dead}\nsecurity = "none"\ntimeout_seconds = 2\n')
    with web(tmp_path / "news", extra=extra, curated=False) as server:
        with server.client() as client:
            response = _signup(client, "patient@example.com")
            assert response.status_code == 200 and SENT in response.text
        wait_for(lambda: "not sent" in caplog.text, what="the failure in the log")
        assert subscriber(server.news, "patient@example.com").status == "pending"


def test_signup_mails_reach_an_internationalised_address(tmp_path):
    """An IDN domain and a non-ASCII name (both valid at signup) make a sendable mail: IDNA
    for the domain, RFC 2047 for the name, as in an issue."""
    from email import message_from_bytes, policy

    from pipeline.models import Subscriber
    from pipeline.web import mails

    from .conftest import make_newsletter

    config = make_newsletter(tmp_path / "news").config()
    reader = Subscriber(id=9, email="zoe@bücher.example", name="Zoë Ünal", status="pending")
    for message in (mails.confirm_message(config, b"k" * 32, reader),
                    mails.welcome_message(config, b"k" * 32, reader)):
        assert message.recipient == "zoe@xn--bcher-kva.example"
        assert message.data.split(b"\r\n\r\n", 1)[0].isascii()
        parsed = message_from_bytes(message.data, policy=policy.default)
        assert parsed["To"].addresses[0].display_name == "Zoë Ünal"
        assert parsed["To"].addresses[0].domain == "xn--bcher-kva.example"
        assert mails.deliver(config, message).ok
