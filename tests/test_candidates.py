"""The editor's view of a week (issue 15), pure: the build's own ranking with a verdict per entry,
one row per article with its copies merged, the reasons, the short ids; the vetoes file; the
excerpt edits that keep the editor's formatting."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.curation import drops
from pipeline.curation.edit import set_fields
from pipeline.curation.excerpts import parse_excerpt, write_excerpt
from pipeline.errors import CuratedError
from pipeline.identity import history_keys, short_id
from pipeline.issue.assemble import Verdict, assemble, rank_entries, select_entries
from pipeline.issue.candidates import filter_rows, review
from pipeline.jobs.edits import quote_text
from pipeline.models import CuratedExcerpt, Entry

from .conftest import make_newsletter

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
WEEK = "2026-W48"


def entry(title: str, url: str, feed: str = "Feed", text: str = "", days_old: float = 1,
          guid: str | None = None) -> Entry:
    return Entry(feed_name=feed, guid=guid or url, url=url, title=title, excerpt=text or title,
                 published=NOW - timedelta(days=days_old), text=text)


def excerpt(tmp_path, url: str, title: str, week: str | None = WEEK) -> CuratedExcerpt:
    return CuratedExcerpt(path=tmp_path / "x.md", slug="x", title=title, url=url, source="S",
                          section="craft", added=NOW - timedelta(days=3), excerpt="quoted",
                          week=week)


@pytest.fixture
def config(tmp_path):
    news = make_newsletter(tmp_path / "news", curated=False, lookback_days=7)
    text = news.config_path.read_text().replace("max_items = 12", "max_items = 4")
    news.write_config(text)
    return news.config()


ENTRIES = [
    entry("Interview loops that work", "https://a.test/1", feed="A", text="hiring interview"),
    entry("Interview notes two", "https://a.test/2", feed="A", text="interview"),
    entry("Interview notes three", "https://a.test/3", feed="A", text="interview"),
    entry("Salary bands this year", "https://b.test/salary", feed="B", text="salary layoffs"),
    # The same article in another feed under a variant of its URL.
    entry("Salary bands this year", "https://www.b.test/salary/?utm_source=c", feed="C",
          days_old=1.5),
    entry("A roadmap habit", "https://c.test/roadmap", feed="C", text="roadmap discovery"),
    entry("Gardening", "https://d.test/garden", feed="D", days_old=2),
    entry("An old one", "https://d.test/old", feed="D", days_old=90),
]


def test_ranking_with_verdicts_chooses_what_the_build_chooses(config):
    published = set(history_keys("https://c.test/roadmap", None, "A roadmap habit"))
    ranked = rank_entries(config, ENTRIES, NOW, published, set(), 3, explain=True)
    chosen = select_entries(config, ENTRIES, NOW, published, set(), 3)
    assert [r.candidate for r in ranked if r.verdict is Verdict.CHOSEN] == chosen
    verdicts = {r.candidate.entry.url: r.verdict for r in ranked}
    assert "https://d.test/old" not in verdicts  # outside the lookback window
    assert verdicts["https://c.test/roadmap"] is Verdict.PUBLISHED
    assert verdicts["https://www.b.test/salary/?utm_source=c"] is Verdict.DUPLICATE
    assert verdicts["https://a.test/3"] is Verdict.SOURCE_CAP  # two per feed
    assert Verdict.NO_ROOM in verdicts.values()
    # Without `explain` the ranking stops at the cut: the same choice, fewer judged.
    assert len(rank_entries(config, ENTRIES, NOW, published, set(), 3)) < len(ranked)


def test_a_veto_holds_under_every_url_variant_and_for_excerpts(config, tmp_path):
    vetoed = frozenset({"https://b.test/salary"})  # canonical
    issue = assemble(config, WEEK, 1, NOW, [], ENTRIES, set(), dropped=vetoed)
    assert not [i for i in issue.items if "salary" in i.url]
    ranked = rank_entries(config, ENTRIES, NOW, set(), set(), 10, dropped=vetoed, explain=True)
    assert {r.candidate.entry.url for r in ranked if r.verdict is Verdict.DROPPED} == {
        "https://b.test/salary", "https://www.b.test/salary/?utm_source=c"}
    # An excerpt of a vetoed article (amp. host, tracking) stays out too.
    pick = excerpt(tmp_path, "https://amp.b.test/salary?utm_campaign=x", "Salary bands")
    issue = assemble(config, WEEK, 1, NOW, [pick], ENTRIES, set(), dropped=vetoed)
    assert all("salary" not in i.url for i in issue.items)
    assert assemble(config, WEEK, 1, NOW, [pick], [], set()).items[0].kind == "curated"


def test_rows_merge_copies_and_say_why(config, tmp_path):
    pick = excerpt(tmp_path, "https://a.test/2", "Interview notes two")
    result = review(config, WEEK, 1, NOW, [pick], ENTRIES, set(),
                    {"https://d.test/garden": "off topic"})
    rows = {row.entry.url: row for row in result.rows}
    salary = rows["https://b.test/salary"]
    assert [c.source for c in salary.copies] == ["C"]
    assert "https://www.b.test/salary/?utm_source=c" not in rows  # merged, not listed twice
    assert salary.urls == ("https://b.test/salary", "https://www.b.test/salary/?utm_source=c")
    assert salary.section == "market" and set(salary.keywords) == {"salary", "layoffs"}
    assert rows["https://a.test/1"].keywords == ("interview", "hiring")  # title first
    assert rows["https://a.test/2"].status == "picked"
    assert rows["https://d.test/garden"].status == "dropped"
    assert rows["https://d.test/garden"].reason == "off topic"
    out = [row for row in result.rows if row.status == "out"]
    assert out and all(row.reason for row in out)
    # The rows agree with the draft: in_draft exactly for the draft's articles.
    draft = {i.url for i in result.issue.items}
    assert {row.entry.url for row in result.rows if row.in_draft} == draft
    assert [row.rank for row in result.rows] == list(range(1, len(result.rows) + 1))
    scores = [row.score for row in result.rows]
    assert scores == sorted(scores, reverse=True)
    row_json = salary.to_json()
    assert row_json["id"] == short_id("https://b.test/salary")
    assert row_json["duplicates"] == [{"source": "C",
                                       "url": "https://www.b.test/salary/?utm_source=c"}]
    assert filter_rows(result.rows, section="market") == (salary,)
    assert filter_rows(result.rows, source="C") == tuple(
        r for r in result.rows if r.entry.feed_name == "C" or r.copies)
    assert [r.entry.url for r in filter_rows(result.rows, query="LOOPS work")] == [
        "https://a.test/1"]


def test_short_ids_are_stable_per_article():
    one = short_id("https://b.test/salary")
    assert re.fullmatch(r"[a-z2-7]{8}", one)
    assert short_id("http://www.b.test/salary/?utm_source=x#top") == one
    assert short_id("https://b.test/salary?page=2") != one


def test_the_drops_file_is_one_canonical_url_per_line(tmp_path):
    folder = tmp_path / "curated"
    path = drops.drops_path(folder, WEEK)
    assert drops.load_drops(folder, WEEK).urls == frozenset()
    drops.add_drops(folder, WEEK, ["https://www.b.test/salary/?utm_source=x"], "off\ntopic\x1b")
    after = drops.add_drops(folder, WEEK, ["https://d.test/garden", "http://b.test/salary"], None)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#")
    assert lines[1:] == ["https://b.test/salary  # off topic", "https://d.test/garden"]
    assert "https://amp.b.test/salary" in after and after.reasons["https://b.test/salary"]
    # The editor's own comments and lines survive the commands' edits.
    path.write_text(path.read_text() + "# kept by hand\nhttps://e.test/x  # mine\n")
    after = drops.remove_drops(folder, WEEK, ["https://b.test/salary/"])
    assert path.read_text().splitlines()[1:] == [
        "https://d.test/garden", "# kept by hand", "https://e.test/x  # mine"]
    assert after.urls == {"https://d.test/garden", "https://e.test/x"}


def test_a_bad_drops_line_names_the_file_and_line(tmp_path):
    folder = tmp_path / "curated"
    path = drops.drops_path(folder, WEEK)
    path.parent.mkdir(parents=True)
    path.write_text("# fine\nhttps://ok.test/a\nnot a url\nhttps://ok.test/b trailing words\n")
    with pytest.raises(CuratedError) as caught:
        drops.load_drops(folder, WEEK)
    assert f"{path}:3:" in caught.value.message and f"{path}:4:" in caught.value.message


def test_excerpt_edits_change_only_their_lines(tmp_path):
    folder = tmp_path / "curated"
    folder.mkdir()
    path = folder / "hand.md"
    path.write_text('+++\n# my own comment\ntitle = "T"\nurl = "https://e.test/x"\n'
                    'source = "S"\nsection = "craft"\nnote = """two\nlines"""\n'
                    'added = 2026-11-20T09:00:00Z\n+++\n> Quoted *passage*.\n')
    before = path.read_text().splitlines()
    edited = set_fields(path, {"craft", "market"}, {"note": "One line", "order": 3})
    after = path.read_text().splitlines()
    assert edited.note == "One line" and edited.order == 3
    assert after[:6] == before[:6] and after[-2:] == before[-2:]
    assert 'note = "One line"' in after and "order = 3" in after and "lines\"\"\"" not in after
    set_fields(path, {"craft", "market"}, {"note": ""})  # an empty note removes it
    assert parse_excerpt(path, {"craft"}).note is None
    with pytest.raises(CuratedError):
        set_fields(path, {"craft"}, {"section": "nope"})
    assert parse_excerpt(path, {"craft"}).section == "craft"  # the refused change is undone


def test_a_feed_text_is_quoted_as_itself(tmp_path):
    folder = tmp_path / "curated"
    for text in ("AT&T said *this* and _that_ [x](y) `code` \\ # hash",
                 "1. not a list", "- nor this", "&amp; stays literal", "a | b ~~c~~ !d"):
        path = write_excerpt(folder, {"craft"}, title="T", url="https://e.test/q",
                             source="S", section="craft", quote=quote_text(text), added=NOW,
                             week=WEEK, order=2)
        read = parse_excerpt(path, {"craft"})
        assert (read.excerpt, read.week, read.order) == (text, WEEK, 2)
