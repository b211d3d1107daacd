"""Benchmark: start-up of the command line. `digest --help` against `sqlite-utils --help` (a
click CLI over SQLite too, installed by the `bench` extra), both as subprocesses of the same
virtual environment, interleaved, RUNS times each after a warm-up.

Prints `RESULT cli_help_vs_sqlite_utils=<median digest / median sqlite-utils>` (goal ≤ 1.0),
and, for the record, `digest issues list` against the same baseline (it loads the config and
the state database, nothing of the stages).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RUNS = int(os.environ.get("BENCH_CLI_RUNS", "15"))
WARMUP = 2


def wall(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
    return seconds


def medians(commands: dict[str, list[str]], cwd: Path) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(WARMUP + RUNS):
        for name, argv in commands.items():  # interleaved: machine load hits both alike
            seconds = wall(argv, cwd)
            if round_ >= WARMUP:
                times[name].append(seconds)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    baseline = BIN / "sqlite-utils"
    if not baseline.exists():
        raise SystemExit("sqlite-utils is not installed: pip install -e '.[bench]' (make bench)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "news"
        shutil.copytree(ROOT / "examples", folder, ignore=shutil.ignore_patterns("var", "issues"))
        text = (folder / "config.toml").read_text(encoding="utf-8")
        (folder / "config.toml").write_text(
            text.replace('dir = "../curated"', f'dir = "{ROOT / "curated"}"')
                .replace('seed_csv = "../sample/', f'seed_csv = "{ROOT / "sample"}/'),
            encoding="utf-8")
        digest = str(BIN / "digest")
        wall([digest, "--config", "config.toml", "issues", "list"], folder)  # the database
        result = medians({
            "sqlite-utils --help": [str(baseline), "--help"],
            "digest --help": [digest, "--help"],
            "digest issues list": [digest, "--config", "config.toml", "issues", "list"],
        }, folder)
    base = result["sqlite-utils --help"]
    for name, seconds in result.items():
        print(f"{name}: median {seconds * 1000:.0f} ms over {RUNS} runs")
    print(f"RESULT cli_help_vs_sqlite_utils={result['digest --help'] / base:.2f}")
    print(f"RESULT cli_issues_list_vs_sqlite_utils={result['digest issues list'] / base:.2f}")


if __name__ == "__main__":
    main()
