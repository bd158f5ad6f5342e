"""The rate governor: a sliding-window reservation book that makes callers wait, never fail."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["Governor", "RateGovernor"]


class Governor(Protocol):
    """What a client needs of a rate governor (``RateGovernor``, ``RedisRateGovernor``, yours)."""

    def acquire(self) -> float:
        """Block until a call may go; return the seconds waited."""
        ...

    async def acquire_async(self) -> float:
        """Suspend until a call may go; return the seconds waited."""
        ...


class RateGovernor:
    """Grant at most ``calls`` call slots in any ``period`` seconds, in arrival order.

    One governor may be shared by every client of an account, sync and async alike: a slot is
    reserved under a short lock and the caller then sleeps (``time.sleep`` or ``asyncio.sleep``)
    until its slot begins, so nothing blocks while holding the lock.
    """

    def __init__(
        self,
        calls: int = 200,
        period: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if calls < 1:
            raise ValueError("calls must be >= 1")
        if period <= 0:
            raise ValueError("period must be > 0")
        self.calls = calls
        self.period = period
        self._clock = clock
        self._slots: deque[float] = deque()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RateGovernor(calls={self.calls}, period={self.period})"

    def reserve(self) -> float:
        """Book the next free slot and return how many seconds to wait for it (0 if free now)."""
        with self._lock:
            now = self._clock()
            while self._slots and self._slots[0] <= now - self.period:
                self._slots.popleft()
            start = now
            if len(self._slots) >= self.calls:
                start = max(now, self._slots[-self.calls] + self.period)
            self._slots.append(start)
            return start - now

    def acquire(self, sleep: Callable[[float], None] | None = None) -> float:
        """Wait (blocking this thread) until a slot is free; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            (sleep or time.sleep)(wait)
        return wait

    async def acquire_async(self) -> float:
        """Wait (suspending this task) until a slot is free; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        return wait
