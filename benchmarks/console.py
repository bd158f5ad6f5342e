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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

POSTGRES_URL = os.environ.get(
    "BAIJIAYUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TARGET_MS = 200.0
PAGE = "/_emulator/console/playbacks"
CASES = [
    ("first page", PAGE, {}),
    ("last page", PAGE, {"oldest": "1"}),
    ("name search", PAGE, {"q": "高等数学"}),
    ("(no catalog: faults)", "/_emulator/console/faults", {}),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(database: str, size: int) -> tuple[subprocess.Popen[bytes], str, float]:
    """The emulator on the seeded catalog, its URL and the seconds it took to start serving."""
    port = free_port()
    binary = Path(sys.executable).parent / "baijiayun"
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            *(str(binary), "emulator", "serve", "--port", str(port), "--database", database),
            *("--seed", "large", "--seed-size", str(size)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with {process.returncode}")
        try:
            httpx.get(f"{base}/_emulator/console/faults", timeout=2)
            return process, base, time.perf_counter() - started
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the emulator did not start within 600 s")


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


def postgres_schema() -> str | None:
    """A fresh schema on the PostgreSQL server, or None when it is unreachable."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    schema = f"bjy_bench_{uuid.uuid4().hex[:10]}"
    try:
        engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
    except OperationalError:
        return None
    return schema


def drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


def run(name: str, database: str, args: argparse.Namespace) -> bool:
    process, base, started = serve(database, args.seed_size)
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
        sep = "&" if "?" in POSTGRES_URL else "?"
        try:
            ok = (
                run("PostgreSQL", f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}", args)
                and ok
            )
        finally:
            drop_schema(schema)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
