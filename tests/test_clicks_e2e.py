"""Click tracking end to end, over the real `digest serve` (a subprocess on 127.0.0.1): issues
built and sent by the real CLI into the Maildir outbox, their links followed as a reader, a
mail security scanner, a HEAD request and a prefetch would, the database inspected.

The send is moved an hour into the past (its ledger rows' times) before any click: a click
within a minute of the send is machine by the `early` rule, and these readers are people who
opened their mail later. Clicks are stored by the server's writer thread, so a test waits for
the row it expects; requests that must not be stored are made before one that must, and the
writer stores in order."""

from __future__ import annotations

import json
import re
import sqlite3
from email.message import EmailMessage

import httpx
import pytest

from .conftest import PINNED_NOW, PINNED_WEEK, free_port
from .test_web_support import add_subscriber, wait_for, web_newsletter

READER_AGENT = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, "
                "like Gecko) Version/18.1 Safari/605.1.15")
# Safe Links and its kind fetch with an ordinary browser's user agent.
SCANNER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                 "Gecko) Chrome/146.0.0.0 Safari/537.36")
READERS = ("ada@example.com", "grace@example.com", "alan@example.com")


def _tracked_newsletter(tmp_path, mode: str):
    port = free_port()
    news = web_newsletter(tmp_path / "news", port, extra=f'\n[tracking]\nclicks = "{mode}"\n')
    for address in READERS:
        add_subscriber(news, address, address.split("@")[0].title())
    return news, port


def _send(news, cli) -> None:
    result = cli("--config", news.config_path, "run", "--week", PINNED_WEEK, "--now",
                 PINNED_NOW)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(news.config().db_path) as conn:  # sent an hour ago (see above)
        conn.execute("UPDATE deliveries SET updated_at ="
                     " strftime('%Y-%m-%dT%H:%M:%S+00:00', updated_at, '-1 hour')")


def _message(news, address: str) -> EmailMessage:
    return next(m for m in news.outbox_messages() if address in m["To"])


def _html_links(message: EmailMessage) -> list[str]:
    html = message.get_body(("html",)).get_content()
    return re.findall(r'href="([^"]+)"', html)


def _rows(news) -> list[sqlite3.Row]:
    with sqlite3.connect(news.config().db_path) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM clicks ORDER BY id").fetchall()


def _stats(cli, news) -> dict:
    result = cli("--config", news.config_path, "stats", "--week", PINNED_WEEK, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def aggregate(tmp_path, cli):
    news, port = _tracked_newsletter(tmp_path, "aggregate")
    _send(news, cli)
    return news, port


def test_a_readers_click_redirects_to_the_article_and_counts(aggregate, serve, cli):
    news, port = aggregate
    base = serve(news, port)
    message = _message(news, "ada@example.com")
    tracked = [u for u in _html_links(message) if u.startswith(base + "/c/")]
    article = tracked[1]  # [0] is the trap
    issue = json.loads((news.issues / PINNED_WEEK / "issue.json").read_text())
    first_url = issue["sections"][0]["items"][0]["url"]

    response = httpx.get(article, headers={"User-Agent": READER_AGENT}, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == first_url
    assert "no-store" in response.headers["cache-control"]
    assert response.headers["referrer-policy"] == "no-referrer"  # the token stays with us
    wait_for(lambda: len(_rows(news)) == 1, what="the click stored")

    stats = _stats(cli, news)
    assert stats["delivered"] == len(READERS)
    assert stats["clicks"] == {"human": 1, "machine": 0}
    assert stats["unique_human_clickers"] == 1
    clicked = [link for link in stats["links"] if link["human"]]
    assert [(link["url"], link["human"]) for link in clicked] == [(first_url, 1)]
    # The same reader clicking again is still one unique click.
    httpx.get(article, headers={"User-Agent": READER_AGENT})
    wait_for(lambda: len(_rows(news)) == 2, what="the second click stored")
    assert _stats(cli, news)["clicks"]["human"] == 1


def test_a_scanner_fetching_every_link_is_counted_as_machine(aggregate, serve, cli):
    news, port = aggregate
    base = serve(news, port)
    links = _html_links(_message(news, "grace@example.com"))
    tracked = [u for u in links if u.startswith(base + "/c/")]
    assert len(tracked) >= 4
    with httpx.Client(headers={"User-Agent": SCANNER_AGENT}, follow_redirects=False) as client:
        for url in tracked:  # in document order, trap first, within a second or two
            assert client.get(url).status_code == 302
    wait_for(lambda: len(_rows(news)) == len(tracked), what="the sweep stored")
    stats = _stats(cli, news)
    assert stats["clicks"]["human"] == 0
    assert stats["clicks"]["machine"] == len({u.rsplit(".", 2)[0] for u in tracked[1:]})
    assert stats["scanned"] == 1
    assert stats["machine_reasons"]["near_trap"] == len(tracked) - 1
    assert stats["machine_reasons"]["trap"] == 1
    # A reader of another message who clicks meanwhile still counts.
    reader = [u for u in _html_links(_message(news, "alan@example.com"))
              if u.startswith(base + "/c/")][2]
    httpx.get(reader, headers={"User-Agent": READER_AGENT})
    wait_for(lambda: len(_rows(news)) == len(tracked) + 1, what="the reader's click")
    assert _stats(cli, news)["clicks"]["human"] == 1


def test_the_trap_leads_to_the_web_version(aggregate, serve):
    news, port = aggregate
    base = serve(news, port)
    trap = [u for u in _html_links(_message(news, "ada@example.com"))
            if u.startswith(base + "/c/")][0]
    response = httpx.get(trap, headers={"User-Agent": SCANNER_AGENT})
    assert response.status_code == 302
    assert response.headers["location"] == f"{base}/issues/{PINNED_WEEK}/"
    wait_for(lambda: [r["link_index"] for r in _rows(news)] == [0], what="the trap hit")
    # Never in the text part: a reader sees every URL there.
    text = _message(news, "ada@example.com").get_body(("plain",)).get_content()
    assert trap not in text


def test_head_and_prefetch_redirect_but_are_not_counted(aggregate, serve, cli):
    news, port = aggregate
    base = serve(news, port)
    article = [u for u in _html_links(_message(news, "ada@example.com"))
               if u.startswith(base + "/c/")][1]
    head = httpx.head(article, headers={"User-Agent": READER_AGENT})
    assert head.status_code == 302 and head.headers["location"].startswith("http")
    for header in ({"Purpose": "prefetch"}, {"Sec-Purpose": "prefetch;prerender"}):
        response = httpx.get(article, headers={"User-Agent": READER_AGENT, **header})
        assert response.status_code == 302 and response.headers["location"]
    barrier = httpx.get(article, headers={"User-Agent": READER_AGENT})  # stored after them
    assert barrier.status_code == 302
    wait_for(lambda: _rows(news), what="the counted click")
    rows = _rows(news)
    assert [(r["method"], r["link_index"]) for r in rows] == [("GET", 1)]
    assert _stats(cli, news)["clicks"]["human"] == 1


def test_forged_and_altered_tokens_get_400_without_location(aggregate, serve):
    news, port = aggregate
    base = serve(news, port)
    tracked = [u for u in _html_links(_message(news, "ada@example.com"))
               if u.startswith(base + "/c/")]
    token = tracked[1].rsplit("/", 1)[1]
    week, index, link_mac, delivery, seal = token.split(".")
    other = next(t for t in (u.rsplit("/", 1)[1].split(".") for u in tracked[2:])
                 if t[1] != index)
    forged = [
        f"{week}.{index}.{link_mac}.{delivery}.{seal[:-1]}{'A' if seal[-1] != 'A' else 'B'}",
        f"{week}.{other[1]}.{link_mac}.{delivery}.{seal}",  # another link, this MAC
        f"2026-W47.{index}.{link_mac}.{delivery}.{seal}",  # another week
        f"{week}.{index}.{link_mac}.{delivery[:-1]}x.{seal}",  # another delivery
        token[:-3], "x" * 40, "https:evil.example", token + ".extra",
    ]
    for bad in forged:
        for method in ("GET", "HEAD"):
            response = httpx.request(method, f"{base}/c/{bad}", follow_redirects=False)
            assert response.status_code == 400, (bad, method)
            assert "location" not in response.headers, bad
            assert "default-src 'none'" in response.headers["content-security-policy"]
    # A URL in the path is no route at all: still no Location.
    elsewhere = httpx.get(f"{base}/c/https:%2F%2Fevil.example%2F", follow_redirects=False)
    assert elsewhere.status_code == 404 and "location" not in elsewhere.headers
    assert httpx.get(f"{base}/c/{token}").status_code == 302  # the genuine one still works
    wait_for(lambda: len(_rows(news)) == 1, what="only the genuine click")


def test_own_links_are_not_wrapped_and_the_archive_is_never_tracked(aggregate, serve):
    news, port = aggregate
    base = serve(news, port)
    message = _message(news, "ada@example.com")
    links = _html_links(message)
    own = [u for u in links if not u.startswith(base + "/c/")]
    assert any(u.startswith(base + "/u/") for u in own)  # unsubscribe
    assert f"{base}/issues/{PINNED_WEEK}/" in own  # view online
    assert f"{base}/" in own  # the masthead's link to the archive
    assert all(u.startswith(base) for u in own)  # every article link is tracked
    text = message.get_body(("plain",)).get_content()
    assert "/c/" in text and f"{base}/issues/{PINNED_WEEK}/" in text
    for name in ("email.html", "email.txt"):
        assert "/c/" not in (news.issues / PINNED_WEEK / name).read_text()
    page = httpx.get(f"{base}/issues/{PINNED_WEEK}/").text
    assert "/c/" not in page
    issue = json.loads((news.issues / PINNED_WEEK / "issue.json").read_text())
    assert issue["sections"][0]["items"][0]["url"] in page


def test_aggregate_stores_no_reader_id(aggregate, serve, cli):
    news, port = aggregate
    base = serve(news, port)
    for address in READERS:
        link = [u for u in _html_links(_message(news, address)) if u.startswith(base + "/c/")][1]
        httpx.get(link, headers={"User-Agent": READER_AGENT})
    wait_for(lambda: len(_rows(news)) == len(READERS), what="three clicks")
    with sqlite3.connect(news.config().db_path) as conn:
        readers = conn.execute("SELECT id, email, ref, name FROM subscribers").fetchall()
        columns = [c[1] for c in conn.execute("PRAGMA table_info(clicks)")]
        keys = conn.execute("SELECT count(*) FROM click_keys").fetchone()[0]
        dump = "\n".join(conn.iterdump())
    assert "subscriber_id" not in columns and "ip" not in " ".join(columns)
    deliveries = {r["delivery"] for r in _rows(news)}
    assert len(deliveries) == len(READERS)  # unique readers still counted apart
    clicks_text = " ".join(" ".join(str(v) for v in tuple(r)) for r in _rows(news))
    for _row_id, email, ref, name in readers:
        assert ref not in clicks_text and email not in clicks_text and name not in clicks_text
        assert ref not in deliveries
    # The key the hashes were made with went when the send completed: nobody can tell,
    # by hashing every address again, whose click a row is.
    assert keys == 0 and "click_keys VALUES" not in dump
    assert _stats(cli, news)["unique_human_clickers"] == len(READERS)


def test_per_reader_records_the_ref_and_forget_erases_the_reader(tmp_path, serve, cli):
    news, port = _tracked_newsletter(tmp_path, "per_reader")
    _send(news, cli)
    base = serve(news, port)
    link = [u for u in _html_links(_message(news, "ada@example.com"))
            if u.startswith(base + "/c/")][1]
    httpx.get(link, headers={"User-Agent": READER_AGENT})
    wait_for(lambda: _rows(news), what="the click")
    from pipeline.tokens import reader_ref
    ref = reader_ref("ada@example.com")
    assert [r["delivery"] for r in _rows(news)] == [ref]

    result = cli("--config", news.config_path, "subscribers", "forget", "ada@example.com")
    assert result.exit_code == 0, result.output
    assert "1 click" in result.output
    with sqlite3.connect(news.config().db_path) as conn:
        dump = "\n".join(conn.iterdump())
    assert "ada@example.com" not in dump and "Ada" not in dump
    assert _rows(news) == []
    # Only the ref stays, so she is never mailed again (an import does not bring her back).
    csv = tmp_path / "old.csv"
    csv.write_text("email,name\nada@example.com,Ada\n", encoding="utf-8")
    assert cli("--config", news.config_path, "subscribers", "import", csv).exit_code == 0
    with sqlite3.connect(news.config().db_path) as conn:
        statuses = conn.execute("SELECT status FROM subscribers WHERE ref = ?",
                                (ref,)).fetchall()
    assert statuses == [("unsubscribed",)]
