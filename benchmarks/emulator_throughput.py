"""Throughput and latency of the emulator beside its bare floor, under wrk and signed getBasicInfo.

Each round measures, one after the other on this machine: the raw-ASGI floor (``bare_floor.py``)
on SQLite, then ``baijiayun emulator serve`` on SQLite, then the floor and the emulator on
PostgreSQL (1 worker; 2 workers for information). Each server is a subprocess on a loopback port,
seeded with one account and one generated playback; wrk (1 thread, 32 connections, rate limit off)
posts the same signed getBasicInfo. Printed: req/s, p50, p99 and, for each emulator row, the
medians over the rounds of its req/s and p99 as ratios to its floor's in the same round.

Targets (issue 14), one worker: req/s at least 0.75x the floor's, p99 at most 1.5x the floor's
(SQLite and PostgreSQL), and PostgreSQL at least 2,000 req/s. wrk is installed with apt-get
(``apt-get install -y wrk``) when missing.
Run: .venv/bin/python benchmarks/emulator_throughput.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
from _serving import drop_schema, free_port, postgres_schema, schema_url

HERE = Path(__file__).resolve().parent
PARTNER_ID, PARTNER_KEY = 30000001, "bench-partner-key-0123456789"
RPS_TARGET = 0.75
"""The emulator's req/s at least this times its floor's."""
P99_TARGET = 1.5
"""The emulator's p99 latency at most this times its floor's."""
PG_RPS_TARGET = 2000


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def ensure_wrk() -> str:
    """The wrk binary, installed with apt-get (the Debian package ``wrk``) when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("installing wrk: apt-get install -y wrk", file=sys.stderr)
    install = [*sudo, "apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install).returncode != 0:  # stale or missing package lists
        subprocess.run([*sudo, "apt-get", "update", "-q"], check=True)
        subprocess.run(install, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and apt-get could not install it")
    return found


def signed_body(partner_id: int, key: str, room_id: int) -> str:
    params = {
        "partner_id": str(partner_id),
        "room_id": str(room_id),
        "timestamp": str(int(time.time())),
    }
    text = "&".join(f"{k}={params[k]}" for k in sorted(params)) + f"&partner_key={key}"
    params["sign"] = hashlib.md5(text.encode()).hexdigest()
    return urlencode(params)


def wait_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


@contextmanager
def running(command: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    process = subprocess.Popen(
        command,
        cwd=HERE.parent,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(port, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def floor_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(HERE),
        "bare_floor:app",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def emulator_command(port: int, database: str, workers: int) -> list[str]:
    binary = Path(sys.executable).parent / "baijiayun"
    return [
        *([str(binary)] if binary.exists() else [sys.executable, "-m", "baijiayun.cli"]),
        "emulator",
        "serve",
        "--port",
        str(port),
        "--database",
        database,
        "--rate-limit",
        "0",
        "--workers",
        str(workers),
    ]


# The emulator with PostgreSQL round trips in worker threads instead of the async driver.
_THREAD_IO = (
    "import sys\n"
    "from baijiayun.emulator import Emulator, EmulatorConfig\n"
    "from baijiayun.emulator.server import serve\n"
    "config = EmulatorConfig(rate_limit=None, postgres_io='thread')\n"
    "serve(Emulator(sys.argv[1], config), port=int(sys.argv[2]))\n"
)


def thread_io_command(port: int, database: str) -> list[str]:
    return [sys.executable, "-c", _THREAD_IO, database, str(port)]


def seed_floor(port: int) -> str:
    httpx.post(
        f"http://127.0.0.1:{port}/_floor/account",
        data={"partner_id": str(PARTNER_ID), "partner_key": PARTNER_KEY},
    ).raise_for_status()
    return signed_body(PARTNER_ID, PARTNER_KEY, 1)


def seed_emulator(port: int) -> str:
    base = f"http://127.0.0.1:{port}/_emulator"
    httpx.post(f"{base}/reset").raise_for_status()
    account = httpx.post(
        f"{base}/accounts", json={"partner_id": PARTNER_ID, "partner_key": PARTNER_KEY}
    ).json()["result"]
    room = httpx.post(f"{base}/rooms", json={"partner_id": account["partner_id"]}).json()
    room_id = room["result"]["room_id"]
    httpx.post(f"{base}/recordings", json={"room_id": room_id, "status": 100}).raise_for_status()
    return signed_body(PARTNER_ID, PARTNER_KEY, room_id)


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT[unit]


def run_wrk(wrk: str, port: int, body: str, seconds: float, name: str) -> Result:
    url = f"http://127.0.0.1:{port}/openapi/playback/getBasicInfo"
    check = httpx.post(
        url, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    if check.json().get("code") != 0:
        raise SystemExit(f"{name}: the signed call is refused: {check.text}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.body = "{body}"\n'
        )
    try:
        base = [wrk, "-t1", "-c32", "--latency", "-s", script.name]
        subprocess.run([*base, "-d1s", url], check=True, capture_output=True)  # warm-up
        out = subprocess.run(
            [*base, f"-d{max(1, round(seconds))}s", url], check=True, capture_output=True, text=True
        ).stdout
    finally:
        os.unlink(script.name)
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    except (AttributeError, KeyError):
        raise SystemExit(f"{name}: cannot read wrk's output:\n{out}") from None
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: .*", out)
    errors = int(bad.group(1)) if bad else 0
    if sock:
        errors += sum(int(n) for n in re.findall(r"\d+", sock.group(0)))
    return Result(name, rps, p50, p99, errors)


@contextmanager
def pg_schema() -> Iterator[str | None]:
    """The URL of a fresh schema on the PostgreSQL server (dropped afterwards), or None when
    it is unreachable."""
    schema = postgres_schema()
    if schema is None:
        yield None
        return
    try:
        yield schema_url(schema)
    finally:
        drop_schema(schema)


def measure_all(
    wrk: str, seconds: float, folder: str, pg: str | None, compare_io: bool
) -> list[Result]:
    results = []
    sqlite_floor = f"sqlite:///{folder}/floor.sqlite3"
    sqlite_emu = f"sqlite:///{folder}/emulator.sqlite3"
    plan: list[tuple[str, list[str], dict[str, str] | None, bool]] = []
    port = free_port()
    # each emulator right after its floor, so both see much the same machine load
    plan.append(("floor sqlite", floor_command(port), {"BJY_FLOOR_DATABASE": sqlite_floor}, False))
    plan.append(("emulator sqlite", [], None, True))
    if pg:
        plan.append(("floor postgresql", [], {"BJY_FLOOR_DATABASE": pg}, False))
        plan.append(("emulator postgresql x1", [], None, True))
        plan.append(("emulator postgresql x2", [], None, True))
        if compare_io:
            plan.append(("emulator postgresql thread", [], None, True))
    for name, _, env, is_emulator in plan:
        port = free_port()
        if is_emulator:
            database = sqlite_emu if "sqlite" in name else str(pg)
            workers = 2 if name.endswith("x2") else 1
            command = (
                thread_io_command(port, database)
                if name.endswith("thread")
                else emulator_command(port, database, workers)
            )
        else:
            command = floor_command(port)
        with running(command, port, env):
            body = seed_emulator(port) if is_emulator else seed_floor(port)
            results.append(run_wrk(wrk, port, body, seconds, name))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="repeat the set; medians of the rounds shown"
    )
    parser.add_argument(
        "--compare-io",
        action="store_true",
        help="add the emulator on PostgreSQL with blocking round trips in threads (x1)",
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    runs: dict[str, list[Result]] = {}
    ratios: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as folder, pg_schema() as pg:
        for _ in range(args.rounds):
            round_results = {
                r.name: r for r in measure_all(wrk, args.seconds, folder, pg, args.compare_io)
            }
            for result in round_results.values():
                runs.setdefault(result.name, []).append(result)
                kind = "sqlite" if "sqlite" in result.name else "postgresql"
                floor = round_results.get(f"floor {kind}")
                if result.name.startswith("emulator") and floor:
                    ratios.setdefault(result.name, []).append(
                        (result.rps / floor.rps, result.p99_ms / floor.p99_ms)
                    )
    print(
        f"signed getBasicInfo under wrk -t1 -c32, {args.seconds:.0f} s per run, rate limit off, "
        f"{os.cpu_count()} cores, median of {args.rounds} round(s); ratios: to the floor of "
        "the same round"
    )
    print(
        f"{'':28s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s}"
        "  req/s vs floor  p99 vs floor"
    )
    for name, results in runs.items():
        rps = statistics.median(r.rps for r in results)
        p99 = statistics.median(r.p99_ms for r in results)
        line = (
            f"{name:28s} {rps:8.0f} {statistics.median(r.p50_ms for r in results):8.2f} "
            f"{p99:8.2f} {sum(r.errors for r in results):7d}"
        )
        if name in ratios:
            speed = statistics.median(r for r, _ in ratios[name])
            tail = statistics.median(t for _, t in ratios[name])
            line += f"  {speed:5.2f}x (>= {RPS_TARGET})  {tail:5.2f}x (<= {P99_TARGET})"
            if name.endswith("x2") or name.endswith("thread"):
                line += "  (information)"
            else:
                ok = speed >= RPS_TARGET and tail <= P99_TARGET
                if "postgresql" in name:
                    ok = ok and rps >= PG_RPS_TARGET
                    line += f"  >= {PG_RPS_TARGET} req/s"
                line += f"  {'OK' if ok else 'BELOW'}"
        print(line)


if __name__ == "__main__":
    main()
