"""The curated machine user-agent patterns (pipeline/tracking/scanner_agents.txt): every line
compiles, readers' browsers and mail apps match none, each group of machines is matched."""

from __future__ import annotations

import pytest

from pipeline.tracking.agents import PATTERN_FILE, machine_agent, machine_patterns, parse_patterns

# Readers' browsers and mail apps opening a link (desktop, phones, in-app views).
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/146.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/146.0.0.0 Safari/537.36 Edg/146.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/146.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; CUBOT KingKong 9) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) GSA/340.0.686 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/146.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/146.0.0.0 Safari/537.36 OPR/115.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
]

MACHINES = {
    "robot": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "crawler": "Mozilla/5.0 (compatible; SomeCrawler/1.0)",
    "headless": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.0.0 Safari/537.36",
    "automation": "Mozilla/5.0 Playwright/1.49",
    "library": "python-httpx/0.28.1",
    "java": "Java/17.0.2",
    "preview": "Mozilla/5.0 (compatible; MicrosoftPreview/2.0; +https://aka.ms/MicrosoftPreview)",
    "office": "Microsoft Office Existence Discovery",
    "bare": "Mozilla/5.0",
}


@pytest.mark.parametrize("agent", BROWSERS)
def test_readers_browsers_match_no_pattern(agent):
    assert machine_agent(agent) is None


@pytest.mark.parametrize("agent", list(MACHINES.values()), ids=list(MACHINES))
def test_each_kind_of_machine_is_matched(agent):
    assert machine_agent(agent) is not None


def test_the_file_compiles_and_names_its_sources():
    text = PATTERN_FILE.read_text(encoding="utf-8")
    assert len(machine_patterns()) == len(parse_patterns(text, str(PATTERN_FILE))) >= 30
    for source in ("isbot 5.2.3", "crawler-user-agents 1.60.0"):
        assert source in text


def test_a_bad_line_is_named():
    with pytest.raises(ValueError, match=r"agents\.txt:3: '\(unclosed'"):
        parse_patterns("# comment\nbot\n(unclosed\n", "agents.txt")
