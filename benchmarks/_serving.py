"""What the benchmarks that serve an emulator share: a free port, the emulator in its own process,
a throw-away PostgreSQL schema, and measured runs in child processes of their own."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
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


def start_emulator(
    port: int, database: str, options: list[str], *, probe: str = "/_emulator/faults"
) -> tuple[subprocess.Popen[bytes], float]:
    """``baijiayun emulator serve`` on ``port`` with ``options``, and the seconds until it serves
    ``probe`` (seeding included; 600 s at most)."""
    binary = Path(sys.executable).parent / "baijiayun"
    command = [str(binary), "emulator", "serve", "--port", str(port), "--database", database]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the emulator exited with {process.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=2)
            return process, time.perf_counter() - started
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"emulator on port {port} did not start")


def schema_url(schema: str) -> str:
    """The PostgreSQL URL whose connections work in ``schema``."""
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"


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


CHILD_OPTIONS = ("partner_id", "partner_key", "base_url")
"""What a child run is told of the account and the emulator (``env`` keys, as options)."""


def add_child_options(parser: argparse.ArgumentParser) -> None:
    """The options a benchmark passes to itself to run one measured kind in a child process."""
    parser.add_argument("--child")
    parser.add_argument("--database", default="")
    parser.add_argument("--partner-id", type=int)
    parser.add_argument("--partner-key")
    parser.add_argument("--base-url")


def run_child(
    script: str, kind: str, env: dict[str, Any], database: str = "", extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Run ``script --child kind`` (its own process: its own peak memory) and return the JSON
    it prints last."""
    command = [sys.executable, script, "--child", kind, "--database", database, *extra]
    for key in CHILD_OPTIONS:
        command += [f"--{key.replace('_', '-')}", str(env[key])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{kind} failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.splitlines()[-1]))
