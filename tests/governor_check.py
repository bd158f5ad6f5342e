"""Shared by the governor tests: the invariant on arrival times, and calls from real processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from bisect import bisect_right
from collections.abc import Iterable

from baijiayun.ratelimit.base import _Waiting
from baijiayun.ratelimit.file import FileRateGovernor
from baijiayun.ratelimit.redis import RedisRateGovernor


def busiest_window(arrivals: Iterable[float], period: float) -> int:
    """The most arrivals any window (t - period, t] holds, as the service counts them."""
    times = sorted(arrivals)
    best = 0
    for index, t in enumerate(times):
        first = bisect_right(times, t - period)
        best = max(best, index + 1 - first)
    return best


# --- real processes sharing a Redis or file governor ----------------------------------------------

CALLS, PERIOD = 20, 0.5


def make_governor(kind: str, where: str, key: str) -> _Waiting:
    if kind == "redis":
        return RedisRateGovernor(where, key=key, calls=CALLS, period=PERIOD, hold=3.0)
    return FileRateGovernor(key, path=where, calls=CALLS, period=PERIOD, hold=3.0)


def _latency(t0: float) -> float:
    # The service is slow during the first period of every three, fast otherwise.
    return 0.4 if (time.time() - t0) % (3 * PERIOD) < PERIOD else 0.01


def call_worker(
    kind: str,
    where: str,
    key: str,
    use_async: bool,
    count: int,
    ready: multiprocessing.Queue,  # type: ignore[type-arg]
    start: multiprocessing.Queue,  # type: ignore[type-arg]
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    """Make ``count`` simulated calls through a governor; report the arrival times."""
    governor = make_governor(kind, where, key)
    ready.put(True)
    t0 = start.get()
    while time.time() < t0:
        time.sleep(0.005)
    arrivals: list[float] = []

    def one() -> float:
        time.sleep(_latency(t0) * 0.9)
        return time.time()

    if use_async:

        async def run() -> None:
            for _ in range(count):
                slot = await governor.acquire_async()
                latency = _latency(t0)
                await asyncio.sleep(latency * 0.9)
                arrivals.append(time.time())
                await asyncio.sleep(latency * 0.1)
                await governor.complete_async(slot)

        asyncio.run(run())
    else:
        for _ in range(count):
            slot = governor.acquire()
            arrivals.append(one())
            time.sleep(0.005)
            governor.complete(slot)
    out.put(arrivals)


def run_processes(kind: str, where: str, key: str) -> list[float]:
    """Four processes (two sync, two async) x 15 calls; return every arrival time."""
    ctx = multiprocessing.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Queue(), ctx.Queue()
    workers = [
        ctx.Process(
            target=call_worker,
            args=(kind, where, key, index % 2 == 1, 15, ready, start, out),
        )
        for index in range(4)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=60)
    t0 = time.time() + 0.1
    for _ in workers:
        start.put(t0)
    arrivals: list[float] = []
    for _ in workers:
        arrivals.extend(out.get(timeout=60))
    for worker in workers:
        worker.join(10)
    return arrivals
