"""Control characters never stop an issue: feed items and curated excerpts holding BEL, ESC,
VT, FF, NUL (as `&#0;`), U+FFFE, C1 controls or a right-to-left override are built by the
real CLI into clean files; a curated file that cannot be used names its file and line; the
render stage's safety net cleans whatever reaches a template another way."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

from pipeline.issue.render import render_issue
from pipeline.safetext import clean_text
from tests.golden.sample import sample_issue

from .conftest import FEEDS, PINNED_NOW, PINNED_WEEK, ROOT, add_excerpt, make_newsletter

HOSTILE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\u202a-\u202e"
                           "\u2066-\u2069]")
EXCERPT = """+++
title = "Speed\\u0007 of\\u001b[31m learning \\u202eevil\\u202c\\u000b\\u000c\\ufffe"
url = "https://example.com/speed"
source = "Example\\u0085 Blog"
author = "Jane\\u0000 Doe"
section = "growth"
note = "Read\\u0008 this\\u007f twice\\u009f."
tags = ["learn\\u0007ing"]
added = 2026-11-20T09:00:00Z
+++
> The speed\x07 of\x1b learning\x0b is\x0c what\x7f matters\x85 most.
"""


def _assert_clean_outputs(folder):
    for name in ("issue.json", "email.mjml", "email.html", "email.txt", "report.json"):
        text = (folder / name).read_text(encoding="utf-8")
        match = HOSTILE_CHARS.search(text)
        assert match is None, (name, text[max(0, match.start() - 60):match.end() + 60])
        assert "\\u0007" not in text and "\\u001b" not in text.lower(), name


def test_control_characters_in_feeds_and_excerpts_build_clean(tmp_path, http_server, cli):
    http_server.serve_file("/control.xml",
                           FEEDS / "broken-extra" / "control-characters-and-bidi-in-titles.xml")
    http_server.serve_file("/arcana.xml", FEEDS / "broken" / "control-characters_code-arcana.xml")
    news = make_newsletter(tmp_path / "news", feeds=[
        ("Control", http_server.url("/control.xml")),
        ("Arcana", http_server.url("/arcana.xml"))], max_items=30)
    (news.root / "curated" / "2026-11-20-hostile.md").write_text(EXCERPT, encoding="utf-8")
    built = cli("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert built.exit_code == 0, built.output
    folder = news.issues / PINNED_WEEK
    _assert_clean_outputs(folder)
    issue = json.loads((folder / "issue.json").read_text())
    items = {i["id"]: i for s in issue["sections"] for i in s["items"]}
    hostile = items["c-2026-11-20-hostile"]
    assert hostile["title"] == "Speed of[31m learning evil"
    assert hostile["source"] == "Example Blog" and hostile["author"] == "Jane Doe"
    assert hostile["note"] == "Read this twice."
    assert hostile["excerpt"] == "The speed of learning is what matters most."
    feed_titles = [i["title"] for i in items.values() if i["source"] == "Control"]
    assert "Kagi Translate[31m Arrives on Mobile" in feed_titles
    report = json.loads((folder / "report.json").read_text())
    assert report["feeds_failed"] == []


def test_a_raw_control_character_in_front_matter_names_file_and_line(tmp_path, cli):
    news = make_newsletter(tmp_path / "news")
    path = news.root / "curated" / "2026-11-20-bell.md"
    path.write_text(EXCERPT.replace('note = "Read\\u0008', 'note = "Read\x07'), encoding="utf-8")
    built = cli("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert built.exit_code == 2
    assert f"{path}:7: front matter is not valid TOML" in built.output
    assert "(a control character: remove it)" in built.output
    assert "template" not in built.output.lower()


def test_bad_bytes_in_an_excerpt_name_file_and_line(tmp_path, cli):
    news = make_newsletter(tmp_path / "news")
    path = news.root / "curated" / "2026-11-20-latin1.md"
    path.write_bytes(EXCERPT.replace("Read\\u0008", "Caf\xe9").encode("latin-1", "replace"))
    built = cli("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert built.exit_code == 2
    assert f"{path}:7: not UTF-8 text" in built.output


def test_an_unusable_url_in_an_excerpt_names_its_line(tmp_path, cli):
    news = make_newsletter(tmp_path / "news")
    path = news.root / "curated" / "2026-11-20-url.md"
    path.write_text(EXCERPT.replace("https://example.com/speed",
                                    "https://example.com/sp\\u0007eed"), encoding="utf-8")
    built = cli("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert built.exit_code == 2
    assert f"{path}:3: url must not hold spaces or control characters" in built.output


def test_the_render_safety_net_cleans_what_comes_another_way(tmp_path):
    """An Issue that was never cleaned (an old issue.json, a hand-edited archive) still
    renders: every printed value loses what MJML rejects."""
    config = make_newsletter(tmp_path / "news", curated=False).config()
    issue = sample_issue(7)
    section = issue.sections[0]
    dirty = replace(section.items[0], title="Bell\x07 and\x00 nul\ufffe", note="Esc\x1b")
    issue = replace(issue, sections=[replace(section, items=[dirty, *section.items[1:]]),
                                     *issue.sections[1:]], intro="Intro\x0b\x0c text")
    rendered = render_issue(config, issue)
    assert "Bell and nul" in rendered.html and "Bell and nul" in rendered.text
    for text in (rendered.mjml, rendered.html, rendered.text):
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe]", text)


def test_the_shipped_curated_files_are_unchanged_by_cleaning(tmp_path):
    from pipeline.curation.excerpts import load_excerpts

    folder = tmp_path / "curated"
    shutil.copytree(ROOT / "curated", folder)
    for excerpt in load_excerpts(folder):
        for value in (excerpt.title, excerpt.source, excerpt.excerpt, excerpt.note or ""):
            assert clean_text(value) == value


def test_an_excerpt_that_spells_a_reader_placeholder_never_gets_a_readers_address(tmp_path, cli):
    # The per-reader placeholders are `%%NAME%%`: an editor's quote that spells one (pasted
    # from a mail-merge tool, say) stops the send as a leftover placeholder…
    news = make_newsletter(tmp_path / "news", curated=False,
                           extra="\n[schedule]\nmin_new_items = 0\n")
    path = add_excerpt(news.root, PINNED_WEEK, "merge-fields")
    path.write_text(path.read_text().replace(
        "> A passage", "> Write to %%EMAIL%% or %%UNSUBSCRIBE_URL%% — a passage"),
        encoding="utf-8")
    config = ("--config", news.config_path)
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0
    run = cli(*config, "run", "--now", PINNED_NOW)
    assert run.exit_code == 1, run.output
    assert "placeholder: '%%' left in the editor's text" in run.output
    assert news.outbox_messages() == []
    # …and whatever reaches the renderer prints it as text: only the templates' own
    # placeholders are filled in per reader.
    issue = sample_issue(7)
    section = issue.sections[0]
    merged = replace(section.items[0], excerpt="Write to %%EMAIL%% today",
                     note="or %%UNSUBSCRIBE_URL%%", excerpts=())
    issue = replace(issue, sections=[replace(section, items=[merged, *section.items[1:]]),
                                     *issue.sections[1:]])
    rendered = render_issue(news.config(), issue)
    for text in (rendered.html, rendered.text):
        assert "Write to %EMAIL% today" in text and "or %UNSUBSCRIBE_URL%" in text
        assert "Write to %%EMAIL%%" not in text
