"""Benchmark: parse + assemble + render of the 24 bundled real feeds, against a raw
`feedparser.parse` of the same bytes measured in the same run.

Ours does more (nh3 sanitising, text and excerpts, JSON Feed, dates, de-dup, ranking, MJML) but
asks feedparser for less: its own sanitiser and relative-URI rewriting are switched off because
nh3 does that job, once. Prints `RESULT build_vs_feedparser=<ours / baseline>` (goal ≤ 1.15).
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402

from pipeline.config import load_config  # noqa: E402
from pipeline.feeds.parse import parse_document  # noqa: E402
from pipeline.issue.assemble import assemble  # noqa: E402
from pipeline.issue.render import render_issue  # noqa: E402
from pipeline.models import FetchResult  # noqa: E402

FEEDS = ROOT / "tests" / "fixtures" / "feeds" / "real"
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ROUNDS = 7


def baseline(documents: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    for _, body in documents:
        feedparser.parse(body)
    return time.perf_counter() - start


def ours(config, documents: list[tuple[str, bytes]]) -> tuple[float, dict[str, float]]:
    stages: dict[str, float] = {}
    start = time.perf_counter()
    entries = []
    for name, body in documents:
        url = f"https://feeds.example.com/{name}"
        result = FetchResult(name, url, url, "ok", 200, body, {})
        entries.extend(parse_document(result, config.issue.excerpt_words, NOW).entries)
    stages["parse"] = time.perf_counter() - start
    mark = time.perf_counter()
    issue = assemble(config, "2026-W48", 1, NOW, [], entries, set())
    stages["assemble"] = time.perf_counter() - mark
    mark = time.perf_counter()
    render_issue(config, issue)
    stages["render"] = time.perf_counter() - mark
    stages["entries"] = len(entries)
    stages["items"] = len(issue.items)
    return time.perf_counter() - start, stages


def main() -> None:
    config = load_config(ROOT / "examples" / "config.toml")
    documents = [(p.name, p.read_bytes()) for p in sorted(FEEDS.iterdir())]
    ours(config, documents)  # warm up: imports, template compilation, regex caches
    baseline(documents)
    base_times, our_times, stages = [], [], {}
    for _ in range(ROUNDS):  # interleaved, so machine noise hits both sides alike
        gc.collect()
        base_times.append(baseline(documents))
        gc.collect()
        elapsed, stages = ours(config, documents)
        our_times.append(elapsed)
    base, our = statistics.median(base_times), statistics.median(our_times)
    total = sum(len(body) for _, body in documents)
    print(f"{len(documents)} real feeds, {total / 1e6:.2f} MB; median of {ROUNDS} rounds")
    print(f"  feedparser.parse (defaults):       {base * 1000:8.1f} ms")
    print(f"  ours, parse + assemble + render:    {our * 1000:8.1f} ms "
          f"(last round: parse {stages['parse'] * 1000:.1f} ms, assemble "
          f"{stages['assemble'] * 1000:.1f} ms, render {stages['render'] * 1000:.1f} ms; "
          f"{stages['entries']} entries → {stages['items']} items)")
    print(f"RESULT build_vs_feedparser={our / base:.3f}")


if __name__ == "__main__":
    main()
