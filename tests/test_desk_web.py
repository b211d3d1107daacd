"""The desk's doors (issue 15), against the real `digest desk` (a subprocess): off loopback it
starts only with a password hash; then no session means a redirect to the login (pages) or 401
(changes), a change without its CSRF token is 403 and changes nothing; cookies are HttpOnly,
SameSite=Strict, Secure behind https; a loopback desk answers loopback names only; it never
serves the subscriber list; a page edit and a CLI edit racing both land."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest

from pipeline.identity import canonical_url, short_id
from pipeline.web.desk.auth import hash_problem, make_hash, verify_password

from .conftest import ROOT, free_port, run_digest
from .desksupport import BEFORE_SEND, READERS, WEEK, desk_newsletter, running_desk

PASSWORD = "correct horse battery staple"
HASH_ENV = "DIGEST_TEST_DESK_HASH"
ROADMAP = "https://alpha.example/roadmap-discovery"


def prepared(cli, tmp_path, extra: str = ""):
    news = desk_newsletter(tmp_path / "news", extra=extra)
    assert cli("--config", news.config_path, "fetch", "--now", BEFORE_SEND).exit_code == 0
    for address in READERS:
        assert cli("--config", news.config_path, "subscribers", "add", address).exit_code == 0
    return news


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name (the raw header, attributes included)."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        found[next(iter(SimpleCookie(header)))] = header
    return found


def drops_file(news) -> Path:
    return news.root / "curated" / "_drops" / f"{WEEK}.txt"


def test_off_loopback_the_desk_refuses_to_start_without_a_password(cli, tmp_path):
    news = prepared(cli, tmp_path)
    port = str(free_port())
    bare = run_digest("--config", news.config_path, "desk", "--host", "0.0.0.0", "--port", port,
                      timeout=60)
    assert bare.returncode == 2
    assert "not a loopback address" in bare.stderr and "password_hash_env" in bare.stderr
    news.write_config(news.config_path.read_text()
                      + f'\n[desk]\npassword_hash_env = "{HASH_ENV}"\n')
    unset = run_digest("--config", news.config_path, "desk", "--host", "0.0.0.0", "--port",
                       port, env={HASH_ENV: ""}, timeout=60)
    assert unset.returncode == 2
    assert f"{HASH_ENV} (named by [desk] password_hash_env) is not set" in unset.stderr
    garbled = run_digest("--config", news.config_path, "desk", "--host", "0.0.0.0", "--port",
                         port, env={HASH_ENV: "md5$abc"}, timeout=60)
    assert garbled.returncode == 2 and "not a scrypt$… or pbkdf2_sha256$… hash" in garbled.stderr
    assert not drops_file(news).exists()


def test_with_a_password_every_door_is_checked(cli, tmp_path):
    news = prepared(cli, tmp_path, extra=f'\n[desk]\npassword_hash_env = "{HASH_ENV}"\n')
    env = {HASH_ENV: make_hash(PASSWORD)}
    with running_desk(news, "--now", BEFORE_SEND, host="0.0.0.0", env=env) as base, \
            httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert client.get("/preview", params={"week": WEEK}).status_code == 401
        # Without a session a change is refused before anything else is looked at.
        assert client.post("/drop", data={"item": short_id(ROADMAP), "week": WEEK}
                           ).status_code == 401

        login = client.get("/login")
        assert login.status_code == 200 and "<script" not in login.text
        token = csrf_token(login.text)
        assert client.post("/login", data={"password": PASSWORD}).status_code == 403
        wrong = client.post("/login", data={"password": "nope", "csrf": token})
        assert wrong.status_code == 401 and "Wrong password" in wrong.text
        assert "digest_desk_session" not in set_cookies(wrong)
        good = client.post("/login", data={"password": PASSWORD, "csrf": token})
        assert good.status_code == 303 and good.headers["location"] == "/"
        session = set_cookies(good)["digest_desk_session"]
        assert "HttpOnly" in session and "SameSite=strict" in session.replace("Strict", "strict")
        assert "Secure" not in session  # plain http here

        desk = client.get("/", params={"week": WEEK})
        assert desk.status_code == 200 and "Roadmap discovery habits" in desk.text
        nonce = re.search(r"script-src 'nonce-([^']+)'", desk.headers["content-security-policy"])
        assert nonce and f'<script nonce="{nonce.group(1)}">' in desk.text
        assert desk.text.count("<script") == 1
        for address in READERS:  # the desk never shows a reader
            assert address not in desk.text
        preview = client.get("/preview", params={"week": WEEK})
        assert preview.status_code == 200 and "Roadmap discovery habits" in preview.text
        assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
        assert not any(address in preview.text for address in READERS)
        for path in ("/subscribers", "/subscribers.csv", "/api/subscribers", "/export"):
            assert client.get(path).status_code == 404

        item = {"item": short_id(ROADMAP), "week": WEEK, "reason": "seen it"}
        assert client.post("/drop", data=item).status_code == 403
        assert client.post("/drop", data={**item, "csrf": "forged"}).status_code == 403
        assert not drops_file(news).exists()
        done = client.post("/drop", data={**item, "csrf": csrf_token(desk.text)})
        assert done.status_code == 303 and done.headers["location"].startswith(f"/?week={WEEK}")
        assert f"{ROADMAP}  # seen it" in drops_file(news).read_text()
        after = client.get(done.headers["location"])
        flash = re.search(r'id="flash"[^>]*>([^<]+)<', after.text).group(1)
        assert flash == (f"{WEEK}: dropped https://alpha.example/roadmap-discovery "
                         f"(curated/_drops/{WEEK}.txt)")

        # Behind a proxy that says https (127.0.0.1 is trusted: [web] forwarded_allow_ips).
        relogin = client.post("/login", headers={"X-Forwarded-Proto": "https"},
                              data={"password": PASSWORD, "csrf": csrf_token(
                                  client.get("/login").text)})
        assert "Secure" in set_cookies(relogin)["digest_desk_session"]

        out = client.post("/logout", data={"csrf": csrf_token(after.text), "week": WEEK})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert client.get("/").status_code == 303


def test_a_loopback_desk_answers_loopback_names_only_and_checks_csrf(cli, tmp_path):
    news = prepared(cli, tmp_path)
    with running_desk(news, "--now", BEFORE_SEND) as base, \
            httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        assert client.get("/").status_code == 200  # no login on loopback
        rebound = client.get("/", headers={"Host": f"attacker.example:{base.rsplit(':', 1)[1]}"})
        assert rebound.status_code == 400
        assert client.get("/", headers={"Host": "localhost"}).status_code == 200
        assert client.post("/drop", data={"item": short_id(ROADMAP), "week": WEEK}
                           ).status_code == 403
        assert client.get("/login").status_code == 303  # nothing to log in to
        assert not drops_file(news).exists()
        broken = news.root / "curated" / "broken.md"
        broken.write_text("+++\ntitle = 12\n+++\n> text\n", encoding="utf-8")
        problem = client.get("/")
        assert problem.status_code == 500
        assert f"{broken}:2: &#39;title&#39; must be a non-empty string" in problem.text


def test_page_and_cli_edits_racing_both_land(cli, tmp_path):
    news = prepared(cli, tmp_path)
    urls = [r["url"] for r in json.loads(cli(
        "--config", news.config_path, "candidates", "--week", WEEK, "--now", BEFORE_SEND,
        "--json").output)]
    page_items, cli_items = urls[:3], urls[3:6]
    with running_desk(news, "--now", BEFORE_SEND) as base, \
            httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
        token = csrf_token(client.get("/", params={"week": WEEK}).text)
        answers: list[int] = []

        def from_the_page() -> None:
            for url in page_items:
                answers.append(client.post("/drop", data={
                    "item": short_id(url), "week": WEEK, "csrf": token}).status_code)

        thread = threading.Thread(target=from_the_page)
        procs = [subprocess.Popen([str(Path(sys.executable).parent / "digest"), "--config",
                                   str(news.config_path), "drop", short_id(url), "--week", WEEK,
                                   "--now", BEFORE_SEND], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for url in cli_items]
        thread.start()
        codes = [p.wait(120) for p in procs]
        thread.join(120)
        assert codes == [0, 0, 0] and answers == [303, 303, 303]
    vetoed = {line.split()[0] for line in drops_file(news).read_text().splitlines()
              if not line.startswith("#")}
    assert vetoed == {canonical_url(url) for url in page_items + cli_items}


def test_the_readme_one_liner_makes_a_hash_the_desk_takes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^(python3 -c 'import base64.*)$", readme, re.M)
    assert line, "README: the password-hash one-liner"
    # No controlling terminal (a new session): getpass reads the password from stdin.
    made = subprocess.run(["bash", "-c", line.group(1)], input=PASSWORD + "\n",
                          capture_output=True, text=True, timeout=60, start_new_session=True)
    assert made.returncode == 0, made.stderr
    encoded = made.stdout.strip().splitlines()[-1]
    assert hash_problem(encoded) is None
    assert verify_password(PASSWORD, encoded) and not verify_password("other", encoded)


@pytest.mark.parametrize("encoded, problem", [
    ("scrypt$16385$8$1$c2FsdA==$" + "A" * 44, "scrypt parameters out of range"),
    ("pbkdf2_sha256$10$salt$" + "A" * 44, "iterations out of range"),
    ("bcrypt$2b$12$abc", "not a scrypt"),
])
def test_unusable_hashes_are_named(encoded, problem):
    assert problem in hash_problem(encoded)


def test_pbkdf2_hashes_made_elsewhere_verify():
    import base64
    import hashlib

    digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), b"pepper", 100_000)
    encoded = f"pbkdf2_sha256$100000$pepper${base64.b64encode(digest).decode()}"
    assert hash_problem(encoded) is None and verify_password(PASSWORD, encoded)
    assert not verify_password(PASSWORD + "!", encoded)
