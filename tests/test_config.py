"""config.toml loading: the shipped configs are valid; every problem is reported at once with
its file, key and what is valid; exit code 2 from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError

from .conftest import ROOT, make_newsletter, run_digest


def test_shipped_configs_load():
    config = load_config(ROOT / "config.toml")
    assert config.newsletter.name == "PM Career Digest"
    assert len(config.sections) >= 4
    assert config.delivery.transport == "maildir"
    assert all(f.is_remote for f in config.feeds)
    demo = load_config(ROOT / "examples" / "config.toml")
    assert demo.curated_dir == (ROOT / "curated").resolve()
    assert all(Path(demo.resolve(f.url)).is_file() for f in demo.feeds)


def test_paths_are_relative_to_the_config_folder(tmp_path):
    news = make_newsletter(tmp_path / "elsewhere" / "news")
    config = news.config()
    assert config.state_dir == (news.root / "var").resolve()
    assert config.archive_dir == (news.root / "issues").resolve()
    assert config.curated_dir == (news.root / "curated").resolve()


def test_every_problem_is_reported_at_once(tmp_path):
    news = make_newsletter(tmp_path / "news")
    text = news.config_path.read_text()
    text = text.replace('timezone = "America/New_York"', 'timezone = "Mars/Olympus"')
    text = text.replace("max_items = 12", "max_items = 0")
    text = text.replace('[curated]', '[schedule]\nweekday = "funday"\nmode = "sometimes"\n'
                        'time = "7am"\n\n[curated]')
    text += '\n[delivery]\ntransport = "pigeon"\n\n[newsletter_typo]\nx = 1\n'
    news.write_config(text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(news.config_path)
    problems = "\n".join(excinfo.value.problems)
    assert str(news.config_path) in problems
    for expected in (
        "newsletter.timezone: 'Mars/Olympus' is not a known IANA time zone",
        "issue.max_items: 0 is too small; minimum 1",
        "schedule.weekday: 'funday' is not valid; valid: monday, tuesday",
        "schedule.mode: 'sometimes' is not valid; valid: 'auto' | 'approval'",
        "schedule.time: '7am' is not valid; expected HH:MM",
        "delivery.transport: 'pigeon' is not valid; valid: 'maildir' | 'smtp'",
        "newsletter_typo: unknown key; valid keys:",
    ):
        assert expected in problems, problems
    assert len(excinfo.value.problems) == 7


def test_missing_required_keys_and_wrong_types(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[newsletter]\nname = 3\n\n[[feeds]]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    problems = "\n".join(excinfo.value.problems)
    assert "newsletter.name: expected a string, got 3" in problems
    assert "newsletter.from: required" in problems
    assert "newsletter.base_url: required" in problems
    assert "feeds[0].url: required" in problems


def test_sections_and_feeds_problems_say_what_is_valid(tmp_path):
    news = make_newsletter(tmp_path / "news")
    text = news.config_path.read_text()
    text = text[:text.index("[[sections]]")] + (
        '[[sections]]\nid = "Breaking In"\ntitle = " "\nkeywords = "pm"\n\n'
        '[[feeds]]\nname = ""\nurl = "ftp://x.test/feed"\n\n'
        '[[feeds]]\nname = "B"\nurl = ""\n\n') + text[text.index("[curated]"):]
    news.write_config(text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(news.config_path)
    problems = "\n".join(excinfo.value.problems)
    for expected in (
        "sections[0].id: 'Breaking In' is not valid; expected lower-case letters, digits and "
        "hyphens, e.g. 'breaking-in'",
        "sections[0].title: must not be empty",
        "sections[0].keywords: expected an array of strings, got str",
        "feeds[0].name: must not be empty",
        "feeds[0].url: 'ftp://x.test/feed': only http(s) URLs or local paths",
        "feeds[1].url: must not be empty; valid: an http(s) URL or a path relative to the "
        "config file",
    ):
        assert expected in problems, problems
    assert len(excinfo.value.problems) == 6


def test_the_unmatched_section_id_is_reserved(tmp_path):
    # A [[sections]] "also" would share its items with the "Also worth reading" section:
    # every item of it would be in the email twice.
    news = make_newsletter(tmp_path / "news")
    text = news.config_path.read_text().replace(
        "[[sections]]", '[[sections]]\nid = "also"\ntitle = "Also"\n\n[[sections]]', 1)
    news.write_config(text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(news.config_path)
    assert any("sections[0].id: 'also' is reserved for the items that match no section" in p
               for p in excinfo.value.problems), excinfo.value.problems


def test_smtp_transport_needs_its_table(tmp_path):
    news = make_newsletter(tmp_path / "news", extra='\n[delivery]\ntransport = "smtp"\n')
    with pytest.raises(ConfigError) as excinfo:
        news.config()
    assert any("delivery.smtp: required when delivery.transport = 'smtp'" in p
               for p in excinfo.value.problems)


def test_invalid_toml_names_the_line(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[newsletter]\nname = "x\n', encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(path) in excinfo.value.message and "line 2" in excinfo.value.message


def test_cli_exits_2_naming_file_and_key(tmp_path):
    news = make_newsletter(tmp_path / "news", extra='\n[issue_]\nx = 1\n')
    result = run_digest("--config", news.config_path, "build")
    assert result.returncode == 2
    assert f"{news.config_path}: issue_: unknown key" in result.stderr
    assert "hint:" in result.stderr
    missing = run_digest("--config", tmp_path / "nope.toml", "build")
    assert missing.returncode == 2
    assert "no such configuration file" in missing.stderr


def test_default_paths_follow_the_config_folder_not_the_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "config.toml").write_text(
        '[newsletter]\nname = "N"\nfrom = "n@example.com"\nbase_url = "https://n.example"\n'
        'postal_address = "P"\n\n[[sections]]\nid = "a"\ntitle = "A"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = load_config(folder / "config.toml")
    assert config.state_dir == folder / "var"
    assert config.archive_dir == folder / "issues"
    assert config.curated_dir == folder / "curated"
    assert config.templates.dir == folder / "templates"


def test_control_characters_in_names_and_addresses_are_rejected_with_the_key(tmp_path):
    # TOML escapes make CR/LF and other controls easy to write; each would reach a header
    # (From, Reply-To, List-Id, Subject, EHLO) or a template.
    news = make_newsletter(tmp_path / "news", feeds=[("Feed\\u0007", "https://x.test/f")])
    text = news.config_path.read_text()
    for old, new in (
        ('name = "PM Career Digest"', 'name = "PM Career Digest\\r\\nBcc: all@example.com"'),
        ('from = "PM Career Digest <digest@pmcareerdigest.example.com>"',
         'from = "PM Career Digest <digest@pmcareerdigest.example.com>\\nX-Evil: 1"'),
        ('reply_to = "editor@pmcareerdigest.example.com"',
         'reply_to = "editor@pmcareerdigest.example.com\\u0000"'),
        ('editor = "editor@pmcareerdigest.example.com"',
         'editor = "editor@pmcareerdigest.example.com\\u2028"'),
        ('title = "The craft"', 'title = "The \\u001b[31mcraft"'),
        ('keywords = ["salary",', 'keywords = ["sal\\nary",'),
    ):
        assert old in text, old
        text = text.replace(old, new)
    text += (
        '\n[delivery]\ntransport = "smtp"\n\n[delivery.smtp]\nhost = "relay.example.com"\n'
        'helo = "mail.example.com\\r\\nRSET"\n')
    # A postal address may span lines (it is body text, never a header).
    text = text.replace('postal_address = "PM Career Digest, 548 Market St #12345, San '
                        'Francisco, CA 94104, USA"',
                        'postal_address = """PM Career Digest\n548 Market St #12345\n'
                        'San Francisco, CA 94104, USA"""')
    news.write_config(text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(news.config_path)
    problems = "\n".join(excinfo.value.problems)
    for key, what in (
        ("newsletter.name", "a line break (U+000D)"),
        ("newsletter.from", "a line break (U+000A)"),
        ("newsletter.reply_to", "a control character (U+0000)"),
        ("newsletter.editor", "a line break (U+2028)"),
        ("sections[2].title", "a control character (U+001B)"),
        ("sections[4].keywords[0]", "a line break (U+000A)"),
        ("feeds[0].name", "a control character (U+0007)"),
        ("delivery.smtp.helo", "a line break (U+000D)"),
    ):
        assert f"{key}: contains {what}" in problems, (key, problems)
    assert "valid: one line of text without control characters" in problems
    assert "postal_address" not in problems
    assert len(excinfo.value.problems) == 8, problems
    result = run_digest("--config", news.config_path, "build")
    assert result.returncode == 2
    assert "newsletter.name: contains a line break" in result.stderr


def test_a_multi_line_postal_address_still_refuses_other_controls(tmp_path):
    news = make_newsletter(tmp_path / "news")
    text = news.config_path.read_text().replace(
        'postal_address = "PM Career Digest, 548', 'postal_address = "PM\\u0007 Career Digest, 548')
    news.write_config(text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(news.config_path)
    assert excinfo.value.problems == [
        f"{news.config_path}: newsletter.postal_address: contains a control character (U+0007)"
        " at character 3; valid: text with line breaks but no other control character"]
