"""Benchmark: the fetch stage on 100 feeds, each answered after 300 ms by a local server.

The server runs in its own process (asyncio, a deep listen backlog) so it does not share our
interpreter. Measured in the same run:
- a plain sequential loop (one httpx.Client, one feed after another): its total time and its
  slowest single fetch;
- `fetch_all` with `[fetch] concurrency = 100` (the pool is sized to the feed list here), the
  fastest of five rounds.
Prints `RESULT fetch_vs_slowest=<ours / slowest single fetch>` (goal ≤ 1.3) and
`RESULT sequential_vs_fetch=<sequential total / ours>` (goal ≥ 20).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FEEDS = 100
LATENCY = 0.3
ROUNDS = 5


# --------------------------------------------------------------------------- server


def serve(latency: float) -> None:
    """HTTP/1.1 with keep-alive: /feed/<n> returns real fixture feed n mod 24 after `latency`."""
    bodies = [p.read_bytes() for p in sorted((ROOT / "tests/fixtures/feeds/real").iterdir())]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                body = bodies[int(path.rsplit("/", 1)[-1]) % len(bodies)]
                await asyncio.sleep(latency)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


# --------------------------------------------------------------------------- bench


def sequential(urls: list[str]) -> tuple[float, float, float]:
    """A plain loop: total time, the slowest single fetch and the median one. A shared
    machine adds noise to single samples, so the five slowest feeds are fetched three more
    times each and a feed's time is its fastest (as timeit does)."""
    import httpx

    times: dict[str, float] = {}
    with httpx.Client(timeout=30) as client:

        def timed(url: str) -> float:
            mark = time.perf_counter()
            client.get(url).raise_for_status()
            return time.perf_counter() - mark

        start = time.perf_counter()
        for url in urls:
            times[url] = timed(url)
        total = time.perf_counter() - start
        for url in sorted(times, key=times.__getitem__)[-5:]:
            times[url] = min([times[url], *(timed(url) for _ in range(3))])
    return total, max(times.values()), statistics.median(times.values())


def main() -> None:
    from pipeline.config import load_config
    from pipeline.feeds.fetch import fetch_all

    server = subprocess.Popen([sys.executable, __file__, "--serve", str(LATENCY)],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        urls = [f"http://127.0.0.1:{port}/feed/{n}" for n in range(FEEDS)]
        with tempfile.TemporaryDirectory() as folder:
            config_path = Path(folder) / "config.toml"
            config_path.write_text(
                (ROOT / "examples" / "config.toml").read_text().split("[[feeds]]")[0]
                + "".join(f'[[feeds]]\nname = "Feed {n}"\nurl = "{url}"\n\n'
                          for n, url in enumerate(urls))
                + f"[fetch]\nconcurrency = {FEEDS}\ntimeout_seconds = 10\n"
                  "deadline_seconds = 60\n\n[state]\ndir = \"var\"\n", encoding="utf-8")
            config = load_config(config_path)
            fetch_all(config)  # warm up: imports, the TLS context, the server's first accepts
            ours = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                results = fetch_all(config)
                ours.append(time.perf_counter() - start)
                failed = [r for r in results if r.status != "ok"]
                assert not failed, failed[0]
        seq_total, slowest, median_single = sequential(urls)
    finally:
        server.terminate()
        server.wait()
    # Other processes on the machine only ever add time: the fastest round is the measure
    # (timeit's rule); every round is printed.
    wall = min(ours)
    size = sum(len(r.body) for r in results)
    print(f"{FEEDS} feeds, {LATENCY * 1000:.0f} ms latency each, {size / 1e6:.1f} MB in all")
    print(f"  sequential loop: {seq_total:7.2f} s (slowest single fetch {slowest * 1000:.0f} ms,"
          f" median {median_single * 1000:.0f} ms)")
    print(f"  fetch_all:       {wall:7.3f} s (fastest of {ROUNDS} rounds: "
          + ", ".join(f"{t:.3f}" for t in ours) + f"; median {statistics.median(ours):.3f})")
    print(f"RESULT fetch_vs_slowest={wall / slowest:.3f}")
    print(f"RESULT sequential_vs_fetch={seq_total / wall:.1f}")

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(float(sys.argv[2]))
    else:
        main()
