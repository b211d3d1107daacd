"""Relevance and ranking: section keywords on word boundaries with weights, the "also" section,
score by relevance, recency and feed weight, per-source caps, de-dup across feeds and issues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import ConfigError
from pipeline.identity import history_keys
from pipeline.issue.assemble import ALSO_ID, classify, select_entries
from pipeline.models import Entry

from .conftest import make_newsletter

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SECTIONS = """
[[sections]]
id = "interviews"
title = "Interviews"
keywords = ["interview", "hiring manager^2", "product sense"]

[[sections]]
id = "market"
title = "Market"
keywords = ["salary^3", "layoffs", "pip"]
"""


def _config(tmp_path, extra: str = "", unmatched: str = "also"):
    news = make_newsletter(tmp_path / "news", curated=False, extra=extra)
    text = news.config_path.read_text()
    text = text[:text.index("[[sections]]")] + SECTIONS + text[text.index("[curated]"):]
    text = text.replace("max_per_source = 2", f'max_per_source = 2\nunmatched = "{unmatched}"')
    news.write_config(text)
    return news.config()


def entry(title: str, url: str, feed: str = "Feed", text: str = "", days_old: float = 1,
          guid: str | None = None, tags: tuple[str, ...] = ()) -> Entry:
    return Entry(feed_name=feed, guid=guid or url, url=url, title=title, excerpt=text,
                 published=NOW - timedelta(days=days_old), tags=tags, text=text)


def test_keywords_match_on_word_boundaries_with_weights(tmp_path):
    sections = _config(tmp_path).sections
    assert classify(entry("My pipeline is broken", "https://x.test/1"), sections) == (None, 0)
    assert classify(entry("Interviewing well", "https://x.test/2"), sections) == (None, 0)
    assert classify(entry("On the PIP", "https://x.test/3"), sections) == ("market", 3.0)
    # Title hits count three times, text hits once each (up to three repeats), times weight.
    assert classify(entry("Hiring Manager tips", "https://x.test/4",
                          text="the hiring\nmanager said"), sections) == ("interviews", 8.0)
    assert classify(entry("Notes", "https://x.test/5", text="salary salary salary salary"),
                    sections) == ("market", 9.0)
    assert classify(entry("Notes", "https://x.test/6", tags=("interview",)),
                    sections) == ("interviews", 1.0)


def test_invalid_keyword_weights_are_config_errors(tmp_path):
    news = make_newsletter(tmp_path / "news", curated=False)
    news.write_config(news.config_path.read_text().replace('"resume"]', '"resume^x"]'))
    with pytest.raises(ConfigError) as caught:
        news.config()
    assert any("keywords[2]" in p and "resume^x" in p for p in caught.value.problems)


def test_unmatched_items_go_to_also_or_are_dropped(tmp_path):
    items = [entry("An interview story", "https://x.test/a"),
             entry("Gardening in winter", "https://x.test/b")]
    chosen = select_entries(_config(tmp_path), items, NOW, set(), set(), 10)
    assert [(c.entry.url, c.section_id) for c in chosen] == [
        ("https://x.test/a", "interviews"), ("https://x.test/b", ALSO_ID)]
    dropped = select_entries(_config(tmp_path / "d", unmatched="drop"), items, NOW, set(),
                             set(), 10)
    assert [c.entry.url for c in dropped] == ["https://x.test/a"]


def test_score_from_relevance_recency_and_feed_weight(tmp_path):
    config = _config(tmp_path, extra='\n[[feeds]]\nname = "Heavy"\nurl = "https://h.test/f"\n'
                     'weight = 3.0\n\n[[feeds]]\nname = "Light"\nurl = "https://l.test/f"\n'
                     'weight = 0.2\n')
    items = [
        entry("Interview prep", "https://x.test/old", days_old=6),
        entry("Interview prep again", "https://x.test/new", days_old=0.5),
        entry("Salary and layoffs and the PIP", "https://x.test/relevant", days_old=6),
        entry("Interview notes", "https://l.test/light", feed="Light", days_old=0.5),
        entry("Interview notes too", "https://h.test/heavy", feed="Heavy", days_old=6),
        entry("Too old", "https://x.test/ancient", days_old=30),
        entry("From the future", "https://x.test/future", days_old=-2),
    ]
    order = [c.entry.url for c in select_entries(config, items, NOW, set(), set(), 10)]
    # x.test/old loses its place to the per-source cap (two per feed).
    assert order == ["https://h.test/heavy", "https://x.test/relevant", "https://x.test/new",
                     "https://l.test/light"]


def test_per_source_cap_and_dedup_across_feeds(tmp_path):
    config = _config(tmp_path)
    items = [
        entry("Interview one", "https://a.test/1", feed="A"),
        entry("Interview two", "https://a.test/2", feed="A"),
        entry("Interview three", "https://a.test/3", feed="A"),
        # The same article from another feed, with tracking and an AMP URL: skipped.
        entry("Interview one (syndicated)", "https://www.a.test/1/amp?utm_source=x", feed="B"),
        # A near-identical title on another URL: skipped.
        entry("How to ace the product sense interview", "https://b.test/x", feed="B"),
        entry("How to ace the product sense interview!", "https://c.test/y", feed="C"),
        # Two feeds, one GUID that names the article (a URL): one item.
        entry("Salary report", "https://d.test/s", feed="D", guid="https://origin.test/s"),
        entry("The salary report", "https://e.test/s", feed="E", guid="https://origin.test/s"),
        # Two feeds, one feed-local GUID ("42"): two different articles.
        entry("Layoffs tracker", "https://f.test/l", feed="F", guid="42"),
        entry("PIP survival", "https://g.test/p", feed="G", guid="42"),
    ]
    chosen = select_entries(config, items, NOW, set(), {"https://curated.test/x"}, 20)
    urls = sorted(c.entry.url for c in chosen)
    assert urls == ["https://a.test/1", "https://a.test/2", "https://b.test/x",
                    "https://d.test/s", "https://f.test/l", "https://g.test/p"]
    assert select_entries(config, items, NOW, set(), set(), 2).__len__() == 2
    # A feed item with the URL of a curated excerpt is left to the excerpt.
    curated = select_entries(config, [entry("Interview", "https://curated.test/x/")], NOW,
                             set(), {"https://curated.test/x"}, 5)
    assert curated == []
    # Nor one with the curated article's title under another URL (a syndicated copy).
    copy = entry("Ten interview questions every hiring manager asks", "https://mirror.test/q")
    assert select_entries(config, [copy], NOW, set(), set(), 5) != []
    assert select_entries(config, [copy], NOW, set(), set(), 5, taken_titles=[
        "Ten Interview Questions Every Hiring Manager Asks"]) == []


def test_nothing_published_in_an_earlier_issue_comes_back(tmp_path):
    config = _config(tmp_path)
    old = entry("Ten interview questions every hiring manager asks", "https://x.test/q")
    published = set(history_keys(old.url, old.guid, old.title))
    items = [
        entry("Ten interview questions", "http://x.test/q?utm_campaign=y", feed="Other"),
        entry("Ten interview questions every hiring manager asks!", "https://y.test/copy"),
        entry("Interview questions: ten every hiring manager asks", "https://z.test/re"),
        entry("A fresh interview story", "https://x.test/new"),
    ]
    chosen = select_entries(config, items, NOW, published, set(), 10)
    assert [c.entry.url for c in chosen] == ["https://x.test/new"]


def test_distinct_articles_sharing_a_guid_in_one_feed_both_count(tmp_path):
    from pipeline.feeds.parse import parse_document
    from pipeline.models import FetchResult

    from .conftest import FEEDS

    body = (FEEDS / "real" / "rss2_scripting-news_untitled-items.xml").read_bytes()
    entries = parse_document(FetchResult("Scripting", "u", "http://scripting.com/rss.xml", "ok",
                                         200, body), 60, NOW).entries
    same_link = [e for e in entries if e.url == "http://scripting.com/2017/06/25.html#a080631"]
    assert len(same_link) == 2 and same_link[0].guid != same_link[1].guid
    assert {e.excerpt[:20] for e in same_link} == {"Good morning Interne", "In 2015 I wrote that"}


def _item(title: str, n: int):
    from pipeline.models import Item

    return Item(id=f"c-{n}", kind="curated", title=title, url=f"https://x.test/{n}",
                source="S", author=None, published=None, excerpt="e", note=None)


def test_subject_and_preheader_name_each_article_once(tmp_path):
    from pipeline.issue.assemble import subject_and_preheader

    config = _config(tmp_path)
    journey = "The Journey to Becoming a Product Manager"
    items = [_item(journey, n) for n in range(4)] + [
        _item("How to Hire a Product Manager", 5), _item(journey, 6),
        _item("Product Manager vs. Product Owner", 7),
        _item("There are 3 levels to product work", 8), _item("A Layoff Guide", 9)]
    subject, preheader = subject_and_preheader(config, 12, items)
    assert subject == f"{journey} · Issue #12"  # the headline leads ([newsletter] subject)
    # Several excerpts of the lead article: the preheader names the other articles, once
    # each, as many whole titles as fit in 110 characters, then how many more there are.
    assert journey not in preheader
    assert preheader == ("Also inside: How to Hire a Product Manager; Product Manager vs. "
                         "Product Owner; and 2 more")
    assert 40 <= len(preheader) <= 110
    # One short other title: padded with the tagline so the inbox shows no body text.
    _, short = subject_and_preheader(config, 12, [_item(journey, 1), _item("Pay", 2)])
    assert short.startswith("Also inside: Pay. ") and 40 <= len(short) <= 110
    # Only excerpts of one article: the issue and what the newsletter is about.
    _, alone = subject_and_preheader(config, 12, [_item(journey, 1), _item(journey, 2)])
    assert alone.startswith("Issue #12 of PM Career Digest: ") and 40 <= len(alone) <= 110


def test_curated_excerpts_fill_at_most_max_items_the_rest_wait(tmp_path):
    from dataclasses import replace

    from pipeline.curation.excerpts import load_excerpts
    from pipeline.issue.articles import group_by_article
    from pipeline.issue.assemble import assemble

    from .conftest import ROOT

    news = make_newsletter(tmp_path / "news", max_items=4)
    config = news.config()
    excerpts = load_excerpts(ROOT / "curated", {s.id for s in config.sections})
    # max_items counts articles (headlines): all the excerpts of one article go in together.
    articles = group_by_article(excerpts)
    assert len(articles) > 4 and len(articles[0]) > 1
    # The last one in the editor's order is pinned to this week: it has no later issue.
    excerpts[-1] = replace(excerpts[-1], week="2026-W48")
    issue = assemble(config, "2026-W48", 1, NOW, excerpts, [], set())
    expected = [*articles[:3], articles[-1]]
    assert {item.id for item in issue.items} == {f"c-{a[0].slug}" for a in expected}
    assert {p.id for item in issue.items for p in item.passages} == \
        {f"c-{e.slug}" for a in expected for e in a}
    # The next week's issue takes the ones that waited, in the editor's order.
    published = {f"curated:{p.id.removeprefix('c-')}" for item in issue.items
                 for p in item.passages}
    later = assemble(config, "2026-W49", 2, NOW + timedelta(days=7), excerpts, [], published)
    assert {item.id for item in later.items} == {f"c-{a[0].slug}" for a in articles[3:-1]}
