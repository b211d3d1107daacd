"""Benchmark: the click redirect of `digest serve` against a bare redirect.

RESULT clicks_vs_bare_redirect: redirects per second through the real `digest serve`'s
`/c/<token>` route (token verified, link looked up, click handed to the writer thread and
stored) divided by a bare Starlette app answering 302 on the same uvicorn settings, measured
in the same run, at the same concurrency, by the same load generator (goal >= 0.7).

The load generator is wrk (`apt-get install wrk`): a C client, so the servers are what is
measured. Without it, a small asyncio client on raw keep-alive sockets stands in (it says so):
on a small machine it competes with the server for the CPU, so its ratio is less telling.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from pipeline.archive import files as archive  # noqa: E402
from pipeline.fsutil import dumps_json  # noqa: E402
from pipeline.state.handle import State  # noqa: E402
from pipeline.tokens import reader_ref  # noqa: E402
from pipeline.tracking import click_token, delivery_hash  # noqa: E402
from tests.conftest import make_newsletter  # noqa: E402
from tests.golden.sample import sample_issue  # noqa: E402

CONNECTIONS = 16
SECONDS = 3
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
BARE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

async def redirect(request):
    return RedirectResponse("https://example.org/article", status_code=302)

app = Starlette(routes=[Route("/c/{token}", redirect, methods=["GET", "HEAD"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), proxy_headers=True,
            server_header=False, log_level="info")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/c/x", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{command[0]} did not start")


def with_wrk(url: str) -> float:
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", url],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


async def _client(host: str, port: int, path: str, stop: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        while time.monotonic() < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            counts[0] += 1
    finally:
        writer.close()


def with_asyncio(url: str) -> float:
    match = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    counts = [0]

    async def run() -> float:
        started = time.monotonic()
        stop = started + SECONDS
        await asyncio.gather(*(_client(host, port, path, stop, counts)
                               for _ in range(CONNECTIONS)))
        return counts[0] / (time.monotonic() - started)
    return asyncio.run(run())


def main() -> None:
    load = with_wrk if shutil.which("wrk") else with_asyncio
    if load is with_asyncio:
        print("wrk not found (apt-get install wrk): using the asyncio client instead")
    with tempfile.TemporaryDirectory() as tmp:
        news = make_newsletter(Path(tmp) / "news", curated=False,
                               extra='\n[tracking]\nclicks = "aggregate"\n')
        config = news.config()
        issue = sample_issue(12)
        folder = archive.issue_dir(config.archive_dir, issue.id)
        folder.mkdir(parents=True)
        (folder / "issue.json").write_text(dumps_json(issue.to_json()), encoding="utf-8")
        with State(config) as state:
            state.migrate()
            key = state.key
        token = click_token(key, issue.id, 1,
                            delivery_hash(b"c" * 32, issue.id, reader_ref("a@example.com")))
        digest = str(Path(sys.executable).parent / "digest")
        ports = {"digest serve": free_port(), "bare Starlette": free_port()}
        servers = {
            "digest serve": start([digest, "--config", str(news.config_path), "serve",
                                   "--port", str(ports["digest serve"])],
                                  ports["digest serve"]),
            "bare Starlette": start([sys.executable, "-c", BARE_APP,
                                     str(ports["bare Starlette"])], ports["bare Starlette"]),
        }
        try:
            check = httpx.get(f"http://127.0.0.1:{ports['digest serve']}/c/{token}")
            assert check.status_code == 302, check.status_code
            rates: dict[str, list[float]] = {name: [] for name in servers}
            for _ in range(ROUNDS):  # back to back: each pair sees the same machine load
                for name, port in ports.items():
                    rates[name].append(load(f"http://127.0.0.1:{port}/c/{token}"))
            stored = _stored(config)
        finally:
            for proc in servers.values():
                proc.terminate()
                proc.wait(timeout=30)
        for name, found in rates.items():
            print(f"{name}: median {statistics.median(found):,.0f} redirects/s "
                  f"({', '.join(f'{r:,.0f}' for r in found)}; {CONNECTIONS} connections, "
                  f"{ROUNDS} x {SECONDS} s, {load.__name__.removeprefix('with_')})")
        print(f"clicks stored by digest serve: {stored:,}")
    # The median of the rounds' ratios: a round's two runs share the machine's load of the
    # moment (other processes on a shared machine make single runs swing by a third).
    ratio = statistics.median(ours / bare for ours, bare in zip(
        rates["digest serve"], rates["bare Starlette"], strict=True))
    print(f"RESULT clicks_vs_bare_redirect={ratio:.2f}")


def _stored(config) -> int:
    from pipeline.state import clicks
    from pipeline.state.db import Database

    with Database.open(config.db_path) as db:
        return len(clicks.for_issue(db, "2026-W48"))


if __name__ == "__main__":
    main()
