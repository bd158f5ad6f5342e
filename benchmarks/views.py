"""The mirror's play records against a served emulator with latency: first views sync vs the floor.

Starts ``baijiayun emulator serve --seed large --views N`` (100,000 playbacks and N play records
over the 30 days before today) in its own process on a loopback port, injects ``--latency``
seconds on every call (the emulator's latency fault), then measures, each in a fresh child process
(peak memory is the child's own RSS high-water mark), all through the client's default rate
governor (200 calls per 10 s, the emulator's limit too):

* the floor: a bare loop fetching the same day pages (exportVideoReportBatch, 1,000 a page, each
  day of the 31 until its total), Σ max(1, ceil(records of the day / 1000)) calls;
* the mirror's first views sync: a mirror whose catalog was synced first (``--no-views``) runs
  once with play records (an incremental run: its catalog part is one getList call, counted apart);
* an incremental run with nothing new (today and yesterday again: at most 2 video-data calls);
* the calls a per-room loop would need: getPlaybackPlayRecord for each room and each day.

Targets (issue 15): views calls at most 1.1x the floor, time at most 1.3x the bare loop, mirror
peak memory under 300 MB, an incremental run with nothing new at most 2 video-data calls. The
machine may be shared: the load average is printed with the figures.
Run: .venv/bin/python benchmarks/views.py [--latency 0.02] [--views 200000] [--seed-size 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _serving import add_child_options, free_port, run_child, start_emulator

DAYS = 31
"""The default window: the 30 days before today, and today."""


def child(args: argparse.Namespace) -> None:
    """One measurement in this process; prints a JSON line."""
    from baijiayun import BaiJiaYunClient
    from baijiayun.mirror import Mirror

    client = BaiJiaYunClient(args.partner_id, args.partner_key, base_url=args.base_url)
    started, cpu = time.perf_counter(), time.process_time()
    result: dict[str, Any] = {}
    if args.child == "bare":
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        calls, rows, floor = 0, 0, 0
        for back in range(DAYS - 1, -1, -1):
            day = today - dt.timedelta(days=back)
            page = 1
            while True:
                listing = client.video_data.export_video_report_batch(
                    f"{day} 00:00:00", f"{day} 23:59:59", None, page, 1000
                )
                calls += 1
                rows += len(listing.items)
                if not listing.items or page * 1000 >= listing.total:
                    break
                page += 1
            floor += max(1, math.ceil(listing.total / 1000))
        result = {"rows": rows, "calls": calls, "floor": floor}
    elif args.child == "catalog":
        with Mirror(client, args.database, views=False) as mirror:
            run = mirror.sync()
            rooms = len({r["room_id"] for r in mirror.ls()})
        result = {"rows": run.seen, "calls": run.calls, "rooms": rooms}
    else:
        with Mirror(client, args.database) as mirror:
            run = mirror.sync(incremental=True)
        result = {"rows": run.views_seen, "calls": run.views_calls, "catalog_calls": run.calls}
        result["error"] = run.views_error
    result["seconds"] = time.perf_counter() - started
    result["cpu"] = time.process_time() - cpu
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    client.close()
    print(json.dumps(result))


def measure(kind: str, env: dict[str, Any], database: str = "") -> dict[str, Any]:
    return run_child(__file__, kind, env, database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--views", type=int, default=200_000)
    parser.add_argument("--seed-size", type=int, default=100_000)
    parser.add_argument("--rate-limit", type=int, default=200, help="emulator calls per 10 s")
    add_child_options(parser)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from baijiayun.emulator.seed_large import LARGE_ACCOUNT

    load_before = os.getloadavg()
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="bjy-views-bench-"))
    emulator, seeded_in = start_emulator(
        port,
        f"sqlite:///{work / 'emulator.db'}",
        [
            *("--seed", "large", "--seed-size", str(args.seed_size), "--views", str(args.views)),
            *("--rate-limit", str(args.rate_limit)),
        ],
    )
    base_url = f"http://127.0.0.1:{port}"
    env = {**LARGE_ACCOUNT, "base_url": base_url}
    quiet = 10.5 if args.rate_limit else 0.0  # each child starts with an empty rate window
    database = f"sqlite:///{work / 'mirror.db'}"

    def run(kind: str) -> dict[str, Any]:
        time.sleep(quiet)
        return measure(kind, env, database)

    try:
        httpx.post(
            f"{base_url}/_emulator/faults",
            json={"endpoint": "*", "kind": "latency", "value": args.latency},
        )
        catalog = run("catalog")
        bare = run("bare")
        first = run("views")
        again = run("views")
    finally:
        emulator.terminate()
        emulator.wait(10)
    per_room = catalog["rooms"] * DAYS
    print(
        f"seed large ({args.seed_size:,} playbacks, {catalog['rooms']:,} rooms, {args.views:,} "
        f"play records), ready in {seeded_in:.1f} s; latency {args.latency * 1000:.0f} ms per "
        f"call; rate limit {args.rate_limit or 'off'} per 10 s; {DAYS} days"
    )
    load_after = os.getloadavg()
    print(
        f"load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.2f}' for x in load_after)}; {os.cpu_count()} CPUs"
    )
    print(
        f"{'run':34} {'records':>8} {'calls':>8} {'x floor':>8} {'seconds':>8} {'x bare':>7} "
        f"{'CPU s':>6} {'peak MB':>8}"
    )
    for name, r in (
        ("bare day-page loop (floor)", bare),
        ("mirror first views sync", first),
        ("mirror incremental, nothing new", again),
    ):
        print(
            f"{name:34} {r['rows']:>8} {r['calls']:>8} {r['calls'] / bare['floor']:>8.3f} "
            f"{r['seconds']:>8.2f} {r['seconds'] / bare['seconds']:>7.2f} {r['cpu']:>6.1f} "
            f"{r['peak_mb']:>8.0f}"
        )
    print(f"{'per-room loop (calls it would need)':34} {'':>8} {per_room:>8} "
          f"{per_room / bare['floor']:>8.0f}")  # fmt: skip
    print(
        f"floor Σ max(1, ceil(day/1000)) = {bare['floor']} calls; the mirror's runs also made "
        f"{first['catalog_calls']} and {again['catalog_calls']} getList call(s) (incremental "
        f"catalog); views errors: {first['error']!r}, {again['error']!r}"
    )
    checks = {
        "calls <= 1.1x floor": first["calls"] <= 1.1 * bare["floor"],
        "time <= 1.3x bare": first["seconds"] <= 1.3 * bare["seconds"],
        "peak < 300 MB": first["peak_mb"] < 300,
        "incremental <= 2 calls": again["calls"] <= 2,
    }
    print("targets: " + ", ".join(f"{k}: {'met' if ok else 'MISSED'}" for k, ok in checks.items()))


if __name__ == "__main__":
    main()
