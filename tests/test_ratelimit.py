"""The window core and RateGovernor on a fake clock: threads, tasks, latency, lost outcomes."""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from baijiayun import BaiJiaYunClient, RateGovernor
from baijiayun.ratelimit.base import GovernorSlot, Slot, window_wait

from .governor_check import busiest_window
from .sdk_helpers import BASE, KEY, PARTNER_ID, Recorder, envelope


class FakeClock:
    """Time moves only when someone sleeps; safe to share between threads."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


class VirtualTime:
    """Discrete-event time for asyncio tasks: the clock jumps to the next wake-up when all wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._timers, (self.now + seconds, self._seq, future))
        await future

    async def run(self, *coroutines: Any) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(t.done() for t in tasks):
            for _ in range(10):
                await asyncio.sleep(0)
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)
            if self._timers:
                when, _, future = heapq.heappop(self._timers)
                self.now = max(self.now, when)
                future.set_result(None)
        return [t.result() if not t.cancelled() else None for t in tasks]


class GrantCounting(RateGovernor):
    """The old, wrong rule: a completed slot counts from its grant, not from its response."""

    def complete(self, slot: Slot) -> None:
        assert isinstance(slot, GovernorSlot)
        with self._lock:
            if slot.id in self._ends:
                self._ends[slot.id] = slot.granted_at


# --- the pure core -------------------------------------------------------------------------------


def test_window_wait_grants_below_the_limit() -> None:
    assert window_wait([], 100.0, 2, 10.0) == 0
    assert window_wait([95.0], 100.0, 2, 10.0) == 0


def test_window_wait_counts_from_the_oldest_end() -> None:
    # two completed slots that ended at 92 and 95: the first leaves the window at 102
    assert window_wait([92.0, 95.0], 100.0, 2, 10.0) == pytest.approx(2.0)
    # three slots, limit 2: the second-oldest has to leave
    assert window_wait([91.0, 95.0, 99.0], 100.0, 2, 10.0) == pytest.approx(5.0)


def test_window_wait_treats_a_pending_slot_as_ending_now_at_the_earliest() -> None:
    # both pending (ends are deadlines in the future): no grant before a full window from now
    assert window_wait([120.0, 130.0], 100.0, 2, 10.0) == pytest.approx(10.0)


# --- RateGovernor, one caller --------------------------------------------------------------------


def _governor(calls: int, period: float, clock: FakeClock, **options: Any) -> RateGovernor:
    options.setdefault("guard", 0.0)
    return RateGovernor(calls, period, clock=clock, sleep=clock.sleep, **options)


def test_admits_calls_then_waits_for_the_first_response_to_leave_the_window() -> None:
    clock = FakeClock()
    governor = _governor(3, 10.0, clock)
    slots = [governor.acquire(hold=5.0) for _ in range(3)]
    assert [s.waited for s in slots] == [0, 0, 0]
    clock.now += 2.0
    for slot in slots:
        governor.complete(slot)  # all three responses at t=1002
    fourth = governor.acquire(hold=5.0)
    assert fourth.waited == pytest.approx(10.0)
    assert clock.now == pytest.approx(1012.0)  # 10 s after the responses, not after the grants


def test_a_slot_never_completed_counts_until_grant_plus_hold() -> None:
    clock = FakeClock()
    governor = _governor(1, 10.0, clock)
    governor.acquire(hold=4.0)  # the call timed out: nobody completes it
    second = governor.acquire(hold=4.0)
    assert clock.now == pytest.approx(1014.0)
    assert second.waited == pytest.approx(14.0)


def test_complete_after_the_deadline_changes_nothing() -> None:
    clock = FakeClock()
    governor = _governor(1, 10.0, clock)
    slot = governor.acquire(hold=4.0)
    clock.now += 6.0
    governor.complete(slot)  # ended at 1004 already; this must not extend it to 1006
    governor.complete(slot)
    governor.acquire(hold=4.0)
    assert clock.now == pytest.approx(1014.0)


def test_margin_and_guard() -> None:
    clock = FakeClock()
    governor = _governor(3, 10.0, clock, margin=1, guard=0.5)
    first = governor.acquire(hold=1.0)
    governor.complete(first)
    governor.complete(governor.acquire(hold=1.0))
    governor.acquire(hold=1.0)  # the margin keeps the third call of the budget unused
    assert clock.now == pytest.approx(1010.5)


def test_on_wait_is_called_before_a_wait_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    governor = _governor(1, 10.0, clock)
    waits: list[float] = []
    governor.complete(governor.acquire(on_wait=waits.append))
    assert waits == []
    with caplog.at_level(logging.DEBUG, logger="baijiayun"):
        governor.acquire(on_wait=waits.append)
    assert waits == [pytest.approx(10.0)]
    assert "waiting 10.00 s" in caplog.text


def test_default_hold_keeps_a_caller_without_complete_safe() -> None:
    clock = FakeClock()
    governor = _governor(1, 10.0, clock, hold=30.0)
    governor.acquire()
    governor.acquire()
    assert clock.now == pytest.approx(1040.0)


def test_bad_settings_are_refused() -> None:
    for bad in ({"calls": 0}, {"period": 0}, {"margin": 5}, {"hold": 0}, {"guard": -1}):
        with pytest.raises(ValueError):
            RateGovernor(**{"calls": 5, "period": 1.0, **bad})
    assert repr(RateGovernor(5, 1.0)) == "RateGovernor(calls=5, period=1.0)"


# --- the guarantee under concurrency -------------------------------------------------------------


def _simulate_tasks(governor_class: type[RateGovernor], seed: int) -> tuple[list[float], int]:
    """64 tasks x 10 calls, some outcomes lost, some tasks cancelled.

    The service is slow (0.9 s) in every third second and fast otherwise: calls granted in a slow
    second arrive late, next to those of the fast second after it.
    """
    vt = VirtualTime()
    governor = governor_class(20, 1.0, guard=0.0, hold=3.0, clock=vt, sleep_async=vt.sleep)
    rng = random.Random(seed)
    arrivals: list[float] = []

    async def worker(index: int) -> None:
        for _ in range(10):
            slot = await governor.acquire_async(hold=3.0)
            slow = int(vt.now - 1000.0) % 3 == 0
            latency = 0.9 if slow else 0.05 * rng.random()
            arrival = latency * rng.uniform(0.5, 1.0)
            await vt.sleep(arrival)
            arrivals.append(vt.now)
            await vt.sleep(latency - arrival)
            if rng.random() < 0.9:
                await governor.complete_async(slot)  # else: timeout, the outcome is unknown

    async def main() -> int:
        tasks = [asyncio.ensure_future(worker(i)) for i in range(64)]

        async def cancel_some() -> None:
            await vt.sleep(5.0)
            for task in tasks[:8]:
                task.cancel()

        await vt.run(cancel_some(), *[asyncio.shield(t) for t in tasks[8:]])
        await asyncio.gather(*tasks, return_exceptions=True)
        return sum(t.cancelled() for t in tasks)

    cancelled = asyncio.run(main())
    return arrivals, cancelled


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tasks_never_let_more_than_calls_arrive_in_a_period(seed: int) -> None:
    arrivals, cancelled = _simulate_tasks(RateGovernor, seed)
    assert cancelled == 8
    assert len(arrivals) > 560
    assert busiest_window(arrivals, 1.0) <= 20


def test_the_check_catches_a_governor_that_counts_from_the_grant() -> None:
    arrivals, _ = _simulate_tasks(GrantCounting, 1)
    assert busiest_window(arrivals, 1.0) > 20


def test_a_cancelled_waiter_books_no_slot() -> None:
    vt = VirtualTime()
    governor = RateGovernor(1, 10.0, guard=0.0, clock=vt, sleep_async=vt.sleep)

    async def main() -> GovernorSlot:
        first = await governor.acquire_async(hold=1.0)
        await governor.complete_async(first)
        waiter = asyncio.ensure_future(governor.acquire_async(hold=1.0))
        await asyncio.sleep(0)
        waiter.cancel()
        (third,) = await vt.run(governor.acquire_async(hold=1.0))
        return third  # type: ignore[no-any-return]

    third = asyncio.run(main())
    assert third.granted_at == pytest.approx(1010.0)  # the cancelled waiter took nothing


def test_threads_never_let_more_than_calls_arrive_in_a_period() -> None:
    clock = FakeClock()
    governor = RateGovernor(10, 1.0, guard=0.0, hold=2.0, clock=clock, sleep=clock.sleep)
    arrivals: list[float] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(25):
            slot = governor.acquire()
            clock.sleep(rng.random() * 0.3)
            with lock:
                arrivals.append(clock())
            clock.sleep(rng.random() * 0.3)
            if rng.random() < 0.9:
                governor.complete(slot)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(arrivals) == 200
    assert busiest_window(arrivals, 1.0) <= 10


# --- with a client -------------------------------------------------------------------------------


def test_a_shared_governor_limits_what_two_clients_send() -> None:
    clock = FakeClock()
    arrivals: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        arrivals.append(clock())
        return envelope({"status": 0})

    governor = _governor(2, 10.0, clock, hold=5.0)
    clients = [
        BaiJiaYunClient(
            PARTNER_ID,
            KEY,
            base_url=BASE,
            rate_limit=governor,
            http_client=httpx.Client(transport=httpx.MockTransport(Recorder(answer).handler)),
        )
        for _ in range(2)
    ]
    for _ in range(3):
        for client in clients:
            client.playback.get_basic_info(1)
    assert len(arrivals) == 6
    assert busiest_window(arrivals, 10.0) <= 2
    assert clock.sleeps  # the later calls queued instead of failing


def test_the_default_client_governor_is_the_account_limit() -> None:
    client = BaiJiaYunClient(1, "k", base_url=BASE)
    governor: Callable[..., Any] | Any = client.rate_governor
    assert (governor.calls, governor.period) == (200, 10.0)
    client.close()
