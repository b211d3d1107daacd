"""Relevance the editor controls (issue 13, item 11): `[[sections]] exclude` keeps an item out
of a section, `[issue] min_score` makes a weak match no match; `digest curate add URL` keeps
the page's canonical URL."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import ConfigError
from pipeline.issue.assemble import ALSO_ID, classify, select_entries
from pipeline.models import Entry

from .conftest import PINNED_NOW, make_newsletter

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SECTIONS = """
[[sections]]
id = "craft"
title = "The craft"
keywords = ["search", "feature", "roadmap"]
exclude = ["search engine", "Kagi"]

[[sections]]
id = "growth"
title = "Growth"
keywords = ["team", "career"]
"""


def _config(tmp_path, issue: str = ""):
    news = make_newsletter(tmp_path / "news", curated=False)
    text = news.config_path.read_text()
    text = text[:text.index("[[sections]]")] + SECTIONS + text[text.index("[curated]"):]
    text = text.replace("max_per_source = 2", f"max_per_source = 5\n{issue}")
    news.write_config(text)
    return news.config()


def entry(title: str, text: str = "", tags: tuple[str, ...] = (), n: int = 0) -> Entry:
    url = f"https://blog.example.com/{n}"
    return Entry(feed_name="Blog", guid=url, url=url, title=title, excerpt=text,
                 published=NOW - timedelta(days=1), tags=tags, text=text)


def test_an_exclude_word_keeps_an_item_out_of_its_section(tmp_path) -> None:
    sections = _config(tmp_path).sections
    assert classify(entry("Search the roadmap"), sections) == ("craft", 6.0)
    # In the title, the text or the tags, on word boundaries and in any case.
    assert classify(entry("Kagi search features"), sections) == (None, 0.0)
    assert classify(entry("Search features", "A new search engine."), sections) == (None, 0.0)
    assert classify(entry("Search features", tags=("KAGI",)), sections) == (None, 0.0)
    assert classify(entry("Search features", "Kagihana is not Kagi-less"), sections)[0] \
        is None  # "Kagi-less" holds the word Kagi
    assert classify(entry("Search features", "Kagihana"), sections)[0] == "craft"
    # Only that section: the item may still belong to another one.
    assert classify(entry("Kagi search team career notes"), sections) == ("growth", 6.0)


def test_min_score_makes_a_weak_match_no_match(tmp_path) -> None:
    strong = entry("Roadmap features", "A roadmap.", n=1)  # 3 + 3 + 1 = 7
    weak = entry("Notes from the week", "One feature.", n=2)  # 1
    unmatched = entry("Gardening", n=3)
    for issue, expected in (
            ("", {1: "craft", 2: "craft", 3: ALSO_ID}),
            ("min_score = 4", {1: "craft", 2: ALSO_ID, 3: ALSO_ID}),
            ('min_score = 4\nunmatched = "drop"', {1: "craft"}),
            ("min_score = 8", {1: ALSO_ID, 2: ALSO_ID, 3: ALSO_ID})):
        config = _config(tmp_path / issue.replace(" ", "").replace("\n", "-")[:20], issue)
        chosen = select_entries(config, [strong, weak, unmatched], NOW, set(), set(), 10)
        got = {int(c.entry.url.rsplit("/", 1)[1]): c.section_id for c in chosen}
        assert got == expected, issue
    # A weak match ranks with the unmatched (below every real match).
    config = _config(tmp_path / "rank", "min_score = 4")
    chosen = select_entries(config, [weak, strong], NOW, set(), set(), 10)
    assert [c.entry.url for c in chosen][0] == strong.url


@pytest.mark.parametrize(("issue", "key"), [
    ("min_score = -1", "issue.min_score"),
    ('min_score = "high"', "issue.min_score"),
])
def test_bad_min_score_is_a_config_error(tmp_path, issue: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _config(tmp_path, issue)
    assert any(f": {key}:" in p for p in raised.value.problems), raised.value.problems


def test_an_empty_exclude_word_is_a_config_error(tmp_path) -> None:
    news = make_newsletter(tmp_path / "news", curated=False)
    news.write_config(news.config_path.read_text().replace(
        'keywords = ["roadmap", "discovery", "design", "product", "search"]',
        'keywords = ["roadmap"]\nexclude = ["browser", " "]'))
    with pytest.raises(ConfigError) as raised:
        news.config()
    assert any("sections[2].exclude[1]: must not be empty" in p for p in raised.value.problems)


PAGE = """<!doctype html><html><head>
<meta property="og:title" content="How to land your first PM job">
<meta property="og:description" content="Aspiring product managers: pick three companies.">
{canonical}
</head><body></body></html>"""


@pytest.mark.parametrize(("canonical", "expected"), [
    ('<link rel="canonical" href="/articles/first-pm-job">', "/articles/first-pm-job"),
    ('<link rel="Canonical Alternate" href="https://other.example/first-pm-job?utm_medium=x">'
     '<meta property="og:url" content="https://og.example/ignored">',
     "https://other.example/first-pm-job"),
    ('<meta property="og:url" content="https://og.example/first-pm-job">',
     "https://og.example/first-pm-job"),
    ('<link rel="canonical" href="/">', None),  # a site's home page: misconfigured
    ('<link rel="canonical" href="javascript:alert(1)">', None),
    ("", None),
])
def test_curate_add_keeps_the_pages_canonical_url(tmp_path, http_server, cli, canonical: str,
                                                  expected: str | None) -> None:
    news = make_newsletter(tmp_path / "news", curated=False)
    url = http_server.serve_bytes("/amp/first-pm-job", PAGE.format(
        canonical=canonical).encode(), "text/html")
    result = cli("--config", news.config_path, "curate", "add", url + "?utm_source=feed",
                 "--now", PINNED_NOW)
    assert result.exit_code == 0, result.output
    [path] = (news.root / "curated").glob("*.md")
    meta = tomllib.loads(path.read_text(encoding="utf-8").split("+++")[1])
    if expected is None:
        assert meta["url"] == url  # the address given, without its tracking parameter
    elif expected.startswith("/"):
        assert meta["url"] == http_server.url(expected)
    else:
        assert meta["url"] == expected
