"""`digest curate add URL`: without --title the page is fetched from a local server and its
meta tags fill the excerpt file; the file is in the curated/README.md format."""

from __future__ import annotations

import tomllib

from pipeline.curation.excerpts import load_excerpts

from .conftest import PINNED_NOW, make_newsletter

PAGE = """<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Fallback title | Example</title>
<meta property="og:title" content="How to Land Your First PM Job &amp; Keep It">
<meta property="og:description" content="Most aspiring product managers apply everywhere.
  The ones who land a first PM job pick three companies and study them.">
<meta property="og:image" content="/images/cover.jpg">
<meta property="og:site_name" content="Product Careers Weekly">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2026-11-20T09:00:00Z">
<script>document.write("<meta name='description' content='injected'>")</script>
</head><body><p>Article body</p></body></html>"""


def _news(tmp_path):
    return make_newsletter(tmp_path / "news", curated=False)


def test_add_reads_title_description_and_image_from_the_page(tmp_path, http_server, cli):
    news = _news(tmp_path)
    url = http_server.serve_bytes("/article", PAGE.encode(), "text/html")
    # Served over https in production; the local server is http, so the image is made
    # absolute against http and dropped (only https images are kept).
    result = cli("--config", news.config_path, "curate", "add", url + "?utm_source=x",
                 "--note", "Focus beats volume.", "--now", PINNED_NOW)
    assert result.exit_code == 0, result.output
    [path] = sorted((news.root / "curated").glob("*.md"))
    assert path.name == "2026-11-26-how-to-land-your-first-pm-job-keep-it.md"
    assert f"Added {path}" in result.output
    text = path.read_text(encoding="utf-8")
    meta = tomllib.loads(text.split("+++")[1])
    assert meta["title"] == "How to Land Your First PM Job & Keep It"
    assert meta["url"] == url  # the tracking parameter is gone
    assert meta["source"] == "Product Careers Weekly"
    assert meta["author"] == "Jane Doe"
    assert meta["published"].isoformat() == "2026-11-20"
    assert meta["section"] == "breaking-in"  # "aspiring" is one of its keywords
    assert meta["note"] == "Focus beats volume."
    assert meta["added"].isoformat() == "2026-11-26T08:00:00+00:00"
    assert "image" not in meta
    assert text.split("+++")[2].strip() == (
        "> Most aspiring product managers apply everywhere. The ones who land a first PM job "
        "pick three companies and study them.")
    [excerpt] = load_excerpts(news.root / "curated", {"breaking-in", "interviews", "craft",
                                                      "growth", "market"})
    assert excerpt.title == meta["title"]
    agent = http_server.requests[-1][2]["User-Agent"]
    assert "pmcareerdigest.example.com" in agent


def test_https_og_image_is_kept_and_names_do_not_collide(tmp_path, http_server, cli):
    news = _news(tmp_path)
    page = PAGE.replace("/images/cover.jpg", "https://cdn.example.com/cover.jpg")
    url = http_server.serve_bytes("/a", page.encode(), "text/html; charset=utf-8")
    for _ in range(2):
        result = cli("--config", news.config_path, "curate", "add", url, "--section", "growth",
                     "--quote", "Pick three companies.", "--now", PINNED_NOW)
        assert result.exit_code == 0, result.output
    paths = sorted(p.name for p in (news.root / "curated").glob("*.md"))
    assert paths == ["2026-11-26-how-to-land-your-first-pm-job-keep-it-2.md",
                     "2026-11-26-how-to-land-your-first-pm-job-keep-it.md"]
    meta = tomllib.loads((news.root / "curated" / paths[1]).read_text().split("+++")[1])
    assert meta["image"] == "https://cdn.example.com/cover.jpg"
    assert meta["section"] == "growth"


def test_with_a_title_nothing_is_fetched(tmp_path, http_server, cli):
    news = _news(tmp_path)
    result = cli("--config", news.config_path, "curate", "add", "https://www.example.com/post",
                 "--title", 'A "quoted" title', "--quote", "First line.\n\nSecond paragraph.",
                 "--section", "craft", "--now", PINNED_NOW)
    assert result.exit_code == 0, result.output
    assert http_server.requests == []
    [path] = (news.root / "curated").glob("*.md")
    text = path.read_text()
    meta = tomllib.loads(text.split("+++")[1])
    assert meta["title"] == 'A "quoted" title' and meta["source"] == "example.com"
    assert text.split("+++")[2].strip() == "> First line.\n>\n> Second paragraph."


def test_failures_say_what_to_do(tmp_path, http_server, cli):
    news = _news(tmp_path)
    missing = cli("--config", news.config_path, "curate", "add", http_server.url("/gone"))
    assert missing.exit_code == 1
    assert "HTTP 404" in missing.output and "--title" in missing.output
    bare = http_server.serve_bytes("/bare", b"<html><head><title>Just a title</title></head>",
                                   "text/html")
    nothing = cli("--config", news.config_path, "curate", "add", bare)
    assert nothing.exit_code == 2 and "nothing to quote" in nothing.output
    unknown = cli("--config", news.config_path, "curate", "add", bare, "--quote", "Q",
                  "--section", "nope")
    assert unknown.exit_code == 2 and "breaking-in" in unknown.output
    unclear = cli("--config", news.config_path, "curate", "add", bare, "--quote", "Q")
    assert unclear.exit_code == 2 and "--section" in unclear.output
    assert list((news.root / "curated").glob("*.md")) == []


def test_markup_in_meta_tags_never_reaches_the_excerpt_file():
    from pipeline.curation.pagemeta import parse_head

    head = ('<head><meta property="og:title" content="&lt;b&gt;Pay&lt;/b&gt; bands">'
            '<meta name="author" content="%%EMAIL%%">'
            '<meta property="og:description" content="Salaries &lt;script&gt;alert(1)'
            '&lt;/script&gt;rose &amp; fell &lt;img src=x onerror=alert(1)&gt;"></head>')
    meta = parse_head(head, "https://example.com/a")
    assert meta.title == "Pay bands"
    assert meta.description == "Salaries rose & fell"
    assert meta.author == "%EMAIL%"  # never a per-reader placeholder
