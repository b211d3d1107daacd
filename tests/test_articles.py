"""One headline per article (issue 13, item 2): the editor's excerpts of one article are one
item, in one section, with every passage and its note under the title; the issue.json
contract's fields stay valid; the history remembers every excerpt file."""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from pipeline.curation.excerpts import load_excerpts
from pipeline.fsutil import dumps_json
from pipeline.identity import canonical_url
from pipeline.issue.assemble import assemble
from pipeline.issue.render import render_issue
from pipeline.models import Issue, Item, Section
from pipeline.state import published

from .conftest import PINNED_NOW, PINNED_WEEK, ROOT, free_port, make_newsletter
from .golden.sample import sample_issue

NOW = datetime.fromisoformat(PINNED_NOW)
JOURNEY = "https://careerschooled.com/the-journey-to-becoming-a-product-manager/"
FILL = "&#847;&zwnj;&nbsp;"


def shipped(config) -> list:
    return load_excerpts(ROOT / "curated", {s.id for s in config.sections})


def headline_urls(html: str) -> list[str]:
    """The link of every article heading (<h3>) of a compiled email, in order."""
    return re.findall(r'<h3 style="[^"]*"><a href="([^"]+)"', html)


def test_an_article_quoted_in_four_sections_is_one_item_with_every_passage(tmp_path) -> None:
    config = make_newsletter(tmp_path / "news").config()
    excerpts = shipped(config)
    journey = [e for e in excerpts if e.url == JOURNEY]
    assert len({e.section for e in journey}) == 4 and len(journey) == 7
    issue = assemble(config, PINNED_WEEK, 1, NOW, excerpts, [], set())

    urls = [canonical_url(item.url) for item in issue.items]
    assert len(urls) == len(set(urls)) == 5  # five articles, five headlines
    [(section, item)] = [(s.id, i) for s in issue.sections for i in s.items if i.url == JOURNEY]
    # The section of its first excerpt in the editor's order (order = 1: breaking-in).
    assert section == journey[0].section == "breaking-in"
    assert [p.id for p in item.passages] == [f"c-{e.slug}" for e in journey]
    assert [p.note for p in item.passages] == [e.note for e in journey]
    # The contract's plain-text fields hold every passage and note.
    assert item.excerpt == "\n\n".join(e.excerpt for e in journey)
    assert item.note == "\n\n".join(e.note for e in journey)
    data = item.to_json()
    assert {"id", "kind", "title", "url", "source", "author", "published", "excerpt",
            "note"} <= data.keys()
    assert [p["id"] for p in data["excerpts"]] == [p.id for p in item.passages]
    assert Item.from_json(json.loads(json.dumps(data))) == item
    # An article quoted once keeps the item it always had: no `excerpts` list.
    single = next(i for i in issue.items if i.url != JOURNEY)
    assert "excerpts" not in single.to_json() and len(single.passages) == 1


def test_the_editor_chooses_the_section_with_primary(tmp_path) -> None:
    config = make_newsletter(tmp_path / "news").config()
    excerpts = [replace(e, primary=True) if e.slug == "2026-11-20-coach-and-janitor" else e
                for e in shipped(config)]
    issue = assemble(config, PINNED_WEEK, 1, NOW, excerpts, [], set())
    where = [s.id for s in issue.sections for i in s.items if i.url == JOURNEY]
    assert where == ["craft"]
    craft = next(s for s in issue.sections if s.id == "craft")
    assert craft.items[0].url == JOURNEY  # where its first excerpt stands in the order
    assert len(craft.items[0].passages) == 7
    assert "breaking-in" not in [s.id for s in issue.sections]  # nothing else was there


def test_primary_is_read_from_the_excerpt_file(tmp_path, cli) -> None:
    news = make_newsletter(tmp_path / "news")
    path = news.root / "curated" / "2026-11-21-career-as-a-roadmap.md"
    path.write_text(path.read_text().replace("order = 7", "order = 7\nprimary = true"))
    excerpts = shipped(news.config())
    mine = load_excerpts(news.root / "curated", {s.id for s in news.config().sections})
    assert not any(e.primary for e in excerpts)
    assert [e.slug for e in mine if e.primary] == ["2026-11-21-career-as-a-roadmap"]
    path.write_text(path.read_text().replace("primary = true", 'primary = "yes"'))
    bad = cli("--config", news.config_path, "curate", "list")
    assert bad.exit_code == 2
    assert f"{path}:" in bad.output and "primary must be true or false" in bad.output


def test_links_to_one_article_by_other_addresses_are_one_article(tmp_path) -> None:
    config = make_newsletter(tmp_path / "news", curated=False).config()
    journey = [e for e in shipped(config) if e.url == JOURNEY][:3]
    variants = [JOURNEY + "?utm_source=twitter",
                JOURNEY.replace("https://", "https://www.").rstrip("/") + "#interview",
                JOURNEY]
    excerpts = [replace(e, url=url) for e, url in zip(journey, variants, strict=True)]
    issue = assemble(config, PINNED_WEEK, 1, NOW, excerpts, [], set())
    assert len(issue.items) == 1 and len(issue.items[0].passages) == 3


def test_max_items_counts_headlines(tmp_path) -> None:
    config = make_newsletter(tmp_path / "news", max_items=2).config()
    issue = assemble(config, PINNED_WEEK, 1, NOW, shipped(config), [], set())
    assert len(issue.items) == 2
    assert len(issue.items[0].passages) == 7  # all the excerpts of one article go in together


def test_no_excerpt_of_a_merged_article_comes_back_next_week(tmp_path, cli) -> None:
    news = make_newsletter(tmp_path / "news", extra="\n[schedule]\nmin_new_items = 0\n")
    config = ("--config", news.config_path)
    assert cli(*config, "build", "--now", PINNED_NOW).exit_code == 0
    first = json.loads((news.issues / PINNED_WEEK / "issue.json").read_text())
    merged = next(i for s in first["sections"] for i in s["items"] if i["url"] == JOURNEY)
    assert len(merged["excerpts"]) == 7
    later = "2026-12-03T08:00:00+00:00"
    for lost_state in (False, True):
        if lost_state:  # the history is rebuilt from the archive's issue.json
            shutil.rmtree(news.root / "var")
            shutil.rmtree(news.issues / "2026-W49")
        result = cli(*config, "build", "--now", later)
        assert result.exit_code == 0, result.output
        second = json.loads((news.issues / "2026-W49" / "issue.json").read_text())
        assert [i["url"] for s in second["sections"] for i in s["items"]] == []


def test_history_keys_name_every_excerpt_file() -> None:
    item = sample_issue(3).items[0]
    keys = published.item_keys(item)
    assert {f"curated:kao-{n}" for n in (1, 2, 3)} <= set(keys)


def test_an_issue_json_from_before_renders_one_headline_per_article(tmp_path) -> None:
    # Written before item 2: each excerpt an item of its own, one after another.
    config = make_newsletter(tmp_path / "news").config()
    merged = sample_issue(12)
    article = merged.items[0]
    old_items = tuple(replace(article, id=p.id, excerpt=p.excerpt, note=p.note, excerpts=())
                      for p in article.passages)
    old = replace(merged, sections=(Section("breaking-in", "Breaking into product", old_items),
                                    *merged.sections[1:]))
    assert len(old.items) == len(merged.items) + 2
    old = Issue.from_json(json.loads(dumps_json(old.to_json())))
    rendered = render_issue(config, old)
    assert rendered.html == render_issue(config, merged).html
    assert headline_urls(rendered.html).count(article.url) == 1


def _make_run_newsletter(tmp_path: Path) -> Path:
    """The shipped config.toml and curated/ as `make run` builds them with no network: every
    feed fails (here: a closed port on 127.0.0.1), the issue is the editor's excerpts."""
    root = tmp_path / "run"
    root.mkdir()
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    closed = f"http://127.0.0.1:{free_port()}/feed"
    text, feeds = re.subn(r'(?m)^url = "https?://[^"]*"', f'url = "{closed}"', text)
    assert feeds >= 5
    (root / "config.toml").write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "curated", root / "curated")
    shutil.copytree(ROOT / "sample", root / "sample")
    return root / "config.toml"


def _demo_newsletter(tmp_path: Path) -> Path:
    """examples/ as `make demo` builds it (its feeds are local files)."""
    for name in ("examples", "curated", "sample"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("var", "issues"))
    return tmp_path / "examples" / "config.toml"


def _check_structure(folder: Path) -> dict:
    issue = json.loads((folder / "issue.json").read_text(encoding="utf-8"))
    html = (folder / "email.html").read_text(encoding="utf-8")
    text = (folder / "email.txt").read_text(encoding="utf-8")
    items = [i for s in issue["sections"] for i in s["items"]]
    urls = [canonical_url(i["url"]) for i in items]
    assert len(urls) == len(set(urls))  # an article once per issue
    assert [canonical_url(u) for u in headline_urls(html)] == urls  # once as a headline
    shown = re.sub(r"\s+", " ", htmllib.unescape(html))
    for item in items:
        assert item["title"] in text
        for passage in item.get("excerpts") or [item]:  # every passage, under its headline
            assert " ".join(passage["excerpt"].split()[:6]) in shown
    # The preheader, then the invisible fill, so inbox previews end with it.
    assert re.search(r'<div class="preheader" style="[^"]*display:none[^"]*">[^<]+'
                     rf"(?:{re.escape(FILL)}){{20,}}</div>", html)
    return issue


def test_the_make_run_issue_shows_each_article_once(tmp_path, cli) -> None:
    config = _make_run_newsletter(tmp_path)
    result = cli("--config", config, "build", "--now", PINNED_NOW)
    assert result.exit_code == 0, result.output
    issue = _check_structure(config.parent / "issues" / PINNED_WEEK)
    journey = [i for s in issue["sections"] for i in s["items"] if i["url"] == JOURNEY]
    assert len(journey) == 1 and len(journey[0]["excerpts"]) == 7


def test_the_make_demo_issue_shows_each_article_once_and_stays_on_topic(tmp_path, cli) -> None:
    config = _demo_newsletter(tmp_path)
    result = cli("--config", config, "build", "--now", PINNED_NOW)
    assert result.exit_code == 0, result.output
    issue = _check_structure(config.parent / "issues" / PINNED_WEEK)
    feed_items = [i for s in issue["sections"] for i in s["items"] if i["kind"] == "feed"]
    assert feed_items  # the relevant feed items still come in…
    shown = " ".join(f"{i['title']} {i['source']} {i['excerpt']}" for i in feed_items).lower()
    # …and what `make demo` pulled in before [[sections]] exclude and [issue] min_score no
    # longer does: a search engine and its browser, cloud hosting, an outliner.
    for off_topic in ("kagi", "orion", "google cloud", "bigquery", "omnioutliner", "outliner"):
        assert off_topic not in shown, off_topic


def test_the_desk_shows_a_card_per_excerpt_file_of_one_article(tmp_path) -> None:
    # The editor's desk edits files: a merged article shows each of its excerpt files, with
    # its own note, so a note saved from the desk lands in its own file.
    from pipeline.web.desk.page import page_context

    news = make_newsletter(tmp_path / "news")
    config = news.config()
    context = page_context(config, NOW, PINNED_WEEK,
                           {"section": "", "source": "", "q": "", "status": ""})
    journey = [e for e in shipped(config) if e.url == JOURNEY]
    [section] = [s for s in context["issue_sections"] if s["id"] == "breaking-in"]
    cards = [c for c in section["cards"] if c["href"] == JOURNEY]
    assert [c["file"] for c in cards] == [e.path.name for e in journey]
    assert [c["note"] for c in cards] == [e.note for e in journey]
    assert [c["first"] for c in cards] == [True] + [False] * 6
    assert context["items"] == 5  # headlines
