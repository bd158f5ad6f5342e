"""The catalog mirror against a served emulator with latency: bare page loop vs first full sync.

Starts ``baijiayun emulator serve --seed large`` (100,000 playbacks, crop versions on top) in its
own process on a loopback port, injects ``--latency`` seconds on every call (the emulator's latency
fault), then measures, each in a fresh child process (so peak memory is the measured process's own
RSS high-water mark): a bare loop fetching the same getList pages (1,000 per page, crop versions),
the mirror's first full sync on SQLite and on PostgreSQL (when reachable), and the API calls of an
incremental run after no change and after 100 changes (50 new recordings, 50 renames).

Targets (issue 11): first full sync at most 1.3x the bare loop on SQLite; an incremental run with no
changes at most 2 calls; mirror peak memory under 300 MB. ``CPU s`` is the measured process's own
CPU time (the machine may be shared: the load average is printed with the figures). The emulator keeps the account's default
limit (200 calls per 10 s, ``--rate-limit 0`` turns it off); each run then starts after a quiet
period so every child begins with an empty window, as its own rate governor assumes.
Run: .venv/bin/python benchmarks/mirror.py [--latency 0.02] [--seed large] [--seed-size 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _serving import (
    add_child_options,
    drop_schema,
    free_port,
    postgres_schema,
    run_child,
    schema_url,
    start_emulator,
)


def child(args: argparse.Namespace) -> None:
    """One measurement in this process; prints a JSON line."""
    from baijiayun import BaiJiaYunClient
    from baijiayun.mirror import Mirror

    client = BaiJiaYunClient(args.partner_id, args.partner_key, base_url=args.base_url)
    started, cpu = time.perf_counter(), time.process_time()
    result: dict[str, Any] = {}
    if args.child == "bare":
        rows, page = 0, 1
        while True:
            listing = client.playback.get_list(None, page, args.page_size, crop_video=1)
            rows += len(listing.items)
            if not listing.items or page * args.page_size >= listing.total:
                break
            page += 1
        result = {"rows": rows, "calls": page}
    else:
        with Mirror(client, args.database, page_size=args.page_size) as mirror:
            run = mirror.sync(incremental=args.child == "incremental")
        result = {"rows": run.seen, "calls": run.calls}
    result["seconds"] = time.perf_counter() - started
    result["cpu"] = time.process_time() - cpu
    # ru_maxrss is KiB on Linux: this process's peak, the emulator runs elsewhere.
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    client.close()
    print(json.dumps(result))


def measure(kind: str, env: dict[str, Any], database: str = "") -> dict[str, Any]:
    return run_child(__file__, kind, env, database, ("--page-size", str(env["page_size"])))


def change_catalog(base_url: str, env: dict[str, Any], count: int) -> None:
    """``count`` changes: half new recordings (admin API), half renames through the SDK."""
    from baijiayun import BaiJiaYunClient

    admin = f"{base_url}/_emulator"
    for _ in range(count // 2):
        room = httpx.post(f"{admin}/rooms", json={"partner_id": env["partner_id"]}).json()
        httpx.post(
            f"{admin}/recordings", json={"room_id": room["result"]["room_id"], "status": 100}
        )
    with BaiJiaYunClient(env["partner_id"], env["partner_key"], base_url=base_url) as client:
        items = client.playback.get_list(None, 1, count, crop_video=0).items
        for item in items[: count - count // 2]:
            client.playback.update(item.room_id, f"{item.name} (renamed)", item.session_id or None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--seed", default="large", choices=("demo", "large"))
    parser.add_argument("--seed-size", type=int, default=100_000, help="playbacks of --seed large")
    parser.add_argument(
        "--rate-limit", type=int, default=200, help="the emulator's calls per 10 s (0 = off)"
    )
    parser.add_argument(
        "--page-size", type=int, default=1000, help="smaller pages make a small seed many pages"
    )
    add_child_options(parser)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from baijiayun.emulator.seed import DEMO_ACCOUNTS
    from baijiayun.emulator.seed_large import LARGE_ACCOUNT

    load_before = os.getloadavg()
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="bjy-mirror-bench-"))
    emulator, seeded_in = start_emulator(
        port,
        f"sqlite:///{work / 'emulator.db'}",
        [
            "--seed",
            args.seed,
            "--seed-size",
            str(args.seed_size),
            "--rate-limit",
            str(args.rate_limit),
        ],
    )
    base_url = f"http://127.0.0.1:{port}"
    account = LARGE_ACCOUNT if args.seed == "large" else DEMO_ACCOUNTS[0]
    env = {**account, "base_url": base_url, "page_size": args.page_size}
    quiet = 10.5 if args.rate_limit else 0.0  # the emulator's window is 10 s

    def run(kind: str, database: str = "") -> dict[str, Any]:
        time.sleep(quiet)
        return measure(kind, env, database)

    schema = postgres_schema()
    try:
        httpx.post(
            f"{base_url}/_emulator/faults",
            json={"endpoint": "*", "kind": "latency", "value": args.latency},
        )
        rows: list[tuple[str, dict[str, Any]]] = [("bare page loop", run("bare"))]
        sqlite_url = f"sqlite:///{work / 'mirror.db'}"
        rows.append(("mirror first sync, SQLite", run("full", sqlite_url)))
        if schema is not None:
            pg_url = schema_url(schema)
            rows.append(("mirror first sync, PostgreSQL", run("full", pg_url)))
        rows.append(("incremental, no change", run("incremental", sqlite_url)))
        time.sleep(quiet)
        change_catalog(base_url, env, 100)
        rows.append(("incremental, 100 changes", run("incremental", sqlite_url)))
    finally:
        emulator.terminate()
        emulator.wait(10)
        if schema is not None:
            drop_schema(schema)
    bare = rows[0][1]["seconds"]
    size = f" ({args.seed_size:,} playbacks)" if args.seed == "large" else ""
    print(
        f"seed {args.seed}{size}, ready in {seeded_in:.1f} s; {args.page_size} per page, "
        f"latency {args.latency * 1000:.0f} ms per call, rate limit "
        f"{args.rate_limit or 'off'} per 10 s"
    )
    load_after = os.getloadavg()
    print(
        f"load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.2f}' for x in load_after)}; {os.cpu_count()} CPUs"
    )
    print(
        f"{'run':32} {'rows':>8} {'calls':>6} {'seconds':>8} {'rows/s':>9} {'x bare':>7} "
        f"{'CPU s':>6} {'peak MB':>8}"
    )
    for name, r in rows:
        print(
            f"{name:32} {r['rows']:>8} {r['calls']:>6} {r['seconds']:>8.2f} "
            f"{r['rows'] / r['seconds']:>9.0f} {r['seconds'] / bare:>7.2f} {r['cpu']:>6.1f} "
            f"{r['peak_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main()
