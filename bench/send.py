"""Benchmark: `digest send` over SMTP to Postfix's smtp-sink, against references measured in
the same run on the same sink.

RESULT send_vs_smtp_source: messages/s of `digest send` (22,000 subscribers, 4 connections)
    divided by Postfix's smtp-source sending messages of the same size over the same number of
    connections (goal >= 0.6). Each rate is the best of 3 interleaved rounds.
RESULT send_vs_naive_loop: the same divided by a plain smtplib.sendmail loop over one
    connection, sending one pre-built message again and again (goal >= 1.5).
RESULT rss_100k_vs_1k: peak resident memory (the largest process of the tree, from wait4) of
    `digest send` to 100,000 subscribers divided by the same for 1,000 (goal <= 1.2): rows are
    streamed from SQLite, never all held.

Needs smtp-sink and smtp-source (Debian package postfix). Not part of `make test`.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import load_config  # noqa: E402
from pipeline.jobs.build import build, load_rendered  # noqa: E402
from pipeline.mail.compose import make_composer  # noqa: E402
from pipeline.models import Subscriber  # noqa: E402
from pipeline.state.db import Database  # noqa: E402
from pipeline.state.handle import State  # noqa: E402
from pipeline.tokens import reader_ref  # noqa: E402

WEEK = "2026-W48"
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
CONNECTIONS = 4
LIST_SIZE = int(os.environ.get("BENCH_SEND_SUBSCRIBERS", "22000"))
BIG, SMALL = int(os.environ.get("BENCH_SEND_BIG", "100000")), 1_000
REPEAT = int(os.environ.get("BENCH_SEND_REPEAT", "3"))
DIGEST = Path(sys.executable).parent / "digest"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink() -> tuple[subprocess.Popen, int]:
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([sink, *user, f"127.0.0.1:{port}", "256"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("smtp-sink did not start")


def newsletter(root: Path, port: int) -> Path:
    """The bundled offline demo (examples/), its issue built, delivering to the sink."""
    shutil.copytree(ROOT / "examples", root, ignore=shutil.ignore_patterns("var", "issues"))
    text = (root / "config.toml").read_text(encoding="utf-8")
    text = text.replace('dir = "../curated"', f'dir = "{ROOT / "curated"}"')
    text = text.split("\n[subscribers]")[0].split("\n[delivery]")[0]
    text += f"""
[delivery]
transport = "smtp"

[delivery.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = {CONNECTIONS}
helo = "bench.example.com"
"""
    config_path = root / "config.toml"
    config_path.write_text(text, encoding="utf-8")
    with State(load_config(config_path), NOW) as state:
        build(state, WEEK)
    return config_path


def set_list(config_path: Path, size: int) -> None:
    """Exactly `size` active subscribers, an empty ledger and the issue not sent yet (a sent
    issue queues nobody new; the archive's delivery record goes too, or the send would stop
    as after a lost database)."""
    config = load_config(config_path)
    (config.archive_dir / WEEK / "delivery.json").unlink(missing_ok=True)
    conn = Database.open(config.db_path)
    conn.execute("BEGIN")
    conn.execute("DELETE FROM deliveries")
    conn.execute("UPDATE issues SET status = 'built', sent_at = NULL")
    conn.execute("DELETE FROM subscribers WHERE id > ?", (size,))
    have = conn.execute("SELECT count(*) FROM subscribers").fetchone()[0]
    conn.executemany(
        "INSERT INTO subscribers (email, ref, name, status, created_at, updated_at)"
        " VALUES (?, ?, ?, 'active', '2026-01-01', '2026-01-01')",
        ((f"reader{i}@example.com", reader_ref(f"reader{i}@example.com"), f"Reader {i}")
         for i in range(have, size)))
    conn.execute("COMMIT")
    conn.close()


def run_send(config_path: Path) -> float:
    """Seconds of one `digest send`, process start included."""
    start = time.perf_counter()
    proc = subprocess.run([str(DIGEST), "--config", str(config_path), "send", "--week", WEEK],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"digest send failed: {proc.stdout} {proc.stderr}")
    return seconds


def run_send_rss(config_path: Path) -> tuple[float, int]:
    """(seconds, peak RSS in KB of the largest process of its tree) of one `digest send`."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child becomes `digest send`, so wait4 reports its whole tree
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(str(DIGEST), [str(DIGEST), "--config", str(config_path), "send", "--week",
                               WEEK])
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("digest send failed")
    return time.perf_counter() - start, usage.ru_maxrss


def one_message(config_path: Path) -> bytes:
    config = load_config(config_path)
    composer = make_composer(config, load_rendered(config, WEEK), b"k" * 32, NOW)
    return composer.compose(Subscriber(1, "reader1@example.com", "Reader 1", "active")).data


def smtp_source_rate(port: int, message: bytes, count: int, tmp: Path) -> float:
    source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    eml = tmp / "message_lf.eml"
    eml.write_bytes(message.replace(b"\r\n", b"\n"))  # -F wants LF line endings
    start = time.perf_counter()
    subprocess.run([source, "-s", str(CONNECTIONS), "-d", "-m", str(count), "-F", str(eml),
                    "-f", "digest@pmcareerdigest.example.com", "-t", "reader1@example.com",
                    f"127.0.0.1:{port}"], check=True)
    return count / (time.perf_counter() - start)


def naive_rate(port: int, message: bytes, count: int) -> float:
    start = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port, local_hostname="bench.example.com")
    for i in range(count):
        smtp.sendmail("digest@pmcareerdigest.example.com", [f"reader{i}@example.com"], message)
    smtp.quit()
    return count / (time.perf_counter() - start)


def main() -> None:
    sink, port = start_sink()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            config_path = newsletter(tmp / "news", port)
            message = one_message(config_path)
            print(f"message size {len(message):,} bytes, {CONNECTIONS} connections, "
                  f"{LIST_SIZE:,} subscribers")

            # Other work on the machine skews single runs: the three are interleaved and each
            # keeps its best of REPEAT rounds.
            ours = reference = naive = 0.0
            for round_ in range(REPEAT):
                set_list(config_path, LIST_SIZE)
                seconds = run_send(config_path)
                ours = max(ours, LIST_SIZE / seconds)
                reference = max(reference, smtp_source_rate(port, message, LIST_SIZE, tmp))
                if round_ < 2:
                    naive = max(naive, naive_rate(port, message, LIST_SIZE))
                print(f"  round {round_ + 1}: digest send {LIST_SIZE / seconds:,.0f} msg/s")
            print(f"digest send    {ours:8,.0f} msg/s (process start included)")
            print(f"smtp-source    {reference:8,.0f} msg/s")
            print(f"smtplib loop   {naive:8,.0f} msg/s (1 connection, one pre-built message)")

            set_list(config_path, SMALL)
            _, rss_small = run_send_rss(config_path)
            set_list(config_path, BIG)
            big_seconds, rss_big = run_send_rss(config_path)
            print(f"peak RSS: {rss_small / 1024:.1f} MB for {SMALL:,}, {rss_big / 1024:.1f} MB "
                  f"for {BIG:,} ({BIG / big_seconds:,.0f} msg/s)")
    finally:
        sink.terminate()
        sink.wait()
    print(f"RESULT send_vs_smtp_source={ours / reference:.2f}")
    print(f"RESULT send_vs_naive_loop={ours / naive:.2f}")
    print(f"RESULT rss_100k_vs_1k={rss_big / rss_small:.2f}")


if __name__ == "__main__":
    main()
