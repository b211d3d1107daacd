"""The built email laid out by headless Chromium at 600 px, light and dark (issue 13): articles
are parted clearly more than the parts of one article, the masthead stays text-coloured in dark
mode, the quote bar keeps its colours, and the preheader takes no room. Measured from inside the
page (a script added to a copy of email.html; `--dump-dom` prints what it wrote)."""

from __future__ import annotations

import html as htmllib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import require_tool
from .emailbuild import NAME, build_issue, theme

pytestmark = pytest.mark.chromium

MEASURE = r"""<script>
(() => {
  const box = td => {
    // A cell with a background (the editor's note) is seen whole; otherwise its text.
    const painted = getComputedStyle(td).backgroundColor !== "rgba(0, 0, 0, 0)";
    const r = (painted ? td : td.firstElementChild || td).getBoundingClientRect();
    return {top: r.top, bottom: r.bottom};
  };
  const between = [], inside = [];
  let started = false, previous = null;
  for (const td of document.querySelectorAll('td[style*="word-break:break-word"]')) {
    if (td.classList.contains("rule")) { if (started) break; continue; }
    const kind = td.querySelector("h2") ? "section" : td.querySelector("h3") ? "title" : "part";
    if (kind === "section") started = true;
    if (!started) continue;
    const b = box(td);
    if (previous && kind === "title" && previous.kind !== "section")
      between.push(b.top - previous.box.bottom);
    else if (previous && kind === "part") inside.push(b.top - previous.box.bottom);
    previous = {kind, box: b};
  }
  const masthead = document.querySelector("h1 a");
  const quote = document.querySelector("td.quote");
  const preheader = document.querySelector(".preheader");
  document.body.setAttribute("data-layout", JSON.stringify({
    between, inside,
    masthead: getComputedStyle(masthead).color,
    title: getComputedStyle(document.querySelector("h3 a")).color,
    bar: getComputedStyle(quote).borderLeftColor,
    barWidth: getComputedStyle(quote).borderLeftWidth,
    barPadding: getComputedStyle(quote).paddingLeft,
    preheaderRects: preheader.getClientRects().length,
    text: document.body.innerText.trim().slice(0, 40),
  }));
})();
</script>"""


def rgb(colour: str) -> str:
    value = colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i:i + 2], 16) for i in (0, 2, 4)))


def measure(html: str, folder: Path, dark: bool) -> dict:
    chromium = require_tool("chromium", "lays the email out (Debian package chromium)")
    page = folder / ("dark.html" if dark else "light.html")
    page.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    profile = folder / ("profile-dark" if dark else "profile-light")
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--window-size=600,4000", "--dump-dom",
            *(["--force-dark-mode"] if dark else []), page.as_uri()]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        out, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
    dom = out.decode("utf-8", "replace")
    start = dom.index('data-layout="') + len('data-layout="')
    return json.loads(htmllib.unescape(dom[start:dom.index('"', start)]))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_issue(tmp_path_factory.mktemp("browser") / "news")


def test_articles_are_parted_clearly_and_the_preheader_takes_no_room(built, tmp_path) -> None:
    layout = measure(built.html, tmp_path, dark=False)
    colours = theme()["light"]
    between, inside = layout["between"], layout["inside"]
    assert len(between) >= 5 and len(inside) >= 20, layout  # 10 articles in 5 sections
    # The smallest gap between two articles is at least twice the largest inside one.
    assert min(between) >= 2 * max(inside), (sorted(between), sorted(inside))
    assert min(between) >= 30
    assert layout["masthead"] == rgb(colours["text"])
    assert layout["title"] == rgb(colours["link"])
    assert (layout["bar"], layout["barWidth"], layout["barPadding"]) == (
        rgb(colours["bar"]), "3px", "14px")
    assert layout["preheaderRects"] == 0
    assert layout["text"].startswith(NAME)  # nothing of the preheader shows


def test_dark_mode_keeps_the_masthead_text_coloured(built, tmp_path) -> None:
    layout = measure(built.html, tmp_path, dark=True)
    colours = theme()["dark"]
    assert layout["title"] == rgb(colours["link"])  # dark mode is on: links turned light blue
    assert layout["masthead"] == rgb(colours["text"]) != rgb(colours["link"])
    assert layout["bar"] == rgb(colours["bar"])
