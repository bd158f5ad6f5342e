"""Bulk work under the account limit (issue 10, "Show it"): elapsed over the floor, refusals, calls.

The emulator runs on a real loopback port with its default rate limit (200 calls per 10 s;
``--tiny``: 20 per 1 s and smaller counts) and 20 ms of latency injected on every call. Every
figure about calls comes from the emulator's own statistics (``Emulator.calls``); each scenario
has an account of its own. Everything goes through the real client and CLI:
  (a) 600 get_basic_info from one async client, 64 at once (the client's own governor);
  (b) 3 processes x 200 sharing one RedisRateGovernor (``rate_limit=``);
  (c) 2 CLI processes at once, each ``playback list --all --page-size 2`` over the demo seed
      (500 calls; the CLI's default budget, one file governor per machine);
  (d) 10,000 ``cached_player_url`` for 50 playbacks from 4 processes started together on an empty
      RedisTokenCache, no prefetch (token API calls, URLs per second);
  (e) ``baijiayun playback bulk rename`` of 1,000 rows killed with SIGKILL half-way and run again
      (write calls counted by the emulator: 1,000; final names checked).
All with ``max_retries=0``, so a rate-limit answer is a failure, not a hidden wait.
Targets: (a)-(c) at most 1.1x the floor and 0 rate-limit answers; (d) at most 50 token calls;
(e) exactly once.
Run: .venv/bin/python benchmarks/bulk_under_limit.py [--tiny]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from baijiayun import (
    AsyncBaiJiaYunClient,
    BaiJiaYunClient,
    BaiJiaYunError,
    RedisRateGovernor,
    RedisTokenCache,
)
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS
from baijiayun.emulator.server import BackgroundServer

REDIS_URL = os.environ.get("BAIJIAYUN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLI = Path(sys.executable).parent / "baijiayun"


def floor(calls_total: int, calls: int, period: float) -> float:
    """The least time ``calls_total`` calls can take under ``calls`` per ``period``."""
    return (math.ceil(calls_total / calls) - 1) * period


class Service:
    """The emulator on a real port: the demo seed, plus one fresh account per scenario."""

    def __init__(self, calls: int, period: float) -> None:
        self.calls, self.period = calls, period
        config = EmulatorConfig(rate_limit=calls, rate_period=period)
        self.emulator = Emulator("sqlite://", config)
        self.emulator.reset()
        self.emulator.seed_demo()
        self.emulator.inject_fault("*", "latency", 0.02)
        self.server = BackgroundServer(self.emulator).start()
        self.base_url = self.server.base_url

    def account(self, playbacks: int) -> tuple[int, str, list[int]]:
        """A new account with ``playbacks`` ready playbacks: (partner_id, partner_key, rooms)."""
        account = self.emulator.create_account()
        rooms = []
        for _ in range(playbacks):
            room = self.emulator.create_room(account["partner_id"])["room_id"]
            self.emulator.create_recording(room, status=100)
            rooms.append(room)
        return account["partner_id"], account["partner_key"], rooms

    def refused(self, partner_id: int) -> int:
        """Calls of the account answered "too many requests"."""
        return self.emulator.calls(partner_id, outcome="rate_limited")

    def close(self) -> None:
        self.server.stop()
        self.emulator.close()


def _env(service: Service, partner_id: int, key: str, cache_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "BAIJIAYUN_PARTNER_ID": str(partner_id),
        "BAIJIAYUN_PARTNER_KEY": key,
        "BAIJIAYUN_BASE_URL": service.base_url,
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
        "BAIJIAYUN_RATE_LIMIT": f"{service.calls}/{service.period:g}",
        "BAIJIAYUN_CACHE_DIR": cache_dir,
        "BAIJIAYUN_REDIS_URL": "",
    }


async def storm(
    base_url: str, partner_id: int, key: str, room: int, total: int, at_once: int, rate_limit: Any
) -> tuple[float, float, int]:
    """``total`` get_basic_info, ``at_once`` tasks; (started, ended, failures)."""
    failures = 0
    async with AsyncBaiJiaYunClient(
        partner_id, key, base_url=base_url, max_retries=0, rate_limit=rate_limit
    ) as client:
        todo = iter(range(total))

        async def worker() -> None:
            nonlocal failures
            for _ in todo:
                try:
                    await client.playback.get_basic_info(room)
                except BaiJiaYunError:
                    failures += 1

        started = time.time()
        await asyncio.gather(*(worker() for _ in range(at_once)))
    return started, time.time(), failures


def scenario_a(service: Service, total: int) -> None:
    pid, key, rooms = service.account(1)
    budget = (service.calls, service.period)
    started, ended, failures = asyncio.run(
        storm(service.base_url, pid, key, rooms[0], total, 64, budget)
    )
    ratio = (ended - started) / floor(total, *budget)
    print(
        f"(a) {total} get_basic_info, one async client, 64 at once: {ratio:.2f}x the floor, "
        f"{service.refused(pid)} rate-limit answers, {failures} failures"
    )


def _spawn(mode: str, *args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, "--child", mode, *(str(a) for a in args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)


def _child_b(base_url: str, pid: str, key: str, room: str, total: str, *budget: str) -> None:
    calls, period, redis_key = int(budget[0]), float(budget[1]), budget[2]
    governor = RedisRateGovernor(REDIS_URL, key=redis_key, calls=calls, period=period)
    started, ended, failures = asyncio.run(
        storm(base_url, int(pid), key, int(room), int(total), 16, governor)
    )
    print(json.dumps({"started": started, "ended": ended, "failures": failures}))


def scenario_b(service: Service, per_process: int) -> None:
    pid, key, rooms = service.account(1)
    redis_key = f"bjy:bench:{uuid.uuid4().hex}"
    children = [
        _spawn(
            "b",
            service.base_url,
            pid,
            key,
            rooms[0],
            per_process,
            service.calls,
            service.period,
            redis_key,
        )
        for _ in range(3)
    ]
    reports = [json.loads(child.communicate()[0]) for child in children]
    # from the first call of any process to the last answer (process start-up not counted)
    elapsed = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    ratio = elapsed / floor(3 * per_process, service.calls, service.period)
    print(
        f"(b) 3 processes x {per_process} sharing Redis: {ratio:.2f}x the floor, "
        f"{service.refused(pid)} rate-limit answers, {sum(r['failures'] for r in reports)} failures"
    )


def scenario_c(service: Service, page_size: int, cache_dir: str) -> None:
    account = DEMO_ACCOUNTS[0]
    pid = int(account["partner_id"])
    env = _env(service, pid, str(account["partner_key"]), cache_dir)
    command = [str(CLI), "playback", "list", "--all", "--page-size", str(page_size)]
    command += ["--max-retries", "0"]
    started = time.perf_counter()
    children = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [child.communicate() for child in children]
    elapsed = time.perf_counter() - started
    codes = [child.returncode for child in children]
    listed = [
        len(json.loads(out)) if code == 0 else 0
        for (out, _), code in zip(outputs, codes, strict=True)
    ]
    calls = service.emulator.calls(pid, "getList")
    ratio = elapsed / floor(calls, service.calls, service.period)
    print(
        f"(c) 2 CLI processes, playback list --all --page-size {page_size}: {calls} calls, "
        f"{ratio:.2f}x the floor (process start-up included), "
        f"{service.refused(pid)} rate-limit answers, exit codes {codes}, listed {listed}"
    )


def _child_d(base_url: str, pid: str, key: str, lookups: str, prefix: str, rooms: str) -> None:
    playbacks = [int(r) for r in rooms.split(",")]
    cache = RedisTokenCache(REDIS_URL, prefix=prefix)
    with BaiJiaYunClient(int(pid), key, base_url=base_url, token_cache=cache) as client:
        started = time.time()
        for index in range(int(lookups)):
            client.playback.cached_player_url(playbacks[index % len(playbacks)])
        ended = time.time()
    cache.close()
    print(json.dumps({"started": started, "ended": ended}))


def scenario_d(service: Service, lookups: int, playbacks: int) -> None:
    pid, key, rooms = service.account(playbacks)
    prefix = f"bjy:bench:{uuid.uuid4().hex}:"
    joined = ",".join(str(r) for r in rooms)
    children = [
        _spawn("d", service.base_url, pid, key, lookups // 4, prefix, joined) for _ in range(4)
    ]
    reports = [json.loads(child.communicate()[0]) for child in children]
    elapsed = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    for name in store.scan_iter(f"{prefix}*"):
        store.delete(name)
    print(
        f"(d) {lookups} cached_player_url for {playbacks} playbacks, 4 processes, empty Redis "
        f"cache: {service.emulator.calls(pid, 'getPlayerToken')} token calls, "
        f"{lookups / elapsed:.0f} URLs/s"
    )


def scenario_e(service: Service, rows: int, cache_dir: str) -> None:
    pid, key, rooms = service.account(rows)
    env = _env(service, pid, key, cache_dir)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "renames.csv"
        names = {room: f"Renamed {room} {uuid.uuid4().hex[:6]}" for room in rooms}
        lines = ["room_id,name", *(f"{room},{name}" for room, name in names.items())]
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [str(CLI), "playback", "bulk", "rename", "--from", str(source)]
        started = time.perf_counter()
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while service.emulator.calls(pid, "update") < rows // 2 and child.poll() is None:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed_at = service.emulator.calls(pid, "update")
        again = subprocess.run(command, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
    writes = service.emulator.calls(pid, "update")
    renamed = sum(
        service.emulator.playback_rows(room)[0]["name"] == name for room, name in names.items()
    )
    verdict = "exactly once" if writes == rows == renamed else "NOT exactly once"
    print(
        f"(e) playback bulk rename of {rows} rows, killed after {killed_at} writes and run "
        f"again (exit {again.returncode}): {writes} writes, {renamed} renamed: {verdict}; "
        f"{service.refused(pid)} rate-limit answers; {elapsed:.1f} s"
    )


def main() -> None:
    if sys.argv[1:2] == ["--child"]:  # by hand: a partner key may start with "-"
        mode, *args = sys.argv[2:]
        {"b": _child_b, "d": _child_d}[mode](*args)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="20 calls per 1 s, small counts")
    options = parser.parse_args()
    calls, period = (20, 1.0) if options.tiny else (200, 10.0)
    scale = 10 if options.tiny else 1
    service = Service(calls, period)
    try:
        with tempfile.TemporaryDirectory() as cache_dir:
            scenario_a(service, 600 // scale)
            scenario_b(service, 200 // scale)
            # tiny: pages of 20 (about 50 calls, not 500)
            scenario_c(service, 20 if options.tiny else 2, cache_dir)
            scenario_d(service, 10_000 // scale, 50 // (5 if options.tiny else 1))
            scenario_e(service, 1000 // scale, cache_dir)
    finally:
        service.close()


if __name__ == "__main__":
    main()
