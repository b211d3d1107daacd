"""`digest stats --html FILE`: a private page with three charts (list size and net change per
week, click-through per issue, sources ranked by human click-through), drawn by Chart.js
inlined from static/ (see static/README.md), so the written file needs no network; its
Content-Security-Policy forbids any request. Each chart has its table beside it."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import jinja2
import markupsafe

from ..fsutil import PRIVATE_DIR, PRIVATE_FILE, atomic_write_text
from .growth import GrowthRow
from .model import WeekStats
from .rates import silent_sources, source_rates

STATIC = Path(__file__).with_name("static")
TEMPLATES = Path(__file__).with_name("templates")
CHART_JS = STATIC / "chart.umd.min.js"


@functools.cache
def _chartjs() -> str:
    source = CHART_JS.read_text(encoding="utf-8")
    # Inside <script> the only thing that can end it early is "</script"; the source map
    # comment would only make developer tools look for a file that is not there.
    if "</script" in source.lower():
        raise ValueError(f"{CHART_JS}: contains '</script', cannot be inlined")
    return "\n".join(line for line in source.splitlines()
                     if not line.startswith("//# sourceMappingURL="))


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def _percent(value: float) -> float:
    return round(100 * value, 2)


def report_html(history: Sequence[WeekStats], growth: Sequence[GrowthRow], title: str,
                generated: str) -> str:
    """The page for the last N issues (`history`, oldest first) and weeks (`growth`)."""
    sources = source_rates(history)
    weeks = [row.week for row in growth] + [w.week for w in history]
    data = {
        "growth": {"weeks": [r.week for r in growth], "net": [r.net for r in growth],
                   "size": [r.size for r in growth]},
        "issues": {"weeks": [w.week for w in history],
                   "click_through": [_percent(w.click_through) for w in history],
                   "machine_share": [_percent(w.machine / (w.human + w.machine))
                                     if w.human + w.machine else 0.0 for w in history]},
        "sources": {"names": [r.title for r in sources],
                    "per_link": [_percent(r.per_link) for r in sources]},
    }
    return _environment().get_template("report.html.j2").render(
        title=title, generated=generated, history=history, growth=growth, sources=sources,
        silent=[r.title for r in silent_sources(history)], data=data,
        chartjs=markupsafe.Markup(_chartjs()),  # vendored, checked above
        first_week=min(weeks, default="–"), last_week=max(weeks, default="–"),
        sources_height=max(200, 28 * len(sources) + 80))


def write_report(path: Path, page: str) -> None:
    """Atomically, private (0600): click counts are the operator's business."""
    atomic_write_text(path, page, PRIVATE_FILE, PRIVATE_DIR)
