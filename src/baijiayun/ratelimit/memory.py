"""``RateGovernor``: the account's budget shared by the threads and tasks of one process."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable

from .base import DEFAULT_GUARD, DEFAULT_HOLD, GovernorSlot, Slot, _Waiting, window_wait

__all__ = ["RateGovernor"]


class RateGovernor(_Waiting):
    """Let at most ``calls`` calls reach the service in any ``period`` seconds (one process).

    Share one governor between every client of an account, sync and async alike: threads and tasks
    queue for slots; a slot counts from its grant until :meth:`complete` (or until its ``hold``
    passed). ``margin`` keeps that many slots of the budget unused; ``guard`` seconds are added to
    the period. ``clock``, ``sleep`` and ``sleep_async`` are injectable for tests.
    """

    def __init__(
        self,
        calls: int = 200,
        period: float = 10.0,
        *,
        margin: int = 0,
        guard: float = DEFAULT_GUARD,
        hold: float = DEFAULT_HOLD,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        sleep_async: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._setup(calls, period, margin, guard, hold, sleep, sleep_async)
        self._clock = clock
        self._ends: dict[str, float] = {}
        self._purge_at = 64
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RateGovernor(calls={self.calls}, period={self.period})"

    def _try(self, hold: float) -> GovernorSlot | float:
        with self._lock:
            now = self._clock()
            # Slots out of the window only make the book look fuller, so they are dropped when
            # it looks full, or when it doubled: amortised O(1) per call whatever the limit.
            if len(self._ends) >= min(self._limit, self._purge_at):
                horizon = now - self._window
                for key in [k for k, end in self._ends.items() if end <= horizon]:
                    del self._ends[key]
                self._purge_at = 2 * len(self._ends) + 64
            if len(self._ends) >= self._limit:
                wait = window_wait(sorted(self._ends.values()), now, self._limit, self._window)
                if wait > 0:
                    return wait
            slot = GovernorSlot(uuid.uuid4().hex, now, now + hold)
            self._ends[slot.id] = slot.deadline
            return slot

    async def _try_async(self, hold: float) -> GovernorSlot | float:
        return self._try(hold)

    def complete(self, slot: Slot) -> None:
        """A response came back for ``slot``: it ends now (no-op if it already ended)."""
        if not isinstance(slot, GovernorSlot) or slot.completed:
            return
        slot.completed = True
        with self._lock:
            now = self._clock()
            end = self._ends.get(slot.id)
            if end is not None and now < end:
                self._ends[slot.id] = now

    async def complete_async(self, slot: Slot) -> None:
        """Async twin of :meth:`complete`."""
        self.complete(slot)
