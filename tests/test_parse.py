"""The parse stage over every fixture feed: real ones yield clean entries, broken ones yield
what is recoverable or a reason; dates, GUIDs, links, bodies and images."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from pipeline.errors import ParseError
from pipeline.feeds.dates import parse_date, plausible
from pipeline.feeds.parse import parse_document
from pipeline.models import FetchResult

from .conftest import FEEDS

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
FEED_URL = "https://feeds.example.com/path/feed.xml"
REAL = sorted(p.name for p in (FEEDS / "real").iterdir())
BROKEN = sorted(p.name for p in (FEEDS / "broken").iterdir())
# Active content: script/iframe elements, event-handler attributes, javascript: URLs (prose
# such as "Best Practices in JavaScript: …" is not a URL: a URL has no space after the colon).
ACTIVE = re.compile(r"<script|<iframe|<[^>]*\son[a-z]+\s*=|javascript:(?!\s)", re.I)


def _result(body: bytes, name: str = "Feed", url: str = FEED_URL,
            headers: dict[str, str] | None = None) -> FetchResult:
    return FetchResult(name, url, url, "ok", 200, body, headers or {})


def parse(name: str, folder: str = "real", **kwargs):
    return parse_document(_result((FEEDS / folder / name).read_bytes(), name, **kwargs), 60, NOW)


def test_every_real_fixture_is_covered():
    assert len(REAL) == 24 and len(BROKEN) == 15


@pytest.mark.parametrize("name", REAL)
def test_real_feeds_yield_clean_entries(name):
    parsed = parse(name)
    assert parsed.entries, parsed.summary()
    for entry in parsed.entries:
        assert re.match(r"^https?://[^/\s]+", entry.url), entry.url
        assert entry.title.strip() and entry.title == " ".join(entry.title.split())
        assert "<" not in entry.excerpt or not re.search(r"</?[a-z][^>]*>", entry.excerpt)
        assert not ACTIVE.search(entry.content_html), entry.content_html[:200]
        assert not ACTIVE.search(entry.excerpt + entry.title)
        assert entry.image is None or entry.image.startswith("https://")
        assert len(entry.excerpt.split()) <= 60
        assert entry.published is None or entry.published <= NOW
    guids = [e.guid for e in parsed.entries]
    assert len(guids) == len(set(guids)), "GUIDs are unique inside a feed"


# What each broken fixture gives: a number of entries, or the start of the reason.
BROKEN_OUTCOMES = {
    "atom-inside-xhtml-doctype_avian.xml": 10,
    "bogus-phpxml-declaration_fcutrecht.xml": 20,
    "control-characters_code-arcana.xml": 40,
    "double-xml-decl_unquoted-attr_dylanharris.xml": 35,  # repaired (feedrepair.py)
    "empty-document_feedparser-suite.xml": "not a feed: no element found",
    "hostile-crazy-html_feedparser-suite.xml": 1,  # no link: it points to the feed's site
    "hostile-onerror-attrs_workingsoftware-ghost.xml": 15,
    "html-homepage-not-feed_inessential.html": "not a feed: HTML page",
    "illegally-nested-items_pcmag.xml": 10,
    "long-titles-282-chars_reddit-home.rss": 24,
    "missing-dates_gatsby-starter.xml": 17,
    "script-after-root_cloudflare-email-obfuscation_kroy.xml": 10,
    "two-guid-elements-in-item_braingle.xml": 1,
    "unclosed-link-tag_oscard0m.xml": 15,
    "undefined-entity-nbsp_db-engines.xml": 1,
}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_feeds_yield_what_is_recoverable_or_a_reason(name):
    expected = BROKEN_OUTCOMES[name]
    if isinstance(expected, str):
        with pytest.raises(ParseError) as caught:
            parse(name, "broken")
        assert caught.value.message.startswith(expected)
        return
    parsed = parse(name, "broken")
    assert len(parsed.entries) == expected, parsed.summary()
    for entry in parsed.entries:
        assert not ACTIVE.search(entry.content_html + entry.excerpt + entry.title)
    if name.startswith("hostile-crazy-html"):
        [entry] = parsed.entries
        assert entry.url == "https://feeds.example.com/"
        assert entry.title == "Did The Javascript Execute?"


def test_html_page_names_the_feed_it_links_to():
    with pytest.raises(ParseError) as caught:
        parse("html-homepage-not-feed_inessential.html", "broken")
    assert caught.value.message == ("not a feed: HTML page (it names its feed: "
                                    "http://inessential.com/xml/rss.xml)")


def test_empty_documents_are_rejected():
    with pytest.raises(ParseError, match="not a feed: empty body"):
        parse_document(_result(b"  \r\n"), now=NOW)
    with pytest.raises(ParseError, match="invalid JSON"):
        parse_document(_result(b'{"version": "https://jsonfeed.org/version/1", "items": ['),
                       now=NOW)


def test_truncated_documents_keep_their_complete_items():
    """A download cut part-way keeps the items complete before the cut (and only those)."""
    whole = (FEEDS / "real" / "rss2_kagi-blog_summary-only.xml").read_bytes()
    cut = whole[: len(whole) // 2]
    complete = cut.count(b"</item>")
    parsed = parse_document(_result(cut), now=NOW)
    assert len(parsed.entries) == complete > 5
    assert parsed.warning.startswith("malformed XML repaired: truncated: kept the complete items")
    assert [e.url for e in parsed.entries] == [e.url for e in parse_document(
        _result(whole), now=NOW).entries][:complete]
    atom = (FEEDS / "real" / "atom_kottke_60-entries.xml").read_bytes()
    parsed = parse_document(_result(atom[:-4000]), now=NOW)
    assert len(parsed.entries) == atom[:-4000].count(b"</entry>") > 50
    # Cut before the first item ends: nothing to keep, and the reason says why.
    with pytest.raises(ParseError, match="not a feed: truncated document"):
        parse_document(_result(whole[: whole.index(b"</item>")]), now=NOW)


def test_malformed_but_readable_feeds_say_so():
    parsed = parse("undefined-entity-nbsp_db-engines.xml", "broken")
    assert parsed.warning == "malformed XML read leniently (undefined entity at line 9)"


def test_json_feed_versions():
    one = parse("jsonfeed10_inessential.json").entries
    eleven = parse("jsonfeed11_3960-journal.json").entries
    assert len(one) == 20 and len(eleven) == 20
    assert eleven[0].title == "Lecker, lecker"
    assert eleven[0].author and eleven[0].tags
    assert one[0].published == datetime(2017, 6, 3, 5, 5, 47, tzinfo=UTC)


def test_dates_feedparser_misreads_are_read_right():
    kc = parse("rss2_gb2312_kc0011.xml").entries[0]
    assert kc.published == datetime(2020, 1, 10, 14, 33, tzinfo=UTC)  # not 1 Nov 2020
    assert kc.title == "建国35周年纪念，华表，和平鸽"  # gb2312 decoded
    nbc = parse("rss2_nbc-newyork_nonstandard-pubdate.xml").entries[0]
    assert nbc.published == datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)  # PM kept
    assert parse_date("Sat, 16 Dec 2023 12:05:00 AM -0500") == datetime(
        2023, 12, 16, 5, 5, tzinfo=UTC)
    assert parse_date("2020/13/40 10:00") is None


def test_implausible_dates_are_dropped_and_missing_ones_flagged():
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
    <link>https://example.com/</link>
    <item><title>From the future</title><link>https://example.com/a</link>
      <pubDate>Mon, 01 Jan 2035 00:00:00 GMT</pubDate></item>
    <item><title>From the epoch</title><link>https://example.com/b</link>
      <pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate></item>
    <item><title>A few hours ahead</title><link>https://example.com/c</link>
      <pubDate>Thu, 26 Nov 2026 20:00:00 GMT</pubDate></item>
    <item><title>No date</title><link>https://example.com/d</link></item>
    </channel></rss>"""
    entries = {e.title: e for e in parse_document(_result(feed), now=NOW).entries}
    assert entries["From the future"].published is None
    assert not entries["From the future"].dated
    assert entries["From the epoch"].published is None
    assert entries["A few hours ahead"].published == NOW  # a time-zone slip, clamped
    assert entries["No date"].published is None and not entries["No date"].dated
    missing = parse("missing-dates_gatsby-starter.xml", "broken").entries
    assert sum(not e.dated for e in missing) == 7
    assert plausible(datetime(1994, 12, 31, tzinfo=UTC), NOW) is None


def test_relative_links_resolve_against_final_url_and_xml_base():
    feed = b"""<rss version="2.0"><channel><title>T</title><link>/</link>
    <item><title>Relative</title><link>/posts/relative?utm_source=rss&amp;id=3</link>
    <description>&lt;p&gt;See &lt;a href="../other"&gt;this&lt;/a&gt; and
    &lt;img src="img/pic.png" alt="x"&gt;&lt;/p&gt;</description></item>
    </channel></rss>"""
    [entry] = parse_document(_result(feed), now=NOW).entries
    assert entry.url == "https://feeds.example.com/posts/relative?id=3"
    assert 'href="https://feeds.example.com/other"' in entry.content_html
    assert 'src="https://feeds.example.com/path/img/pic.png"' in entry.content_html

    [numist] = parse("atom_numist_xml-base-on-content.xml").entries
    assert 'src="https://numi.st/post/2022/travel-uke/IMG_1232.jpeg"' in numist.content_html
    insanity = parse("rss2_insanity-industries_item-xml-base.xml").entries
    assert all(e.url.startswith("https://insanity.industries/post/") for e in insanity)
    # A placeholder body ("...") loses to the real summary.
    assert insanity[0].excerpt.startswith("Everyone wants good compression.")


def test_untitled_items_get_a_title_from_their_text():
    entries = parse("rss2_scripting-news_untitled-items.xml").entries
    assert len(entries) == 50  # two GUIDs used twice: four distinct articles, all kept
    assert len({e.guid for e in entries}) == 50
    by_text = {e.excerpt: e for e in entries}
    assert by_text["Good morning Internet guzzlers! 🍺"].title == "Good morning Internet guzzlers!"
    assert all(len(e.title.split()) <= 13 for e in entries)


def test_item_without_a_link_points_to_its_own_site():
    entries = parse("rss2_arewe-anticheat_1046-items.xml").entries
    assert len(entries) > 1000
    paladins = next(e for e in entries if e.title == "Paladins")
    assert paladins.url == "https://areweanticheatyet.com/game/paladins"
    assert entries[0].url == "https://areweanticheatyet.com/"  # no link in the item at all


def test_job_titles_in_atom_authors_are_not_item_titles():
    entries = parse("rss2_google-cloud-blog_atom-authors.xml").entries
    titles = {e.title for e in entries}
    assert "Want to keep your employees productive? Pay attention to shadow IT clues" in titles
    assert not any(t.startswith(("Product Manager", "Engineering Director")) for t in titles)
    assert entries[0].author == "Diane Chaleff"
    assert entries[0].image == ("https://storage.googleapis.com/gweb-cloudblog-publish/images/"
                                "shadow_IT.max-600x600.png")


def test_google_alerts_titles_and_links_are_clean():
    entry = parse("atom_google-alerts_slack.xml").entries[1]
    assert entry.title == "Slack Stock Has a Compelling Story and the Numbers to Back It Up"
    assert entry.url == "https://investorplace.com/2019/07/slack-stock-truly-compelling/"


def test_medium_tracking_is_removed():
    for name in ("rss2_medium-tag-feed_content-encoded.xml", "rss2_medium-user-feed.xml"):
        for entry in parse(name).entries:
            assert "source=rss" not in entry.url
            assert "/_/stat?" not in entry.content_html
            assert 'width="1"' not in entry.content_html


def test_hostile_markup_is_sanitised():
    entries = parse("hostile-onerror-attrs_workingsoftware-ghost.xml", "broken").entries
    raw = (FEEDS / "broken" / "hostile-onerror-attrs_workingsoftware-ghost.xml").read_text()
    assert "onerror" in raw
    assert all("onerror" not in e.content_html for e in entries)
    peterme = parse("rss2_peterme_wordpress_iframes.xml").entries
    assert all("<iframe" not in e.content_html for e in peterme)
    feed = b"""<rss version="2.0"><channel><title>T</title><item><title>x</title>
    <link>javascript:alert(1)</link><guid>https://example.com/h</guid>
    <description>&lt;p onclick="x()"&gt;Hi &lt;a href="javascript:alert(1)"&gt;there&lt;/a&gt;
    &lt;script&gt;alert(1)&lt;/script&gt; &amp;lt;script&amp;gt;alert(2)&amp;lt;/script&amp;gt;
    &lt;/p&gt;</description></item></channel></rss>"""
    [entry] = parse_document(_result(feed), now=NOW).entries
    assert entry.url == "https://example.com/h"  # the javascript: link is never used
    assert not ACTIVE.search(entry.content_html + entry.excerpt)
    assert "alert" not in entry.excerpt


def test_media_caption_is_never_the_body():
    feed = b"""<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
    <title>NYT</title><item><title>Story</title><link>https://www.nytimes.com/s.html</link>
    <description>The summary of the story.</description>
    <media:content url="https://static01.nyt.com/images/photo.jpg" medium="image"/>
    <media:description>A man walks past a building on Tuesday.</media:description>
    <media:credit>Photographer</media:credit>
    </item></channel></rss>"""
    [entry] = parse_document(_result(feed), now=NOW).entries
    assert entry.excerpt == "The summary of the story."
    assert entry.image == "https://static01.nyt.com/images/photo.jpg"


def test_body_is_preferred_to_summary_and_lead_image_must_be_https():
    feed = b"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
    xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T</title>
    <item><title>A</title><link>https://example.com/a</link>
    <description>Short teaser.</description>
    <content:encoded>&lt;p&gt;The whole article body, which is longer than the teaser.&lt;/p&gt;
    </content:encoded><media:thumbnail url="http://example.com/insecure.jpg"/></item>
    </channel></rss>"""
    [entry] = parse_document(_result(feed), now=NOW).entries
    assert entry.excerpt == "The whole article body, which is longer than the teaser."
    assert entry.image is None


def test_long_titles_are_clipped_at_a_word():
    entries = parse("long-titles-282-chars_reddit-home.rss", "broken").entries
    longest = max(entries, key=lambda e: len(e.title))
    assert len(longest.title) <= 200 and longest.title.endswith("…")


def test_wrong_content_type_still_parses():
    parsed = parse("rss2_iso-8859-1_jornal-de-noticias.xml",
                   headers={"content-type": "text/html; charset=utf-8"})
    assert parsed.entries[0].title == "Mãe de utente é a nova presidente da Raríssimas"


def test_escaped_markup_never_reaches_plain_text():
    """`&lt;script` without a closing `>` in the body, markup in a plain-text title: the
    excerpt and the title are plain text with no tag left in them."""
    feed = b"""<rss version="2.0"><channel><title>T</title><item>
    <title>Why &lt;script src=x is bad</title><link>https://example.com/a</link>
    <description>&lt;p&gt;Salary &amp;amp; equity &amp;lt;script src=x onload=y&lt;/p&gt;
    </description></item></channel></rss>"""
    [entry] = parse_document(_result(feed), now=NOW).entries
    assert entry.title == "Why"
    assert entry.excerpt == "Salary & equity"


def test_author_names_are_plain_text_and_json_arrays_are_arrays():
    feed = b"""<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
    <title>T</title><item><title>A</title><link>https://example.com/a</link>
    <dc:creator>&lt;b&gt;Jane&lt;/b&gt; &amp;amp; &lt;script&gt;x&lt;/script&gt;Joe</dc:creator>
    <description>x</description></item></channel></rss>"""
    [entry] = parse_document(_result(feed), now=NOW).entries
    assert entry.author == "Jane & Joe"
    json_feed = (b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", '
                 b'"url": "https://example.com/j", "title": "T", "content_text": "x", '
                 b'"authors": [{"name": "Ann &amp; <i>Bo</i>"}], "tags": "pm"}]}')
    [item] = parse_document(_result(json_feed), now=NOW).entries
    assert item.author == "Ann & Bo"
    assert item.tags == ()  # "pm" is not an array: not the tags "p" and "m"


def test_feeds_cannot_spell_the_per_reader_placeholders():
    # `%%EMAIL%%` in a link would be filled in with each reader's address when sending, and
    # sent to the feed's site on a click; in the text it would show up as the reader's.
    from pipeline.issue.render import TOKENS

    feed = b"""<rss version="2.0"><channel><title>T</title><item>
    <title>Win %%GREETING%% prizes</title>
    <link>https://evil.example/?u=%%UNSUBSCRIBE_URL%%&amp;e=%%EMAIL%%</link>
    <author>%%EMAIL%%</author>
    <description>Hello %%EMAIL%%, 100%% sure.</description></item></channel></rss>"""
    [entry] = parse_document(_result(feed), now=NOW).entries
    for value in (entry.title, entry.url, entry.excerpt, entry.author or ""):
        assert "%%" not in value and not any(t in value for t in TOKENS.values()), value
    assert entry.excerpt == "Hello %EMAIL%, 100% sure."
    assert entry.url == "https://evil.example/?u=%25%25UNSUBSCRIBE_URL%25%25&e=%25%25EMAIL%25%25"
