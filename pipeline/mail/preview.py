"""`digest preview`: a preview page of a built issue, a loopback server for it, and screenshots
at phone and desktop widths taken with headless Chromium.

Headless Chromium will not lay a window out narrower than about 500 px (a `--window-size=375`
screenshot is a cropped 500 px layout), so phones are measured with the DevTools protocol's
device-metrics emulation: a real 375 px viewport, measured from inside the page.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..config import Config
from ..errors import PipelineError
from ..fsutil import atomic_write_bytes, atomic_write_text, dumps_json
from ..models import RenderedIssue
from .check import CheckReport, check_rendered
from .compose import public_version

WIDTHS = (375, 600)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--hide-scrollbars", "--remote-debugging-port=0")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")

# Runs inside the page: the layout width against the viewport, and where each image sits.
_MEASURE_JS = r"""(() => {
  const d = document.documentElement, b = document.body;
  const images = [...document.images].map(i => {
    const r = i.getBoundingClientRect();
    return {src: i.currentSrc || i.src, left: r.left, right: r.right, width: r.width};
  });
  // The lowest WCAG contrast ratio of any visible text against its painted background.
  const rgb = s => s.match(/[\d.]+/g).map(Number);
  const lum = c => c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((a, v, k) => a + v * [0.2126, 0.7152, 0.0722][k], 0);
  const background = el => { for (; el; el = el.parentElement) {
    const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
  let minContrast = 21, worst = "";
  const walker = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el.getClientRects().length) continue;
    const l1 = lum(rgb(getComputedStyle(el).color)), l2 = lum(background(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < minContrast) { minContrast = ratio; worst = node.textContent.trim().slice(0, 60); }
  }
  return JSON.stringify({viewport: window.innerWidth,
    scroll_width: Math.max(d.scrollWidth, b ? b.scrollWidth : 0),
    height: Math.ceil(Math.max(d.scrollHeight, b ? b.scrollHeight : 0)), images,
    min_contrast: Math.round(minContrast * 100) / 100, worst_text: worst});
})()"""
_IMAGES_LOADED_JS = """Promise.race([
  Promise.all([...document.images].map(i => i.complete ? 0 :
    new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); }))),
  new Promise(r => setTimeout(r, 5000))]).then(() => true)"""


class PreviewError(PipelineError):
    """Chromium is missing or did not answer."""


# --------------------------------------------------------------------------- the page


def preview_page(rendered: RenderedIssue, html_body: str, text_body: str,
                 report: CheckReport | None = None) -> str:
    """A self-contained page: the email at 600 px and 375 px side by side, then the text."""
    issue = rendered.issue
    frame = html.escape(html_body, quote=True)
    checks = ""
    if report is not None:
        lines = [f"<li class=err>{html.escape(e)}</li>" for e in report.errors]
        lines += [f"<li class=warn>{html.escape(w)}</li>" for w in report.warnings]
        status = "passes its check" if report.ok else "FAILS its check"
        size = report.facts.get("encoded_bytes", 0)
        checks = (f"<p>This issue {status} · {size:,} bytes encoded</p>"
                  f"<ul>{''.join(lines)}</ul>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Preview: {html.escape(issue.subject)}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 24px; background: #e5e8ec; color: #1f2933; }}
.meta {{ background: #fff; padding: 12px 16px; border-radius: 6px; max-width: 1020px; }}
.frames {{ display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap; margin: 20px 0; }}
iframe {{ border: 1px solid #b8c0cc; background: #fff; height: 1400px; }}
pre {{ background: #fff; padding: 16px; max-width: 72ch; white-space: pre-wrap; }}
.err {{ color: #b91c1c; }} .warn {{ color: #92400e; }}
</style></head><body>
<div class="meta">
<p><strong>Subject:</strong> {html.escape(issue.subject)}<br>
<strong>Preheader:</strong> {html.escape(issue.preheader)}<br>
<strong>Issue:</strong> #{issue.number} · {issue.id} · {len(issue.items)} items</p>
{checks}</div>
<div class="frames">
<figure><figcaption>Desktop, 600 px</figcaption>
<iframe title="The email at 600 px" width="640" srcdoc="{frame}"></iframe></figure>
<figure><figcaption>Phone, 375 px</figcaption>
<iframe title="The email at 375 px" width="375" srcdoc="{frame}"></iframe></figure>
</div>
<h2>Plain-text part</h2>
<pre>{html.escape(text_body)}</pre>
</body></html>
"""


def write_preview(config: Config, rendered: RenderedIssue, key: bytes, folder: Path) -> Path:
    """`folder`/preview.html (the issue's folder) from the issue as it renders now (templates
    included)."""
    html_body, text_body = public_version(config, key, rendered)
    report = check_rendered(config, rendered, key)
    path = folder / "preview.html"
    atomic_write_text(path, preview_page(rendered, html_body, text_body, report))
    return path


def preview_server(folder: Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server for the issue folder (not started: call serve_forever)."""

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), functools.partial(QuietHandler,
                                                                 directory=str(folder)))
    server.daemon_threads = True
    return server


# --------------------------------------------------------------------------- screenshots


@dataclass(frozen=True)
class Shot:
    width: int
    path: str
    viewport: int
    scroll_width: int
    height: int
    images_outside: tuple[str, ...]
    min_contrast: float = 21.0  # the lowest WCAG contrast ratio of visible text
    worst_text: str = ""
    scheme: str = "light"

    @property
    def overflows(self) -> bool:
        return self.scroll_width > self.viewport


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise PreviewError("headless Chromium not found",
                       hint="install it (Debian: apt-get install chromium) to take screenshots")


class _Cdp:
    """The few DevTools protocol calls we need, over one websocket."""

    def __init__(self, ws, timeout: float) -> None:
        self.timeout = timeout
        self.ws = ws
        self.counter = 0

    def call(self, method: str, **params):
        self.counter += 1
        ident = self.counter
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == ident:
                if "error" in message:
                    raise PreviewError(f"Chromium: {method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str, await_promise: bool = False):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=await_promise)
        return result.get("result", {}).get("value")


def _start_chromium(profile: Path, timeout: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([find_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # its helpers go with it
    try:
        return process, _page_websocket(process, profile, timeout)
    except BaseException:
        _stop_chromium(process)
        raise


def _page_websocket(process: subprocess.Popen, profile: Path, timeout: float) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.is_file() and len(port_file.read_text().splitlines()) >= 2:
            break
        if process.poll() is not None:
            raise PreviewError(f"Chromium exited with status {process.returncode}")
        time.sleep(0.05)
    else:
        raise PreviewError("Chromium did not open its DevTools port in time")
    port = port_file.read_text().splitlines()[0].strip()
    import httpx  # heavy (~0.1 s): only the screenshots need it

    targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=timeout).json()
    page = next(t for t in targets if t.get("type") == "page")
    return page["webSocketDebuggerUrl"]


def _stop_chromium(process: subprocess.Popen) -> None:
    """Stop the browser and its helper processes (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        process.wait()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def remove_profile(profile: Path, seconds: float = 5.0) -> None:
    """Remove Chromium's profile folder. A helper process (crashpad) may still write into it
    for a moment after the browser exits, so one rmtree can meet "Directory not empty":
    retry for a while, then leave the leftovers in the temp folder rather than fail."""
    deadline = time.monotonic() + seconds
    while True:
        shutil.rmtree(profile, ignore_errors=True)
        if not profile.exists() or time.monotonic() >= deadline:
            return
        time.sleep(0.05)


def screenshot_html(html_body: str, folder: Path, widths: tuple[int, ...] = WIDTHS,
                    timeout: float = 30.0, schemes: tuple[str, ...] = ("light",)) -> list[Shot]:
    """Lay `html_body` out at each width (device-metrics emulation) and colour scheme, measure
    it, and save `screenshot-<width>[-dark].png` plus `screenshots.json` in `folder`."""
    shots: list[Shot] = []
    profile = Path(tempfile.mkdtemp(prefix="digest-chromium-"))
    try:
        from websockets.sync.client import connect  # only the screenshots need it

        process, ws_url = _start_chromium(profile, timeout)
        try:
            with connect(ws_url, max_size=None, open_timeout=timeout) as ws:
                cdp = _Cdp(ws, timeout)
                frame_id = cdp.call("Page.getFrameTree")["frameTree"]["frame"]["id"]
                for scheme, width in ((s, w) for s in schemes for w in widths):
                    cdp.call("Emulation.setEmulatedMedia", features=[
                        {"name": "prefers-color-scheme", "value": scheme}])
                    cdp.call("Emulation.setDeviceMetricsOverride", width=width, height=800,
                             deviceScaleFactor=1, mobile=width < 500)
                    cdp.call("Page.setDocumentContent", frameId=frame_id, html=html_body)
                    cdp.evaluate(_IMAGES_LOADED_JS, await_promise=True)
                    data = json.loads(cdp.evaluate(_MEASURE_JS))
                    png = cdp.call("Page.captureScreenshot", format="png",
                                   captureBeyondViewport=True,
                                   clip={"x": 0, "y": 0, "width": width,
                                         "height": max(1, data["height"]), "scale": 1})
                    suffix = "" if scheme == "light" else f"-{scheme}"
                    path = folder / f"screenshot-{width}{suffix}.png"
                    atomic_write_bytes(path, base64.b64decode(png["data"]))
                    # Against the emulated width, not innerWidth: a mobile viewport zooms
                    # out to fit wide content, so innerWidth grows with the overflow.
                    outside = tuple(i["src"] for i in data["images"]
                                    if i["width"] and (i["left"] < -0.5
                                                       or i["right"] > width + 0.5))
                    shots.append(Shot(width, str(path), width, data["scroll_width"],
                                      data["height"], outside, data["min_contrast"],
                                      data["worst_text"], scheme))
        finally:
            _stop_chromium(process)
    finally:
        remove_profile(profile)
    atomic_write_text(folder / "screenshots.json",
                      dumps_json([asdict(s) | {"overflows": s.overflows} for s in shots]))
    return shots


def screenshots(config: Config, rendered: RenderedIssue, key: bytes, folder: Path
                ) -> list[Shot]:
    html_body, _ = public_version(config, key, rendered)
    return screenshot_html(html_body, folder, schemes=("light", "dark"))
