"""The editor's excerpt files: the shipped ones parse; a malformed file names its path and line."""

from __future__ import annotations

import pytest

from pipeline.curation.excerpts import load_excerpts, load_intro, parse_excerpt
from pipeline.errors import CuratedError

from .conftest import ROOT

SECTIONS = {"breaking-in", "interviews", "craft", "growth", "market"}
GOOD = """+++
title = "The Journey to Becoming a Product Manager"
url = "https://careerschooled.com/the-journey-to-becoming-a-product-manager/"
source = "CareerSchooled"
author = "Clement Kao"
section = "breaking-in"
note = "Worth reading twice."
added = 2026-11-20T09:00:00Z
+++
> Treat yourself as a **product**, and the hiring organization as your customer &amp; more.
"""


def test_shipped_excerpts_parse_and_quote_the_seed():
    excerpts = load_excerpts(ROOT / "curated", SECTIONS)
    assert len(excerpts) >= 8
    seed = (ROOT / "tests" / "fixtures" / "seed" / "interview-clement-kao.txt").read_text()
    seed_words = " ".join(seed.split())
    from_seed = [e for e in excerpts if e.author == "Clement Kao"]
    assert len(from_seed) >= 5
    for excerpt in from_seed:
        assert excerpt.note and excerpt.url.startswith("https://")
        # A short verbatim quotation: its first words appear in the interview (quotes folded).
        opening = " ".join(excerpt.excerpt.split()[:8]).replace("’", "'")
        assert opening in seed_words.replace("’", "'"), opening
    orders = [e.order for e in excerpts if e.order is not None]
    assert orders == sorted(orders), "excerpts come in the editor's order"


def test_markdown_body_becomes_plain_text(tmp_path):
    path = tmp_path / "a.md"
    path.write_text(GOOD, encoding="utf-8")
    excerpt = parse_excerpt(path, SECTIONS)
    assert excerpt.excerpt == ("Treat yourself as a product, and the hiring organization as "
                               "your customer & more.")
    assert excerpt.added.isoformat() == "2026-11-20T09:00:00+00:00"


@pytest.mark.parametrize("old, new, expected", [
    ('title = "The Journey', "title = The Journey", ":2: front matter is not valid TOML"),
    ('section = "breaking-in"', 'section = "cooking"',
     ":6: section 'cooking' is not configured; valid: breaking-in"),
    ('url = "https://careerschooled.com', 'url = "careerschooled.com',
     ":3: url 'careerschooled.com"),
    ("added = 2026-11-20T09:00:00Z\n", "", ":8: missing required key 'added'"),
    ("note =", "notes =", ":7: unknown key 'notes'"),
    ("added = 2026-11-20T09:00:00Z", 'added = "last week"', ":8: 'added' must be a TOML date"),
    ("> Treat yourself as a **product**, and the hiring organization as your customer &amp; "
     "more.\n", "", ":10: the excerpt (the text after the front matter) is empty"),
    ("+++\ntitle", "title", ":1: the file must start with a '+++'"),
    ("added = 2026-11-20T09:00:00Z", 'added = 2026-11-20T09:00:00Z\nweek = "2026-48"',
     ":9: week '2026-48' is not an ISO week; valid: the form 2026-W48"),
    ("+++\n> ", "> ", ":1: the front matter opened here is never closed"),
])
def test_malformed_file_names_path_and_line(tmp_path, old, new, expected):
    assert old in GOOD
    path = tmp_path / "broken.md"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CuratedError) as excinfo:
        parse_excerpt(path, SECTIONS)
    assert f"{path}{expected}" in excinfo.value.message, excinfo.value.message
    assert excinfo.value.exit_code == 2


def test_every_broken_file_is_reported_at_once(tmp_path):
    (tmp_path / "one.md").write_text("no front matter", encoding="utf-8")
    (tmp_path / "two.md").write_text(GOOD.replace("source =", "sauce ="), encoding="utf-8")
    (tmp_path / "README.md").write_text("ignored", encoding="utf-8")
    (tmp_path / "_draft.md").write_text("ignored", encoding="utf-8")
    with pytest.raises(CuratedError) as excinfo:
        load_excerpts(tmp_path, SECTIONS)
    assert "one.md:1" in excinfo.value.message and "two.md" in excinfo.value.message
    assert "README" not in excinfo.value.message and "_draft" not in excinfo.value.message


def test_cli_reports_broken_excerpt_with_exit_2(newsletter, cli):
    (newsletter.root / "curated" / "2026-11-24-bad.md").write_text(
        GOOD.replace('source = "CareerSchooled"', "source = [1"), encoding="utf-8")
    result = cli("--config", newsletter.config_path, "build", "--now", "2026-11-26T08:00:00Z")
    assert result.exit_code == 2
    # tomllib notices the unclosed array on the line after it: that is the line it names.
    assert "2026-11-24-bad.md:5: front matter is not valid TOML" in result.output


def test_week_intro(tmp_path):
    (tmp_path / "_intros").mkdir()
    (tmp_path / "_intros" / "2026-W48.md").write_text("Hello *readers*.\n\nSecond.", "utf-8")
    assert load_intro(tmp_path, "2026-W48") == "Hello readers.\n\nSecond."
    assert load_intro(tmp_path, "2026-W49") is None


def test_html_typed_into_the_markdown_never_reaches_the_excerpt(tmp_path):
    # Raw HTML is off in the Markdown, so it would come out as literal tags: plain text only.
    path = tmp_path / "a.md"
    path.write_text(GOOD.replace("**product**", "<b>product</b><script>alert(1)</script>"),
                    encoding="utf-8")
    excerpt = parse_excerpt(path, SECTIONS).excerpt
    assert excerpt == ("Treat yourself as a product, and the hiring organization as your "
                       "customer & more.")
