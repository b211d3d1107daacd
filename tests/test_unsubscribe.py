"""Unsubscribe through the real server on 127.0.0.1: RFC 8058 one-click POST (urlencoded and
multipart, no cookie, 200, no redirect, idempotent), the GET page that never unsubscribes, the
button with its CSRF token, resubscribe, and forged tokens that change nothing."""

from __future__ import annotations

import re

import httpx

from pipeline.state.keys import signing_key
from pipeline.tokens import reader_ref, reader_token

from .test_web_support import add_subscriber, subscriber, web

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _token(server, email: str, week: str = "2026-W48", purpose="unsubscribe") -> str:
    key = signing_key(server.news.config())
    return reader_token(key, purpose, reader_ref(email), week)


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name} in the page"
    return match.group(1).replace("&#34;", '"').replace("&amp;", "&")


def test_one_click_post_in_both_content_types(tmp_path):
    with web(tmp_path / "news") as server:
        ada = add_subscriber(server.news, "ada@example.com", "Ada")
        bob = add_subscriber(server.news, "bob@example.com")
        carol = add_subscriber(server.news, "carol@example.com")
        url_ada, url_bob = f"/u/{_token(server, ada.email)}", f"/u/{_token(server, bob.email)}"
        with server.client() as client:
            response = client.post(url_ada, data=ONE_CLICK)  # form-urlencoded
            assert response.status_code == 200
            assert "location" not in response.headers
            assert "You are unsubscribed" in response.text
            again = client.post(url_ada, data=ONE_CLICK)  # idempotent
            assert again.status_code == 200 and "You are unsubscribed" in again.text
        with httpx.Client(base_url=server.base, follow_redirects=False) as client:
            response = client.post(url_bob, files={"List-Unsubscribe": (None, "One-Click")})
            assert response.request.headers["content-type"].startswith("multipart/form-data")
            assert "cookie" not in response.request.headers
            assert response.status_code == 200 and "location" not in response.headers
        assert subscriber(server.news, "ada@example.com").status == "unsubscribed"
        assert subscriber(server.news, "bob@example.com").status == "unsubscribed"
        assert subscriber(server.news, "carol@example.com").status == "active"
        assert carol.status == "active"


def test_get_shows_a_button_and_never_unsubscribes_then_resubscribe(tmp_path):
    with web(tmp_path / "news") as server:
        ada = add_subscriber(server.news, "ada@example.com", "Ada")
        path = f"/u/{_token(server, ada.email)}"
        with server.client() as client:
            for _ in range(3):  # link scanners prefetch, maybe several times
                page = client.get(path)
                assert page.status_code == 200
                assert subscriber(server.news, "ada@example.com").status == "active"
            assert f'<form method="post" action="{path}">' in page.text
            assert "Unsubscribe</button>" in page.text
            assert page.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["referrer-policy"] == "no-referrer"
            # A POST without the page's CSRF token (and not one-click) changes nothing.
            refused = client.post(path, data={"csrf": "x"})
            assert refused.status_code == 400
            assert subscriber(server.news, "ada@example.com").status == "active"
            done = client.post(path, data={"csrf": _hidden(page.text, "csrf")})
            assert done.status_code == 200 and "You are unsubscribed" in done.text
            assert subscriber(server.news, "ada@example.com").status == "unsubscribed"
            assert 'action="/resubscribe"' in done.text
            back = client.post("/resubscribe", data={"token": _hidden(done.text, "token"),
                                                     "csrf": _hidden(done.text, "csrf")})
            assert back.status_code == 200 and "Welcome back" in back.text
            assert subscriber(server.news, "ada@example.com").status == "active"
            # The GET page of an unsubscribed reader offers to come back, changes nothing.
            client.post(path, data=ONE_CLICK)
            page = client.get(path)
            assert "Resubscribe" in page.text
            assert subscriber(server.news, "ada@example.com").status == "unsubscribed"


def test_forged_or_altered_tokens_get_400_and_change_nothing(tmp_path):
    with web(tmp_path / "news") as server:
        ada = add_subscriber(server.news, "ada@example.com")
        bob = add_subscriber(server.news, "bob@example.com")
        good = _token(server, ada.email)
        subject, issue, expiry, mac = good.split(".")
        bob_subject = _token(server, bob.email).split(".")[0]
        flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
        forged = [
            ".".join((subject, issue, expiry, flipped)),  # altered signature
            ".".join((bob_subject, issue, expiry, mac)),  # another reader, ada's signature
            _token(server, ada.email, purpose="confirm"),  # a token for another purpose
            reader_token(b"n" * 32, "unsubscribe", reader_ref(ada.email), "2026-W48"),  # key
            _token(server, "nobody@example.com"),  # genuine, for an address not on file
            "garbage", "a.b.c.d", "x" * 600,
        ]
        with server.client() as client:
            for token in forged:
                assert client.get(f"/u/{token}").status_code == 400, token
                post = client.post(f"/u/{token}", data=ONE_CLICK)
                assert post.status_code == 400, token
                assert "Nothing was changed" in post.text
            fake = client.post("/resubscribe", data={"token": good, "csrf": "x"})
            assert fake.status_code == 400
        assert subscriber(server.news, "ada@example.com").status == "active"
        assert subscriber(server.news, "bob@example.com").status == "active"
