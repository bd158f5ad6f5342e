"""The catalog mirror against a served emulator with latency: bare page loop vs first full sync.

Starts ``baijiayun emulator serve --seed demo`` in its own process on a loopback port, injects
``--latency`` seconds on every call, then measures, each in a fresh child process (so peak memory is
the measured code's own): a bare loop fetching the same getList pages (1,000 per page, crop
versions), the mirror's first full sync on SQLite and on PostgreSQL (when reachable), and the API
calls of an incremental run after no change and after 100 changes (50 new recordings, 50 renames).

Targets (issue 11): first full sync at most 1.3x the bare loop on SQLite; an incremental run with no
changes at most 2 calls; mirror peak memory under 300 MB. The demo seed has 1,000 playbacks; the
100,000-playback ``--seed large`` comes with the new emulator layout (``--seed large`` here then).
Run: .venv/bin/python benchmarks/mirror.py [--latency 0.02] [--seed demo] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

POSTGRES_URL = os.environ.get(
    "BAIJIAYUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator(port: int, seed: str, database: str) -> subprocess.Popen[bytes]:
    binary = Path(sys.executable).parent / "baijiayun"
    command = [str(binary), "emulator", "serve", "--port", str(port), "--database", database]
    process = subprocess.Popen(
        [*command, "--seed", seed, "--rate-limit", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_emulator/faults")
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"emulator on port {port} did not start")


def child(args: argparse.Namespace) -> None:
    """One measurement in this process; prints a JSON line."""
    from baijiayun import BaiJiaYunClient
    from baijiayun.mirror import Mirror

    client = BaiJiaYunClient(args.partner_id, args.partner_key, base_url=args.base_url)
    started = time.perf_counter()
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
    # ru_maxrss is KiB on Linux: this process's peak, the emulator runs elsewhere.
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    client.close()
    print(json.dumps(result))


def measure(kind: str, env: dict[str, Any], database: str = "") -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--database", database]
    command += ["--page-size", str(env["page_size"])]
    for key in ("partner_id", "partner_key", "base_url"):
        command += [f"--{key.replace('_', '-')}", str(env[key])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{kind} failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def postgres_schema() -> str | None:
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
    parser.add_argument("--seed", default="demo")
    parser.add_argument(
        "--page-size", type=int, default=1000, help="smaller pages make a small seed many pages"
    )
    parser.add_argument("--child")
    parser.add_argument("--database", default="")
    parser.add_argument("--partner-id", type=int)
    parser.add_argument("--partner-key")
    parser.add_argument("--base-url")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from baijiayun.emulator.seed import DEMO_ACCOUNTS

    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="bjy-mirror-bench-"))
    emulator = start_emulator(port, args.seed, f"sqlite:///{work / 'emulator.db'}")
    base_url = f"http://127.0.0.1:{port}"
    env = {**DEMO_ACCOUNTS[0], "base_url": base_url, "page_size": args.page_size}
    schema = postgres_schema()
    try:
        httpx.post(
            f"{base_url}/_emulator/faults",
            json={"endpoint": "*", "kind": "latency", "value": args.latency},
        )
        rows: list[tuple[str, dict[str, Any]]] = [("bare page loop", measure("bare", env))]
        sqlite_url = f"sqlite:///{work / 'mirror.db'}"
        rows.append(("mirror first sync, SQLite", measure("full", env, sqlite_url)))
        if schema is not None:
            sep = "&" if "?" in POSTGRES_URL else "?"
            pg_url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
            rows.append(("mirror first sync, PostgreSQL", measure("full", env, pg_url)))
        rows.append(("incremental, no change", measure("incremental", env, sqlite_url)))
        change_catalog(base_url, env, 100)
        rows.append(("incremental, 100 changes", measure("incremental", env, sqlite_url)))
    finally:
        emulator.terminate()
        emulator.wait(10)
        if schema is not None:
            drop_schema(schema)
    bare = rows[0][1]["seconds"]
    print(
        f"seed {args.seed}, {args.page_size} per page, latency {args.latency * 1000:.0f} ms per call"
    )
    print(
        f"{'run':32} {'rows':>8} {'calls':>6} {'seconds':>8} {'rows/s':>9} {'x bare':>7} {'peak MB':>8}"
    )
    for name, r in rows:
        print(
            f"{name:32} {r['rows']:>8} {r['calls']:>6} {r['seconds']:>8.2f} "
            f"{r['rows'] / r['seconds']:>9.0f} {r['seconds'] / bare:>7.2f} {r['peak_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main()
