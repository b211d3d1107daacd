"""`digest preview`: the preview page, the loopback server, and Chromium screenshots with the
375 px layout measured in a real 375 px viewport (device-metrics emulation)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from pipeline.issue.render import render_issue
from pipeline.mail.preview import remove_profile, screenshot_html
from tests.conftest import make_newsletter, require_tool
from tests.golden.sample import WEEK, sample_issue
from tests.test_check import write_issue
from tests.test_render import SOCIAL


def png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def wide_png(width: int, height: int) -> bytes:
    """A real PNG, wider than any phone, to prove images scale down."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x30\x80\xc0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def news(tmp_path: Path) -> Path:
    root = make_newsletter(tmp_path / "news", curated=False, extra=SOCIAL).root
    write_issue(root, sample_issue(12))
    return root


def test_preview_writes_a_page_with_both_widths_and_the_text(cli, news: Path) -> None:
    result = cli("--config", news / "config.toml", "preview", "--week", WEEK)
    assert result.exit_code == 0, result.output
    page = (news / "issues" / WEEK / "preview.html").read_text()
    assert str(news / "issues" / WEEK / "preview.html") in result.output
    assert 'width="375" srcdoc="' in page and 'width="640" srcdoc="' in page
    assert "Plain-text part" in page and "[1] https://www.example.org/interviews/" in page
    assert "This issue passes its check" in page


def test_preview_serve_prints_a_loopback_url_that_serves_it(news: Path) -> None:
    digest = Path(sys.executable).parent / "digest"
    process = subprocess.Popen([str(digest), "--config", str(news / "config.toml"), "preview",
                                "--week", WEEK, "--serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        url = next(line.split()[2] for line in lines if line.startswith("Serving at"))
        assert url.startswith("http://127.0.0.1:") and url.endswith("/preview.html")
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200
        assert "Preview: PM Career Digest #12" in response.text
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.chromium
@pytest.mark.slow
def test_png_screenshots_and_no_overflow_at_375(cli, news: Path, http_server) -> None:
    require_tool("chromium", "screenshots and the 375 px layout check need headless Chromium")
    image = http_server.serve_bytes("/hero.png", wide_png(1200, 500), "image/png")
    issue = sample_issue(12)
    first = issue.sections[1]
    item = replace(first.items[0], image=image, image_alt="A wide chart")
    write_issue(news, replace(issue, sections=(issue.sections[0],
                                               replace(first, items=(item, *first.items[1:])),
                                               *issue.sections[2:])))
    result = cli("--config", news / "config.toml", "preview", "--week", WEEK, "--png")
    assert result.exit_code == 0, result.output
    folder = news / "issues" / WEEK
    for name in ("375", "600", "375-dark", "600-dark"):
        path = folder / f"screenshot-{name}.png"
        assert path.is_file()
        # Laid out at that width, not a ~500 px window cropped.
        assert png_size(path)[0] == int(name[:3])
    shots = {(s["width"], s["scheme"]): s
             for s in json.loads((folder / "screenshots.json").read_text())}
    for scheme in ("light", "dark"):
        phone = shots[(375, scheme)]
        assert phone["viewport"] == 375
        assert phone["scroll_width"] <= phone["viewport"]  # no horizontal scrolling
        assert phone["images_outside"] == []
        # Every visible text, light and dark: WCAG AA contrast (4.5:1) or better.
        assert phone["min_contrast"] >= 4.5, phone["worst_text"]
    assert shots[(375, "light")]["height"] > shots[(600, "light")]["height"]  # one column
    assert "375px light: " in result.output and "no horizontal scrolling" in result.output
    assert any(path == "/hero.png" for _, path, _ in http_server.requests)


@pytest.mark.chromium
def test_the_measurement_detects_overflow(tmp_path: Path) -> None:
    # The same measurement flags a page that is too wide for a phone.
    require_tool("chromium", "the 375 px layout check needs headless Chromium")
    config = make_newsletter(tmp_path / "news", curated=False).config()
    html = render_issue(config, sample_issue(1)).html.replace(
        "<body ", '<body><div style="width:700px;color:#aaaaaa">wide</div>'
        '<img alt="x" src="data:image/png;base64,'
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9'
        'awAAAABJRU5ErkJggg==" style="margin-left:500px;width:20px" /><div ', 1)
    shots = screenshot_html(html, tmp_path, widths=(375,))
    assert shots[0].overflows and shots[0].scroll_width >= 700
    assert len(shots[0].images_outside) == 1
    assert shots[0].min_contrast < 4.5 and shots[0].worst_text == "wide"  # light grey text



def test_profile_removal_survives_a_helper_still_writing(tmp_path: Path) -> None:
    # Chromium's crashpad handler may still write into the profile after the browser exits:
    # one rmtree then fails with "Directory not empty"; the removal retries instead.
    import threading

    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    stop = threading.Event()

    def helper() -> None:
        n = 0
        while not stop.is_set():
            try:
                (profile / "Default").mkdir(parents=True, exist_ok=True)
                for _ in range(50):
                    (profile / "Default" / f"f{n}").write_text("x")
                    n += 1
            except FileNotFoundError:  # removed under it: start again
                pass

    writer = threading.Thread(target=helper)
    writer.start()
    threading.Timer(0.3, stop.set).start()
    try:
        remove_profile(profile)
    finally:
        stop.set()
        writer.join()
    remove_profile(profile)  # the writer has stopped: nothing can refill it now
    assert not profile.exists()
