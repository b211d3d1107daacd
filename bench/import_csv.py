"""Benchmark: `digest subscribers import` of a 22,000-row Mailchimp-style export, in one
transaction, against a bare load of the same file.

RESULT import_vs_bare_insert: time of subscribers.import_csv (parse with line tracking, status
mapping, email validation, one transaction of upserts) divided by csv.reader + one
executemany INSERT of the same rows into the same schema, in the same run (no goal: it shows
what validation and the per-row decisions cost).
RESULT import_rows_per_s: rows imported per second into a fresh database.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.state.db import Database  # noqa: E402
from pipeline.state.subscribers import import_csv  # noqa: E402

ROWS = 22_000


def write_export(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Email Address", "First Name", "Last Name", "MEMBER_RATING",
                         "OPTIN_TIME", "LEID", "EUID", "NOTES", "TAGS"])
        for i in range(ROWS):
            writer.writerow([f"reader{i}@example{i % 97}.com", f"First{i}", f"Last {i}", 2,
                             "2024-01-15 10:30:00", i, f"{i:010x}", "", '"PM"'])


def bare_load(db: Path, source: Path) -> None:
    conn = Database.open(db)
    with source.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO subscribers (email, name, status, source, created_at,"
                     " updated_at) VALUES (?, ?, 'active', 'import', 'x', 'x')",
                     [(r[0], f"{r[1]} {r[2]}") for r in rows])
    conn.execute("COMMIT")
    conn.close()


def our_import(db: Path, source: Path) -> None:
    conn = Database.open(db)
    report = import_csv(conn, source)
    conn.close()
    assert report.added == ROWS, report


def best_of(fn, folder: Path, source: Path, repeat: int = 3) -> float:
    best = float("inf")
    for round_ in range(repeat):
        db = folder / f"{fn.__name__}-{round_}.sqlite3"
        start = time.perf_counter()
        fn(db, source)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "subscribed.csv"
        write_export(source)
        bare = best_of(bare_load, folder, source)
        ours = best_of(our_import, folder, source)
    print(f"{ROWS:,} rows: import_csv {ours:.3f} s, bare csv + executemany {bare:.3f} s")
    print(f"RESULT import_vs_bare_insert={ours / bare:.2f}")
    print(f"RESULT import_rows_per_s={ROWS / ours:.0f}")


if __name__ == "__main__":
    main()
