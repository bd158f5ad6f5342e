"""Fuzz ``baijiayun emulator serve`` on a real port and report what hostile input got back.

Starts the server as a subprocess (SQLite file database, and PostgreSQL in a schema of its own
when reachable), seeds an account with a playback through the admin API, then sends generated
requests: every OpenAPI endpoint with valid, hostile and missing parameters (signed, so the
rules are reached), unsigned and oversize bodies, the player page and the admin API. Prints
requests, 5xx answers, OpenAPI replies that are not the JSON envelope, code 0 for input that
breaks a rule declared in ``_endpoints.py``, envelopes reporting an unexpected server error, and
the server process's RSS before and after.

Targets (issue 9): 0, 0, 0, and memory within 50 MB of the start.
Run: .venv/bin/python benchmarks/fuzz_report.py [--requests 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from baijiayun import _endpoints as ep

POSTGRES_URL = os.environ.get(
    "BAIJIAYUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
HOSTILE = [
    "", " ", "0", "-1", "９", "١٠", "²", "1\n", " 1", "\x00", "1\x00", "NaN", "1e3", "9" * 19,
    str(2**63), str(-(2**63) - 1), "1" * 5000, "2026-02-30", "2026-01-01\n", ",", "1-2",
    "ftp://x", "é" * 300, "null", "[]", "<script>", "%00", "' OR 1=1 --",
]  # fmt: skip
ADMIN = [
    ("POST", "/_emulator/accounts"), ("GET", "/_emulator/accounts/{id}"),
    ("POST", "/_emulator/rooms"), ("POST", "/_emulator/rooms/{id}/delete"),
    ("POST", "/_emulator/recordings"), ("POST", "/_emulator/recordings/advance"),
    ("POST", "/_emulator/recordings/finish"), ("POST", "/_emulator/crops"),
    ("POST", "/_emulator/ppt"), ("GET", "/_emulator/rooms/{id}/playbacks"),
    ("GET", "/_emulator/callbacks"), ("GET", "/_emulator/stats"), ("GET", "/_emulator/faults"),
]  # fmt: skip
# with HTTP 500: an unexpected exception (docs/protocol.md#decisions, logged by the server)
INTERNAL_ERROR = 1
FIELDS = ["partner_id", "room_id", "session_id", "title", "name", "status", "length", "long_term",
          "product_type", "date", "auto", "include_deleted", "create_time", "x"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign(params: dict[str, str], key: str) -> str:
    canonical = "&".join(f"{k}={params[k]}" for k in sorted(params)) + f"&partner_key={key}"
    return hashlib.md5(canonical.encode("utf-8")).hexdigest()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(database: str, port: int) -> subprocess.Popen[bytes]:
    binary = Path(sys.executable).parent / "baijiayun"
    command = [str(binary), "emulator", "serve", "--port", str(port), "--database", database]
    process = subprocess.Popen(
        [*command, "--rate-limit", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
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


@dataclass
class Tally:
    """What the server answered."""

    requests: int = 0
    server_errors: int = 0
    not_envelope: int = 0
    code0_invalid: int = 0
    internal_errors: int = 0
    transport_errors: int = 0


class Fuzzer:
    """Generates requests from a seeded random source and checks each answer."""

    def __init__(self, base: str, seed: int) -> None:
        self.base = base
        self.rng = random.Random(seed)
        self.http = httpx.Client(base_url=base, timeout=30)
        admin = f"{base}/_emulator"
        self.account = httpx.post(f"{admin}/accounts", json={}).json()["result"]
        room = httpx.post(f"{admin}/rooms", json={"partner_id": self.account["partner_id"]})
        self.room = room.json()["result"]["room_id"]
        httpx.post(f"{admin}/recordings", json={"room_id": self.room, "status": 100})
        httpx.post(f"{admin}/crops", json={"room_id": self.room})
        self.tally = Tally()

    def value(self, param: ep.Param) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.4:
            return rng.choice(HOSTILE)
        if roll < 0.5:
            return "".join(chr(rng.randrange(1, 0xD7FF)) for _ in range(rng.randrange(0, 20)))
        if param.choices is not None:
            return str(rng.choice(param.choices))
        if param.kind == "int":
            if param.name.endswith("room_id"):
                return str(rng.choice([self.room, 1, self.room + 1]))
            return str(rng.randrange(param.minimum or 0, (param.maximum or 2**62) + 1))
        if param.kind == "date":
            return f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        if param.kind == "room_ids":
            return ",".join(rng.choice([str(self.room), "5", f"{self.room}-1"]) for _ in range(3))
        if param.kind == "url":
            return f"https://cb.example/{rng.randrange(10**6)}"
        return f"name {rng.randrange(10**6)}"

    def openapi(self) -> None:
        rng = self.rng
        endpoint = rng.choice(list(ep.ENDPOINTS.values()))
        sent = {p.name: self.value(p) for p in endpoint.params if rng.random() < 0.85}
        if rng.random() < 0.2:
            sent[rng.choice(["x", "extra", "a\x00"])] = rng.choice(HOSTILE)
        form = dict(
            sent, partner_id=str(self.account["partner_id"]), timestamp=str(int(time.time()))
        )
        form["sign"] = sign(form, self.account["partner_key"])
        roll = rng.random()
        if roll < 0.05:
            form["sign"] = "0" * 32
        elif roll < 0.06:
            form["partner_id"] = rng.choice(HOSTILE)
        elif roll < 0.065:
            self.check(endpoint, sent, "POST", endpoint.path, content=b"a=" + b"1" * 2_000_000)
            return
        elif roll < 0.08:
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
            self.check(endpoint, sent, "POST", endpoint.path, content=junk)
            return
        self.check(endpoint, sent, "POST", endpoint.path, data=form, judge=roll >= 0.06)

    def check(
        self, endpoint: ep.Endpoint, sent: dict[str, str], method: str, path: str,
        judge: bool = False, **request: Any,
    ) -> None:  # fmt: skip
        response = self.send(method, path, **request)
        if response is None:
            return
        try:
            body = response.json()
            envelope = isinstance(body, dict) and set(body) == {"code", "msg", "data", "ts"}
        except ValueError:
            envelope = False
        if response.status_code == 500 and envelope and body["code"] == INTERNAL_ERROR:
            self.tally.internal_errors += (
                1  # the envelope of an unexpected exception (docs/protocol.md#decisions)
            )
            return
        if response.status_code not in (200, 413) or not envelope:
            self.tally.not_envelope += 1
            return
        if judge and body["code"] == 0 and invalid(endpoint, sent):
            self.tally.code0_invalid += 1

    def send(self, method: str, path: str, **request: Any) -> httpx.Response | None:
        self.tally.requests += 1
        try:
            response = self.http.request(method, path, **request)
        except httpx.TransportError:
            self.tally.transport_errors += 1
            self.http.close()
            self.http = httpx.Client(base_url=self.base, timeout=30)
            return None
        if response.status_code >= 500:
            self.tally.server_errors += 1
        return response

    def player(self) -> None:
        rng = self.rng
        params = {
            "classid": rng.choice([*HOSTILE, str(self.room)]),
            "token": rng.choice(HOSTILE),
        }
        if rng.random() < 0.5:
            params["session_id"] = rng.choice(HOSTILE)
        self.send("GET", "/web/playback/index", params=params)

    def admin(self) -> None:
        rng = self.rng
        method, path = rng.choice(ADMIN)
        path = path.replace("{id}", rng.choice(["1", str(self.room), "9" * 30]))
        pool: list[Any] = [None, True, 1.5, -1, 2**64, [1], {"a": 1}, "x" * 300, *HOSTILE[:8]]
        body = json.dumps({rng.choice(FIELDS): rng.choice(pool) for _ in range(rng.randrange(4))})
        if rng.random() < 0.1:
            body = rng.choice(['{"value": NaN}', "{", "[" * 5000, "[1]"])
        self.send(method, path, content=body, headers={"content-type": "application/json"})

    def run(self, count: int) -> Tally:
        for _ in range(count):
            roll = self.rng.random()
            if roll < 0.7:
                self.openapi()
            elif roll < 0.85:
                self.player()
            else:
                self.admin()
        self.http.close()
        return self.tally


def invalid(endpoint: ep.Endpoint, sent: dict[str, str]) -> bool:
    """True when a value breaks the rule ``_endpoints.py`` declares for it."""
    for param in endpoint.params:
        raw = sent.get(param.name)
        if raw is None or (raw == "" and param.kind != "str"):
            if param.required:
                return True
            continue
        try:
            param.check_wire(raw)
        except ValueError:
            return True
    return False


def run_one(label: str, database: str, count: int, seed: int) -> None:
    port = free_port()
    server = start_server(database, port)
    try:
        time.sleep(0.5)
        before = rss_mb(server.pid)
        started = time.perf_counter()
        tally = Fuzzer(f"http://127.0.0.1:{port}", seed).run(count)
        elapsed = time.perf_counter() - started
        after = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"{label:<11} requests {tally.requests:>6}  5xx {tally.server_errors}  "
        f"not envelope {tally.not_envelope}  code 0 for invalid {tally.code0_invalid}  "
        f"internal errors {tally.internal_errors}  "
        f"dropped {tally.transport_errors}  RSS {before:.0f} -> {after:.0f} MB "
        f"({after - before:+.0f})  {tally.requests / elapsed:.0f} req/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"emulator fuzz report: {args.requests} generated requests per database, seed {args.seed}"
    )
    with tempfile.TemporaryDirectory() as folder:
        run_one("sqlite-file", f"sqlite:///{folder}/fuzz.sqlite3", args.requests, args.seed)
    schema = f"bjy_fuzz_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        print(f"postgresql  skipped: {str(exc).splitlines()[0]}")
        return
    try:
        joiner = "&" if "?" in POSTGRES_URL else "?"
        url = f"{POSTGRES_URL}{joiner}options=-csearch_path%3D{schema}"
        run_one("postgresql", url, args.requests, args.seed)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


if __name__ == "__main__":
    main()
