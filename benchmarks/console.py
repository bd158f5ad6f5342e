"""The console's Playbacks page on the large catalog: the server's full HTML response, timed.

Starts ``baijiayun emulator serve --seed large`` (100,000 playbacks by default) in its own process
on a loopback port, on a SQLite file and on PostgreSQL (when reachable), and times complete GETs of
``/_emulator/console/playbacks``: the first page, the last page (``oldest=1``, keyset: no OFFSET)
and a name search (``q=高等数学``, about 6,600 matches), each the median of 5 after one warm-up.

Target (issue 16): under 200 ms each. The machine may be shared: the load average is printed with
the figures, and the ratio to a trivial page (``/_emulator/console/faults``, no catalog read)
measured in the same run shows what the catalog itself costs.
Run: .venv/bin/python benchmarks/console.py [--seed-size 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _serving import drop_schema, free_port, postgres_schema, schema_url, start_emulator

TARGET_MS = 200.0
PAGE = "/_emulator/console/playbacks"
CASES = [
    ("first page", PAGE, {}),
    ("last page", PAGE, {"oldest": "1"}),
    ("name search", PAGE, {"q": "高等数学"}),
    ("(no catalog: faults)", "/_emulator/console/faults", {}),
]


def measure(base: str, runs: int) -> list[tuple[str, float, int]]:
    """(case, median ms, bytes) of each case."""
    results = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for label, path, params in CASES:
            http.get(path, params=params).raise_for_status()  # warm-up
            times = []
            size = 0
            for _ in range(runs):
                started = time.perf_counter()
                response = http.get(path, params=params)
                body = response.read()
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                size = len(body)
            results.append((label, statistics.median(times), size))
    return results


def run(name: str, database: str, args: argparse.Namespace) -> bool:
    port = free_port()
    process, started = start_emulator(
        port,
        database,
        ["--seed", "large", "--seed-size", str(args.seed_size)],
        probe="/_emulator/console/faults",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        results = measure(base, args.runs)
    finally:
        process.terminate()
        process.wait(timeout=30)
    floor = results[-1][1]
    print(f"\n{name}: seeded and serving in {started:.1f} s; load average {os.getloadavg()[0]:.1f}")
    print(f"  {'case':22} {'median ms':>10} {'vs no catalog':>14} {'KiB':>6}  target")
    ok = True
    for label, median, size in results:
        check = label.startswith("(")
        verdict = "" if check else ("ok" if median < TARGET_MS else "OVER")
        ok = ok and (check or median < TARGET_MS)
        print(
            f"  {label:22} {median:10.1f} {median / floor:13.1f}x {size / 1024:6.0f}  "
            f"{'' if check else f'< {TARGET_MS:.0f} ms '}{verdict}"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        ok = run("SQLite", f"sqlite:///{Path(folder) / 'large.sqlite3'}", args) and ok
    schema = postgres_schema()
    if schema is None:
        print("\nPostgreSQL: unreachable, skipped")
    else:
        try:
            ok = run("PostgreSQL", schema_url(schema), args) and ok
        finally:
            drop_schema(schema)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
