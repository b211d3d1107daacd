"""Confirmation links and signup names through the real web server (uvicorn on 127.0.0.1) and
real SMTP servers (aiosmtpd): a confirmation link never revives a reader who since unsubscribed,
was removed, bounced or complained; only the button's POST confirms; a hostile name gives an
intact mail; a confirmation mail that failed leaves the address free to sign up again."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest

from pipeline.names import normalize_name

from .conftest import free_port
from .test_signup import SENT, press_confirm
from .test_web_support import add_subscriber, running, subscriber, wait_for, web, web_newsletter

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
HOSTILE = "=?utf-8?q?X=0D=0AY?="


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _signup(client, email: str, name: str = ""):
    token = _csrf(client.get("/subscribe").text)
    response = client.post("/subscribe", data={"email": email, "name": name, "csrf": token})
    assert response.status_code == 200 and SENT in response.text
    return response


def _confirm_paths(messages, base: str, to: str) -> list[str]:
    """The confirmation links mailed to `to`, oldest first, as paths on the server."""
    found = []
    for message in messages:
        if message["Subject"].startswith("Confirm") and to in str(message["To"]):
            text = message.get_body(("plain",)).get_content()
            found.append(re.search(r"(http://\S+/confirm/\S+)", text).group(1))
    return [link.removeprefix(base) for link in found]


def _signup_link(client, server, email: str, name: str = "") -> str:
    """Sign up on the form; the path of the newest confirmation link mailed to `email`."""
    before = len(_confirm_paths(server.news.outbox_messages(), server.base, email))
    _signup(client, email, name)
    return wait_for(lambda: _confirm_paths(server.news.outbox_messages(), server.base,
                                           email)[before:], what="the confirmation link")[0]


def _welcome_unsubscribe(news, to: str) -> str | None:
    for message in news.outbox_messages():
        if message["Subject"].startswith("Welcome") and to in str(message["To"]):
            return re.search(r"<(http[^>]+)>", str(message["List-Unsubscribe"])).group(1)
    return None


def _refused(response) -> bool:
    return response.status_code == 400 and "Nothing was changed" in response.text


@pytest.mark.parametrize("leave", ["removed", "bounced", "complained"])
def test_a_pending_readers_link_is_dead_once_they_left(tmp_path, cli, leave):
    with web(tmp_path / "news") as server:
        news = server.news
        with server.client() as client:
            path = _signup_link(client, server, "left@example.com")
            if leave == "removed":
                assert cli("--config", news.config_path, "subscribers", "remove",
                           "left@example.com").exit_code == 0
                expected = "unsubscribed"
            else:  # what the bounce handling records
                add_subscriber(news, "left@example.com", status=leave)
                expected = leave
            page = client.get(path)
            assert _refused(page) and "Confirm</button>" not in page.text
            button = _csrf(client.get("/subscribe").text)  # any valid form token: still no
            assert _refused(client.post(path, data={"csrf": button}))
        assert subscriber(news, "left@example.com").status == expected


def test_an_unsubscribed_reader_comes_back_only_through_a_new_link(tmp_path):
    with web(tmp_path / "news") as server:
        news = server.news
        with server.client() as client:
            first = _signup_link(client, server, "back@example.com", "Bea")
            assert "You are subscribed" in press_confirm(client, first).text
            unsubscribe = wait_for(lambda: _welcome_unsubscribe(news, "back@example.com"),
                                   what="the welcome mail")
            assert client.post(unsubscribe, data=ONE_CLICK).status_code == 200
            assert subscriber(news, "back@example.com").status == "unsubscribed"

            # The first link is unexpired but older than the unsubscribe: dead.
            assert _refused(client.get(first))
            assert _refused(client.post(first, data={"csrf": _csrf(
                client.get("/subscribe").text)}))
            assert subscriber(news, "back@example.com").status == "unsubscribed"

            # Signing up again mails a new link; that one brings the reader back.
            second = _signup_link(client, server, "back@example.com")
            assert subscriber(news, "back@example.com").status == "unsubscribed"
            assert "You are subscribed" in press_confirm(client, second).text
        assert subscriber(news, "back@example.com").status == "active"


def test_only_the_buttons_post_with_its_cookie_confirms(tmp_path):
    with web(tmp_path / "news") as server:
        news = server.news
        with server.client() as client:
            path = _signup_link(client, server, "p@example.com")
            for _ in range(3):
                assert "Confirm</button>" in client.get(path).text
            assert subscriber(news, "p@example.com").status == "pending"
            with server.client() as other:  # no cookie, no form token: refused
                assert _refused(other.post(path, data={"csrf": "x"}))
                assert _refused(other.post(path, data={"csrf": _csrf(client.get(path).text)}))
            assert subscriber(news, "p@example.com").status == "pending"
            assert "You are subscribed" in press_confirm(client, path).text
        assert subscriber(news, "p@example.com").status == "active"


# --------------------------------------------------------------------------- names


def _smtp_extra(port: int) -> str:
    return (f'\n[delivery]\ntransport = "smtp"\nretry_backoff_seconds = 0\n\n'
            f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n')


def test_a_hostile_name_gives_an_intact_confirmation_mail(tmp_path, smtp_server):
    port = free_port()
    news = web_newsletter(tmp_path / "news", port, _smtp_extra(smtp_server.port),
                          curated=False)
    with running(news, port) as server, server.client() as client:
        _signup(client, "victim@example.com", HOSTILE)
        message = wait_for(lambda: [m for m in smtp_server.parsed()
                                    if "victim@example.com" in str(m["To"])],
                           what="the confirmation mail")[0]
        raw = smtp_server.messages[0][2]
        head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        names = [line.split(":", 1)[0] for line in head.split("\r\n") if line[:1] not in " \t"]
        assert sorted(names) == sorted(["From", "To", "Subject", "Date", "Message-ID",
                                        "Reply-To", "List-Id", "Auto-Submitted",
                                        "MIME-Version", "Content-Type"])
        to = message["To"].addresses[0]
        assert to.addr_spec == "victim@example.com"
        assert "\r" not in to.display_name and "\n" not in to.display_name
        assert "=?" not in to.display_name  # not an encoded-word any mail client decodes
        assert subscriber(news, "victim@example.com").name == normalize_name(HOSTILE)
        path = _confirm_paths([message], server.base, "victim@example.com")[0]
        assert "You are subscribed" in press_confirm(client, path).text
    assert subscriber(news, "victim@example.com").status == "active"


@dataclass
class FlakyRelay:
    """An SMTP relay that answers DATA with `failures`, in order, before it accepts."""

    failures: list[str]
    accepted: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        if self.failures:
            return self.failures.pop(0)
        self.accepted.append(envelope.content)
        return "250 OK"


@pytest.fixture
def flaky_relay():
    from aiosmtpd.controller import Controller

    relay = FlakyRelay([])
    port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    yield relay, port
    controller.stop()


def test_a_failed_confirmation_mail_never_locks_the_address_out(tmp_path, flaky_relay, caplog):
    relay, relay_port = flaky_relay
    port = free_port()
    news = web_newsletter(tmp_path / "news", port, _smtp_extra(relay_port), curated=False)
    with running(news, port) as server, server.client() as client:
        # A relay's brief trouble (451) is retried: the mail still arrives.
        relay.failures[:] = ["451 4.3.0 try again later", "451 4.3.0 try again later"]
        _signup(client, "first@example.com")
        wait_for(lambda: relay.accepted, what="the retried mail")
        # A refusal (554) is not retried: logged, and the reader stays pending…
        relay.failures[:] = ["554 5.7.1 rejected"]
        _signup(client, "unlucky@example.com", "Una")
        wait_for(lambda: "not sent" in caplog.text, what="the failure in the log")
        assert subscriber(news, "unlucky@example.com").status == "pending"
        assert len(relay.accepted) == 1
        # …and can sign up again, receive a link and confirm.
        _signup(client, "unlucky@example.com", "Una")
        wait_for(lambda: len(relay.accepted) == 2, what="the second confirmation")
        message = message_from_bytes(relay.accepted[1], policy=policy.default)
        path = _confirm_paths([message], server.base, "unlucky@example.com")[0]
        assert "You are subscribed" in press_confirm(client, path).text
    assert subscriber(news, "unlucky@example.com").status == "active"
