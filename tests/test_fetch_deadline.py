"""Deadlines hold for the whole exchange: a real server on 127.0.0.1 that drips its status
line, its headers (a line a second) or its body is cut off at the per-feed time limit and at
the overall deadline, the fetch closes its connection and its thread ends, and the real
`digest fetch` process exits with the feed named."""

from __future__ import annotations

import json
import threading
import time

import pytest

from pipeline.feeds.fetch import fetch_all

from .conftest import PINNED_NOW, make_newsletter, run_digest
from .dripserver import MODES, start_drip_server
from .test_fetch import KAGI, _by_name, _config

pytestmark = pytest.mark.slow  # servers that drip bytes until the deadlines cut them off


def _fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fetch-")]


def _no_fetch_thread_left(timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while _fetch_threads() and time.monotonic() < end:
        time.sleep(0.05)
    return not _fetch_threads()


def test_dripped_status_headers_and_body_stop_at_the_time_limit(tmp_path, http_server):
    drip = start_drip_server()
    try:
        good = http_server.serve_bytes("/kagi.xml", KAGI)
        feeds = [(mode.strip("/"), drip.url(mode)) for mode in MODES] + [("Kagi", good)]
        results = _by_name(fetch_all(_config(tmp_path, feeds, timeout_seconds=1.5,
                                             deadline_seconds=60)))
        assert results["Kagi"].status == "ok" and results["Kagi"].body == KAGI
        for mode in ("status", "headers", "body"):
            assert results[mode].status == "failed", results[mode]
            assert results[mode].error == "timed out after 1.5 s (the time limit)", mode
            assert results[mode].body == b""
        # Every dripping connection was hung up by the fetch, and no fetch thread is left.
        assert drip.wait_hung_up(3), drip.hung_up
        assert sorted(drip.hung_up) == ["/body", "/headers", "/status"]
        assert _no_fetch_thread_left()
    finally:
        drip.close()


def test_the_overall_deadline_cuts_dripping_servers_whatever_the_feed_limit(tmp_path):
    drip = start_drip_server()
    try:
        feeds = [(mode.strip("/"), drip.url(mode)) for mode in MODES]
        results = fetch_all(_config(tmp_path, feeds, timeout_seconds=600, deadline_seconds=2))
        for result in results:
            assert result.status == "failed"
            assert result.error in ("timed out at the overall fetch deadline (2 s)",
                                    "stopped at the overall fetch deadline (2 s)"), result.error
        assert drip.wait_hung_up(3), drip.hung_up
        assert _no_fetch_thread_left()
    finally:
        drip.close()


def test_digest_fetch_process_ends_at_the_deadline_and_names_the_feeds(tmp_path, http_server):
    """The real CLI in a subprocess: with every drip going on for minutes, `digest fetch`
    finishes (the subprocess timeout is generous, not a measurement), exits 0, and its table
    and state name each dripping feed with a timeout reason."""
    drip = start_drip_server()
    try:
        good = http_server.serve_bytes("/kagi.xml", KAGI)
        feeds = [(f"drip-{mode.strip('/')}", drip.url(mode)) for mode in MODES]
        news = make_newsletter(tmp_path / "news", feeds=[*feeds, ("Kagi", good)],
                               extra="\n[fetch]\ntimeout_seconds = 60\ndeadline_seconds = 3\n",
                               curated=False)
        done = run_digest("--config", news.config_path, "fetch", "--now", PINNED_NOW,
                          timeout=90)
        assert done.returncode == 0, done.stderr
        rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:-1]}
        assert " ok " in rows["Kagi"]
        for name, _ in feeds:
            assert " failed " in rows[name], rows[name]
            assert "overall fetch deadline (3 s)" in rows[name], rows[name]
        built = run_digest("--config", news.config_path, "build", "--now", PINNED_NOW,
                           timeout=90)
        assert built.returncode == 0, built.stderr
        report = json.loads((news.issues / "2026-W48" / "report.json").read_text())
        assert sorted(report["feeds_failed"]) == sorted(name for name, _ in feeds)
    finally:
        drip.close()
