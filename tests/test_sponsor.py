"""The sponsor slot: curated/_sponsors/<week>.md rendered as a block labelled "Sponsored" at
[sponsor] position, in the HTML and text parts; its link counted as the sponsor's when clicks
are tracked, and `digest stats --sponsor W` summing it up for the sponsor."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from pipeline.state import clicks
from pipeline.state.db import Database

from .conftest import PINNED_NOW, PINNED_WEEK, make_newsletter
from .test_clicks_e2e import READER_AGENT, _send, _tracked_newsletter
from .test_clicks_stats import _began

SPONSOR = """+++
title = "Plan less, ship more with Acme Roadmaps"
url = "https://acme.example/pm?ref=digest"
sponsor = "Acme"
+++
Acme Roadmaps turns a quarter of **guesswork** into one page.

Free for teams of five.
"""


def _with_sponsor(news, text: str = SPONSOR) -> None:
    folder = news.root / "curated" / "_sponsors"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{PINNED_WEEK}.md").write_text(text, encoding="utf-8")


def _build(cli, news):
    return cli("--config", news.config_path, "build", "--week", PINNED_WEEK, "--now",
               PINNED_NOW)


def _newsletter(tmp_path, position: str | None = None):
    extra = f'\n[sponsor]\nposition = "{position}"\n' if position else ""
    news = make_newsletter(tmp_path / "news", extra=extra)
    _with_sponsor(news)
    return news


def test_the_sponsor_block_is_labelled_and_linked_in_both_parts(tmp_path, cli):
    news = _newsletter(tmp_path)
    assert _build(cli, news).exit_code == 0
    folder = news.issues / PINNED_WEEK
    issue = json.loads((folder / "issue.json").read_text())
    assert issue["sponsor"] == {
        "title": "Plan less, ship more with Acme Roadmaps",
        "url": "https://acme.example/pm?ref=digest", "name": "Acme",
        "text": "Acme Roadmaps turns a quarter of guesswork into one page.\n\n"
                "Free for teams of five.",
        "position": "after_intro", "label": "Sponsored"}
    assert all(i["kind"] in ("curated", "feed") for s in issue["sections"] for i in s["items"])
    html = (folder / "email.html").read_text()
    assert ">Sponsored</p>" in html
    assert 'href="https://acme.example/pm?ref=digest"' in html
    text = (folder / "email.txt").read_text()
    block = text.index("SPONSORED")
    assert text.index(issue["sections"][0]["title"].upper()) > block  # after the intro
    number = re.search(r"Plan less, ship more with Acme Roadmaps \[(\d+)\]", text).group(1)
    assert f"[{number}] https://acme.example/pm?ref=digest" in text
    assert "<strong>" not in text and "**" not in text


@pytest.mark.parametrize("position", ["top", "bottom", "after_section:interviews",
                                      "after_section:market"])
def test_the_block_goes_where_the_config_says(tmp_path, cli, position):
    news = _newsletter(tmp_path, position)
    assert _build(cli, news).exit_code == 0
    folder = news.issues / PINNED_WEEK
    issue = json.loads((folder / "issue.json").read_text())
    text = (folder / "email.txt").read_text()
    titles = [text.index("\n" + s["title"].upper() + "\n") for s in issue["sections"]]
    block = text.index("\nSPONSORED\n")
    ids = [s["id"] for s in issue["sections"]]
    if position == "top":
        assert block < text.index("Hi there,")
    elif position == "bottom":
        assert block > max(titles) and block < text.index("\nLinks\n")
    else:
        wanted = position.split(":")[1]
        # A section the issue lacks this week: after the nearest configured one before it.
        present = [s for s in ("breaking-in", "interviews", "craft", "growth", "market")
                   [:("breaking-in", "interviews", "craft", "growth", "market").index(wanted) + 1]
                   if s in ids]
        after = present[-1]
        assert issue["sponsor"]["position"] == f"after_section:{after}"
        index = ids.index(after)
        assert block > titles[index]
        if index + 1 < len(titles):
            assert block < titles[index + 1]
    html = (folder / "email.html").read_text()
    assert html.count(">Sponsored</p>") == 1


def test_a_broken_sponsor_file_names_its_line(tmp_path, cli):
    news = _newsletter(tmp_path)
    _with_sponsor(news, SPONSOR.replace('url = "https://acme.example/pm?ref=digest"\n',
                                        'link = "https://acme.example"\n'))
    result = _build(cli, news)
    assert result.exit_code == 2
    path = f"_sponsors/{PINNED_WEEK}.md"
    assert f"{path}:5: missing required key 'url'" in result.output
    assert f"{path}:3: unknown key 'link'" in result.output


def test_a_position_naming_no_section_is_a_config_error(tmp_path, cli):
    news = _newsletter(tmp_path, "after_section:nowhere")
    result = _build(cli, news)
    assert result.exit_code == 2
    assert "sponsor.position" in result.output and "after_section:craft" in result.output
    news.write_config(news.config_path.read_text().replace("after_section:nowhere", "middle"))
    result = _build(cli, news)
    assert result.exit_code == 2 and "'middle' is not valid" in result.output


def test_the_sponsor_link_is_tracked_and_summed_up_for_the_sponsor(tmp_path, cli):
    news, _ = _tracked_newsletter(tmp_path, "aggregate")
    _with_sponsor(news)
    _send(news, cli)
    message = news.outbox_messages()[0]
    html = message.get_body(("html",)).get_content()
    assert "https://acme.example/pm" not in html  # through /c/ like every article link
    from pipeline.archive.files import read_issue
    from pipeline.issue.links import tracked_links
    config = news.config()
    table = tracked_links(config, read_issue(config.archive_dir, PINNED_WEEK))
    sponsor = next(link for link in table if link.section == "sponsor")
    assert sponsor.url == "https://acme.example/pm?ref=digest" and sponsor.source == "Acme"
    began = _began(news)
    with Database.open(config.db_path) as db:
        for n, minutes in enumerate((5, 50)):
            clicks.record(db, [clicks.ClickRow(
                PINNED_WEEK, sponsor.index, f"{n:016d}",
                (began + timedelta(minutes=minutes)).isoformat(), "GET", READER_AGENT)])
    result = cli("--config", news.config_path, "stats", "--sponsor", PINNED_WEEK)
    assert result.exit_code == 0, result.output
    assert "Sponsor report for 2026-W48" in result.output
    assert re.search(r"Delivered:\s+3\b", result.output)
    assert re.search(r"Unique human clicks:\s+2\b", result.output)
    assert "66.67%" in result.output
