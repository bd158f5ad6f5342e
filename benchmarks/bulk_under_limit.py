"""Bulk work under the account limit (issue 10, "Show it"): elapsed over the floor, refusals, calls.

The emulator runs on a real loopback port with its rate limit (200 calls per 10 s; ``--tiny``:
20 per 1 s) and 20 ms of latency injected on every call; a wrapper counts the calls that reached it.
Scenarios this branch supports:
  (a) 600 get_basic_info from one async client, 64 at once, through a RateGovernor;
  (b) 3 processes x 200 sharing one RedisRateGovernor;
  (d) 10,000 cached player-token lookups for 50 playbacks from 4 processes on an empty
      RedisTokenCache, no prefetch (token API calls, lookups per second);
  (e) a bulk rename of 1,000 rows killed with SIGKILL half-way and run again (write calls counted
      by the emulator: 1,000; final names checked).
(a), (b), (d) and (e) call ``acquire``/``complete`` around each SDK call themselves, the way the
client's send loop will once it is wired (then drop ``Governed`` and the explicit calls, and let
``--via-client`` run (a) through the client's governor).
Targets: (a), (b) at most 1.1x the floor and 0 rate-limit answers; (d) at most 50 token calls;
(e) exactly once. Scenario (c), two CLI processes, waits for the CLI to share the file governor.
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
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import uvicorn

from baijiayun import (
    AsyncBaiJiaYunClient,
    BaiJiaYunClient,
    BaiJiaYunError,
    Governor,
    RateGovernor,
    RateLimitError,
    RedisRateGovernor,
    RedisTokenCache,
)
from baijiayun.bulk import bulk
from baijiayun.emulator import Emulator, EmulatorConfig, create_app
from baijiayun.emulator.server import free_port
from baijiayun.errors import APIConnectionError
from baijiayun.file_ratelimit import FileRateGovernor

REDIS_URL = os.environ.get("BAIJIAYUN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class CountingApp:
    """Counts, per action, the requests whose whole body reached the emulator."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        action = scope["path"].rsplit("/", 1)[-1]

        async def counted() -> Any:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                self.counts[action] += 1
            return message

        await self.app(scope, counted, send)


class Service:
    """The emulator on a real port, one account with ``playbacks`` generated playbacks."""

    def __init__(self, calls: int, period: float, playbacks: int) -> None:
        config = EmulatorConfig(rate_limit=calls, rate_period=period)
        self.emulator = Emulator("sqlite://", config)
        self.emulator.reset()
        account = self.emulator.create_account()
        self.partner_id, self.partner_key = account["partner_id"], account["partner_key"]
        self.rooms = []
        for _ in range(playbacks):
            room = self.emulator.create_room(self.partner_id)["room_id"]
            self.emulator.create_recording(room, status=100)
            self.rooms.append(room)
        self.emulator.inject_fault("*", "latency", 0.02)
        self.app = CountingApp(create_app(self.emulator))
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, host="127.0.0.1", port=port, lifespan="off", log_level="critical"
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)

    def fresh_window(self, period: float) -> None:
        self.emulator.rate_window.reset()
        self.app.counts.clear()

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self.emulator.close()


class Governed:
    """A PlayBack whose every call takes a slot and completes it: the wiring, done outside."""

    def __init__(self, playback: Any, governor: Governor) -> None:
        self._playback = playback
        self._governor = governor

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._playback, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            slot = self._governor.acquire(30.0)
            try:
                result = method(*args, **kwargs)
            except APIConnectionError:
                raise  # outcome unknown: the slot lapses at its hold
            except BaiJiaYunError:
                self._governor.complete(slot)
                raise
            self._governor.complete(slot)
            return result

        return call


def floor(calls_total: int, calls: int, period: float) -> float:
    """The least time ``calls_total`` calls can take under ``calls`` per ``period``."""
    return (math.ceil(calls_total / calls) - 1) * period


async def governed_calls(
    base_url: str,
    partner_id: int,
    key: str,
    rooms: list[int],
    total: int,
    concurrency: int,
    governor: Governor | None,
) -> int:
    """``total`` get_basic_info, ``concurrency`` at once; returns the rate-limit answers."""
    refused = 0
    queue = iter(range(total))
    options: dict[str, Any] = {"max_retries": 0}
    if governor is not None:
        options["rate_limit"] = None  # acquire/complete below, as the wired send loop will
    async with AsyncBaiJiaYunClient(partner_id, key, base_url=base_url, **options) as client:

        async def worker() -> None:
            nonlocal refused
            for index in queue:
                slot = await governor.acquire_async(30.0) if governor is not None else None
                try:
                    await client.playback.get_basic_info(rooms[index % len(rooms)])
                except RateLimitError:
                    refused += 1
                except APIConnectionError:
                    continue  # outcome unknown: the slot lapses at its hold
                except BaiJiaYunError:
                    pass
                if governor is not None and slot is not None:
                    await governor.complete_async(slot)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return refused


def scenario_a(service: Service, calls: int, period: float, total: int, via_client: bool) -> None:
    service.fresh_window(period)
    governor: Governor | None = None if via_client else RateGovernor(calls, period)
    if via_client:
        raise SystemExit("--via-client: wire acquire/complete into the client first")
    started = time.perf_counter()
    refused = asyncio.run(
        governed_calls(
            service.base_url,
            service.partner_id,
            service.partner_key,
            service.rooms,
            total,
            64,
            governor,
        )
    )
    elapsed = time.perf_counter() - started
    label = "client as is" if via_client else "acquire/complete"
    print(
        f"(a) {total} calls, 64 at once, {label}: {elapsed / floor(total, calls, period):.2f}x "
        f"the floor, {refused} rate-limit answers"
    )


def _child_b(base_url: str, partner_id: int, key: str, room: int, args: list[str]) -> None:
    calls, period, total, redis_key = int(args[0]), float(args[1]), int(args[2]), args[3]
    governor = RedisRateGovernor(REDIS_URL, key=redis_key, calls=calls, period=period)
    started = time.time()
    refused = asyncio.run(governed_calls(base_url, partner_id, key, [room], total, 16, governor))
    print(json.dumps({"refused": refused, "started": started, "ended": time.time()}))


def _spawn(mode: str, service: Service, *args: object) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, "--child", mode, service.base_url]
    command += [str(service.partner_id), service.partner_key, str(service.rooms[0])]
    command += [str(a) for a in args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def scenario_b(service: Service, calls: int, period: float, per_process: int) -> None:
    service.fresh_window(period)
    redis_key = f"bjy:bench:{uuid.uuid4().hex}"
    children = [_spawn("b", service, calls, period, per_process, redis_key) for _ in range(3)]
    reports = [json.loads(c.communicate()[0]) for c in children]
    refused = sum(r["refused"] for r in reports)
    # from the first call of any process to the last answer (process start-up not counted)
    elapsed = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    print(
        f"(b) 3 processes x {per_process} sharing Redis: "
        f"{elapsed / floor(3 * per_process, calls, period):.2f}x the floor, "
        f"{refused} rate-limit answers"
    )


def _child_d(base_url: str, partner_id: int, key: str, room: int, args: list[str]) -> None:
    lookups, prefix, rooms = int(args[0]), args[1], [int(r) for r in args[2].split(",")]
    cache = RedisTokenCache(REDIS_URL, prefix=prefix)
    with BaiJiaYunClient(
        partner_id, key, base_url=base_url, rate_limit=RateGovernor(10**6, 1.0)
    ) as client:
        pb = client.playback
        for index in range(lookups):
            playback = rooms[index % len(rooms)]
            # the cached_player_url glue, in one line
            token = cache.get_or_fetch(
                f"{partner_id}:{playback}-0",
                lambda p=playback: pb.get_player_token(p, 3600).token,  # type: ignore[misc]
                expires_in=3600,
                min_ttl=600,
            )
            pb.player_url(playback, token)
    cache.close()


def scenario_d(service: Service, lookups: int, playbacks: int) -> None:
    service.fresh_window(1.0)
    prefix = f"bjy:bench:{uuid.uuid4().hex}:"
    rooms = ",".join(str(r) for r in service.rooms[:playbacks])
    started = time.perf_counter()
    children = [_spawn("d", service, lookups // 4, prefix, rooms) for _ in range(4)]
    for child in children:
        child.communicate()
    elapsed = time.perf_counter() - started
    print(
        f"(d) {lookups} cached token lookups for {playbacks} playbacks, 4 processes: "
        f"{service.app.counts['getPlayerToken']} token calls, {lookups / elapsed:.0f} lookups/s"
    )


def _child_e(base_url: str, partner_id: int, key: str, room: int, args: list[str]) -> None:
    source, journal, calls, period, book = args
    # One budget for both runs, as the CLI will have: the killed run's slots still count.
    governor = FileRateGovernor(str(partner_id), path=book, calls=int(calls), period=float(period))
    governor.hold = 3 * float(period)
    with BaiJiaYunClient(
        partner_id, key, base_url=base_url, max_retries=0, rate_limit=None
    ) as client:
        summary = bulk(Governed(client.playback, governor), "rename", source, journal=journal)
    print(json.dumps({"done": summary.done, "skipped": summary.skipped}))


def scenario_e(service: Service, rows: int, calls: int, period: float) -> None:
    service.fresh_window(1.0)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "renames.csv"
        names = {room: f"Renamed {room} {uuid.uuid4().hex[:6]}" for room in service.rooms[:rows]}
        lines = ["room_id,name", *(f"{room},{name}" for room, name in names.items())]
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        journal = Path(tmp) / "journal.sqlite3"
        started = time.perf_counter()
        book = Path(tmp) / "governor.sqlite3"
        child = _spawn("e", service, source, journal, calls, period, book)
        while service.app.counts["update"] < rows // 2 and child.poll() is None:
            time.sleep(0.002)
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed_at = service.app.counts["update"]
        _spawn("e", service, source, journal, calls, period, book).communicate()
        elapsed = time.perf_counter() - started
    renamed = sum(
        service.emulator.state.playback_rows(room)[0]["name"] == name
        for room, name in names.items()
    )
    verdict = (
        "exactly once" if service.app.counts["update"] == rows == renamed else "NOT exactly once"
    )
    print(
        f"(e) bulk rename of {rows} rows, killed after {killed_at} writes and run again: "
        f"{service.app.counts['update']} writes, {renamed} renamed: {verdict}; {elapsed:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="20 calls per 1 s, small counts")
    parser.add_argument(
        "--via-client", action="store_true", help="(a) through the client's own governor"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        mode, base_url, partner_id, key, room, *rest = options.child
        child = {"b": _child_b, "d": _child_d, "e": _child_e}[mode]
        child(base_url, int(partner_id), key, int(room), rest)
        return
    calls, period = (20, 1.0) if options.tiny else (200, 10.0)
    scale = 10 if options.tiny else 1
    service = Service(calls, period, playbacks=max(1000 // scale, 50))
    try:
        scenario_a(service, calls, period, 600 // scale, via_client=options.via_client)
        scenario_b(service, calls, period, 200 // scale)
        print("(c) 2 CLI processes: pending (the CLI does not share the file governor yet)")
        scenario_d(service, 10_000 // scale, 50 // (5 if options.tiny else 1))
        scenario_e(service, 1000 // scale, calls, period)
    finally:
        service.close()


if __name__ == "__main__":
    main()
