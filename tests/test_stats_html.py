"""`digest stats --html` (issue 14): a private page whose charts Chart.js (vendored, inlined)
draws with no network. Checked in headless Chromium through Playwright, which drives the
system's Chromium and never downloads one: no console error, no request beyond the file,
three charts of non-zero size with drawn pixels, and feed text that stays text."""

from __future__ import annotations

import hashlib
import re
import stat

import pytest

from pipeline.stats import GrowthRow, recent_weeks, report_html, write_report
from pipeline.stats.htmlreport import CHART_JS, STATIC

from .clickdata import sample_history
from .conftest import chromium_browser

CHART_JS_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"
HOSTILE = "</script><script>alert('x')</script><img src=x onerror=alert(1)>"
WEEKS = recent_weeks("2026-W48", 8)


def growth() -> tuple[GrowthRow, ...]:
    size, rows = 4800, []
    for n, week in enumerate(WEEKS):
        net = (12, -3, 25, 8, 0, 31, -7, 19)[n]
        size += net
        rows.append(GrowthRow(week, max(net, 0) + 5, 3, 1, 1, net, size))
    return tuple(rows)


def page_html() -> str:
    history = sample_history(WEEKS)
    # A feed whose name is markup: it must stay text in the page and in the chart's data.
    last = history[-1]
    sources = tuple(s if s.name != "SVPG" else s.__class__(**{**s.__dict__, "title": HOSTILE})
                    for s in last.sources)
    history = history[:-1] + (last.__class__(**{**last.__dict__, "sources": sources}),)
    return report_html(history, growth(), title="PM Career Digest",
                       generated="2026-11-30 09:00 UTC")


def test_the_vendored_library_is_the_recorded_release():
    assert hashlib.sha256(CHART_JS.read_bytes()).hexdigest() == CHART_JS_SHA256
    notes = (STATIC / "README.md").read_text(encoding="utf-8")
    assert "4.6.1" in notes and CHART_JS_SHA256 in notes
    assert "MIT" in (STATIC / "LICENSE-chartjs.md").read_text(encoding="utf-8")


def test_the_page_is_self_contained_and_escapes_feed_text():
    page = page_html()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"<(?:script|img|link|iframe)[^>]+(?:src|href)=", page, re.I)
    assert "sourceMappingURL" not in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count("<canvas") == 3


def test_the_report_file_is_private(tmp_path):
    path = tmp_path / "reports" / "stats.html"
    write_report(path, page_html())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text(encoding="utf-8").startswith("<!doctype html>")


DRAWN = """() => [...document.querySelectorAll("canvas")].map(canvas => {
  const box = canvas.getBoundingClientRect();
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  const colours = new Set();
  for (let i = 3; i < pixels.length; i += 4 * 7) {
    if (pixels[i] > 0) { painted++; colours.add(pixels.slice(i - 3, i).join(",")); }
  }
  const chart = Chart.getChart(canvas);
  return {id: canvas.id, width: box.width, height: box.height, painted, colours: colours.size,
          points: chart.data.datasets.map(d => d.data.length),
          labels: chart.data.labels.length};
})"""


@pytest.mark.chromium
def test_the_report_draws_its_charts_in_chromium_without_network(tmp_path):
    path = tmp_path / "stats.html"
    write_report(path, page_html())
    requests, problems, dialogs = [], [], []
    with chromium_browser("draws the stats page (Debian package chromium)") as browser:
        context = browser.new_context(viewport={"width": 1000, "height": 1400})
        context.route("**/*", lambda route: (
            requests.append(route.request.url),
            route.continue_() if route.request.url == path.as_uri() else route.abort()))
        page = context.new_page()
        page.on("console", lambda m: m.type in ("error", "warning") and problems.append(
            f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri(), wait_until="load")
        charts = page.evaluate(DRAWN)
        table_text = page.locator("#sources + .chart + details table").text_content()
        labels = page.evaluate(
            "Chart.getChart(document.getElementById('chart-sources')).data.labels")
    assert problems == [] and dialogs == []
    assert requests == [path.as_uri()]
    assert [c["id"] for c in charts] == ["chart-growth", "chart-issues", "chart-sources"]
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 150, chart
        assert chart["painted"] > 500 and chart["colours"] >= 3, chart
    growth_chart, issues_chart, sources_chart = charts
    assert growth_chart["points"] == [8, 8] and issues_chart["points"] == [8, 8]
    assert sources_chart["labels"] == 5
    assert HOSTILE in table_text and HOSTILE in labels  # text, never markup


@pytest.mark.chromium
def test_the_trap_link_is_invisible_and_unreachable_in_chromium(tmp_path):
    """The trap as a reader's client would show it: no box, no focus, not in the
    accessibility tree; a scanner reading the HTML still finds its href."""
    from pipeline.tracking import trap_markup

    trap = trap_markup("https://digest.example.com/c/2026-W48.0.AAAAAAAAAAA.X.Y")
    path = tmp_path / "trap.html"
    path.write_text(f"<!doctype html><html><body>{trap}<p>Hello <a href='https://example.org'>"
                    "first article</a></p></body></html>", encoding="utf-8")
    with chromium_browser("lays the trap out (Debian package chromium)") as browser:
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            "file:") else route.abort())
        page.goto(path.as_uri())
        trap_link = page.locator("a[tabindex='-1']")
        assert trap_link.count() == 1
        assert trap_link.evaluate("a => a.getClientRects().length") == 0
        assert not trap_link.is_visible()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "first article"
        links = page.get_by_role("link").all()
        assert [link.inner_text() for link in links] == ["first article"]
