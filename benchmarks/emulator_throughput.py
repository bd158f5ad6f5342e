"""Throughput and latency of ``baijiayun emulator serve`` under signed getBasicInfo calls.

Starts the real server (uvicorn, one worker) as a subprocess on a loopback port, seeds one account
and one playback through the admin API, then loads it from a separate process with keep-alive
connections built on raw asyncio streams (so the load generator is not the bottleneck). Prints
requests/s and latency percentiles for SQLite and, when reachable, PostgreSQL.

Target (issue 3): at least 2,000 requests/s with p99 under 25 ms on SQLite.
Run: .venv/bin/python benchmarks/emulator_throughput.py [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

POSTGRES_URL = os.environ.get(
    "BAIJIAYUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign(params: dict[str, str], key: str) -> str:
    text = "&".join(f"{k}={params[k]}" for k in sorted(params)) + f"&partner_key={key}"
    return hashlib.md5(text.encode()).hexdigest()


def start_server(database: str, port: int) -> subprocess.Popen[bytes]:
    binary = Path(sys.executable).parent / "baijiayun"
    process = subprocess.Popen(
        [
            str(binary),
            "emulator",
            "serve",
            "--port",
            str(port),
            "--database",
            database,
            "--rate-limit",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/_emulator/reset")
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server on port {port} did not start")


def prepare(port: int) -> tuple[int, str, int]:
    base = f"http://127.0.0.1:{port}/_emulator"
    account = httpx.post(f"{base}/accounts", json={}).json()["result"]
    room = httpx.post(f"{base}/rooms", json={"partner_id": account["partner_id"]}).json()["result"][
        "room_id"
    ]
    httpx.post(f"{base}/recordings", json={"room_id": room, "status": 100})
    return account["partner_id"], account["partner_key"], room


def request_bytes(port: int, partner_id: int, key: str, room: int) -> bytes:
    params = {
        "room_id": str(room),
        "partner_id": str(partner_id),
        "timestamp": str(int(time.time())),
    }
    params["sign"] = sign(params, key)
    body = urlencode(params).encode()
    head = (
        f"POST /openapi/playback/getBasicInfo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    port: int, payload: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200") or (
                b'"code": 0' not in body and b'"code":0' not in body
            ):
                errors.append(1)
    finally:
        writer.close()


def load(
    port: int, payload: bytes, seconds: float, connections: int, queue: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(_connection(port, payload, until, latencies, errors) for _ in range(connections))
        )

    started = time.perf_counter()
    asyncio.run(main())
    queue.put((latencies, len(errors), time.perf_counter() - started))


def measure(database: str, seconds: float, connections: int) -> dict[str, float]:
    port = free_port()
    server = start_server(database, port)
    try:
        partner_id, key, room = prepare(port)
        payload = request_bytes(port, partner_id, key, room)
        queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        warm = multiprocessing.Process(target=load, args=(port, payload, 1.0, connections, queue))
        warm.start()
        queue.get()
        warm.join()
        worker = multiprocessing.Process(
            target=load, args=(port, payload, seconds, connections, queue)
        )
        worker.start()
        latencies, errors, elapsed = queue.get()
        worker.join()
    finally:
        server.terminate()
        server.wait(10)
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def postgres_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except Exception:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        targets = {"sqlite": f"sqlite:///{folder}/bench.sqlite3"}
        if postgres_reachable():
            targets["postgresql"] = POSTGRES_URL
        print(
            f"emulator throughput: signed getBasicInfo, {args.connections} keep-alive connections, "
            f"{args.seconds:.0f} s, {os.cpu_count()} cores"
        )
        for name, url in targets.items():
            result = measure(url, args.seconds, args.connections)
            verdict = "OK" if result["rps"] >= 2000 and result["p99_ms"] < 25 else "BELOW TARGET"
            print(
                f"{name:10s} {result['rps']:8.0f} req/s  p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms"
                f"  errors {result['errors']}  (target >= 2000 req/s, p99 < 25 ms: ratio "
                f"{result['rps'] / 2000:.2f}x, {verdict})"
            )


if __name__ == "__main__":
    main()
