"""The rate governor protocol, its window core, and the in-process ``RateGovernor``.

The protocol, for people who bring their own governor
-----------------------------------------------------
A client calls ``slot = governor.acquire(hold)`` (or ``await governor.acquire_async(hold)``)
before each HTTP attempt, and ``governor.complete(slot)`` (or ``complete_async``) as soon as any
response came back: an error envelope, an HTTP error, an undecodable body. ``hold`` is the longest
the request can take to reach the service (the client passes 3 x the seconds left in the call + 1 s:
pool wait, connect and send may each take that long). A slot never completed (timeout, connection lost,
cancelled task, killed process) ends at grant + ``hold``.

A call reaches the service at some moment between its grant and its end. So a governor that grants
at time ``t`` only while fewer than ``calls`` slots have an end later than ``t - period`` (a
pending slot counts: its end is not known yet, but it is not before ``t``) guarantees that the
service never sees more than ``calls`` arrivals in any ``period`` seconds — whatever the number of
threads, tasks, processes, connection pools and latencies. Counting from the grant instead of the
end is not enough: a call granted early can arrive late, next to the calls of the following window.

``window_wait`` below is that rule as a pure function; ``RateGovernor``, ``FileRateGovernor`` and
``RedisRateGovernor`` (whose Lua script mirrors it) all apply it to the *effective end* of each
slot: the response time once completed, grant + hold while pending.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from .errors import SharedStateError

__all__ = [
    "DEFAULT_HOLD",
    "Governor",
    "GovernorSlot",
    "RateGovernor",
    "Slot",
    "window_wait",
]

logger = logging.getLogger("baijiayun")

DEFAULT_HOLD = 30.0
"""Seconds a slot counts when the caller of ``acquire()`` gives no ``hold`` and never completes it."""
DEFAULT_GUARD = 0.05
"""Seconds added to the period, for clock granularity on the service's side."""
WAIT_NOTICE = 0.05
"""Waits longer than this call ``on_wait`` and log a DEBUG line."""


class Slot(Protocol):
    """A granted call slot, as a client sees it."""

    waited: float
    """Seconds spent queueing for this slot."""


class Governor(Protocol):
    """What a client needs of a rate governor (``RateGovernor``, ``RedisRateGovernor``, yours).

    See the module documentation for the protocol and the guarantee it gives.
    """

    def acquire(self, hold: float = ..., on_wait: Callable[[float], None] | None = None) -> Slot:
        """Block until a call may be sent; the slot counts until completed or ``hold`` passed."""
        ...

    async def acquire_async(
        self, hold: float = ..., on_wait: Callable[[float], None] | None = None
    ) -> Slot:
        """Suspend until a call may be sent (async twin of :meth:`acquire`)."""
        ...

    def complete(self, slot: Slot) -> None:
        """A response came back for ``slot``: its end is now."""
        ...

    async def complete_async(self, slot: Slot) -> None:
        """Async twin of :meth:`complete`."""
        ...


@dataclass
class GovernorSlot:
    """The slot the governors of this package hand out: ``id`` names it in the book."""

    id: str
    granted_at: float
    deadline: float
    waited: float = 0.0
    completed: bool = field(default=False, repr=False)


def window_wait(ends: Sequence[float], now: float, limit: int, window: float) -> float:
    """Seconds until a slot may be granted (0: now), given the effective ends of the booked slots.

    ``ends`` is sorted ascending and holds only slots still in the window (end > now - window);
    an end later than ``now`` is a pending slot, whose real end is unknown but not before ``now``.
    The answer is a lower bound: sleeping that long never sleeps past the moment a slot frees.
    """
    if len(ends) < limit:
        return 0.0
    # The slot that has to leave the window before we may go; a pending one leaves at the earliest
    # a window after now.
    end = ends[len(ends) - limit]
    return max(min(end, now) + window - now, 0.0)


@contextmanager
def shared_state(where: str) -> Iterator[None]:
    """Turn a failure of Redis or of a SQLite file into :class:`SharedStateError`."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise SharedStateError(where, str(exc)) from exc
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "redis":
            raise
        raise SharedStateError(where, f"{type(exc).__name__}: {exc}") from exc


@contextmanager
def lapse_on_failure(governor: object) -> Iterator[None]:
    """A completion that cannot be recorded is logged, not raised: the slot lapses at its hold."""
    try:
        with shared_state(repr(governor)):
            yield
    except SharedStateError as exc:
        logger.warning("%s; the slot will count until its hold has passed", exc)


class _Waiting:
    """The acquire loop shared by every governor here: try, and sleep on the lower bound."""

    calls: int
    period: float
    margin: int
    guard: float
    hold: float
    _sleep: Callable[[float], None]
    _sleep_async: Callable[[float], Awaitable[None]]

    def _setup(
        self,
        calls: int,
        period: float,
        margin: int,
        guard: float,
        hold: float,
        sleep: Callable[[float], None],
        sleep_async: Callable[[float], Awaitable[None]],
    ) -> None:
        if calls < 1:
            raise ValueError("calls must be >= 1")
        if period <= 0:
            raise ValueError("period must be > 0")
        if not 0 <= margin < calls:
            raise ValueError("margin must be >= 0 and below calls")
        if guard < 0 or hold <= 0:
            raise ValueError("guard must be >= 0 and hold > 0")
        self.calls = calls
        self.period = period
        self.margin = margin
        self.guard = guard
        self.hold = hold
        self._sleep = sleep
        self._sleep_async = sleep_async
        # One waiter per process (and per event loop) asks the book at a time; the others queue
        # here instead of all waking when a slot frees.
        self._gate = threading.Lock()
        self._async_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def _limit(self) -> int:
        return self.calls - self.margin

    @property
    def _window(self) -> float:
        return self.period + self.guard

    def _try(self, hold: float) -> GovernorSlot | float:
        raise NotImplementedError

    async def _try_async(self, hold: float) -> GovernorSlot | float:
        raise NotImplementedError

    def _stale(self, slot: GovernorSlot) -> bool:
        """Whether a slot came back so late that its hold has lost more than its slack."""
        return False

    async def complete_async(self, slot: Slot) -> None:
        raise NotImplementedError

    def _notice(self, wait: float, on_wait: Callable[[float], None] | None) -> None:
        if wait > WAIT_NOTICE:
            logger.debug("rate governor %r: waiting %.2f s for a call slot", self, wait)
            if on_wait is not None:
                on_wait(wait)

    def acquire(
        self, hold: float | None = None, on_wait: Callable[[float], None] | None = None
    ) -> GovernorSlot:
        """Block this thread until a call may be sent; return its slot.

        ``hold``: the longest the attempt can take (default: the governor's ``hold``).
        ``on_wait(seconds)`` is called before each wait longer than 0.05 s.
        """
        hold = self.hold if hold is None else hold
        waited = 0.0
        with self._gate:
            while True:
                got = self._try(hold)
                if isinstance(got, GovernorSlot):
                    got.waited = waited
                    return got
                self._notice(got, on_wait)
                self._sleep(got)
                waited += got

    async def acquire_async(
        self, hold: float | None = None, on_wait: Callable[[float], None] | None = None
    ) -> GovernorSlot:
        """Suspend this task until a call may be sent; return its slot (see :meth:`acquire`)."""
        hold = self.hold if hold is None else hold
        loop = asyncio.get_running_loop()
        gate = self._async_gates.get(loop)
        if gate is None:
            gate = self._async_gates[loop] = asyncio.Lock()
        waited = 0.0
        async with gate:
            while True:
                got = await self._try_async(hold)
                if isinstance(got, GovernorSlot):
                    if self._stale(got):
                        # Booked, then held up on its way back (a stalled event loop): the rest
                        # of its hold may no longer cover the attempt. End it, book another.
                        await self.complete_async(got)
                        continue
                    got.waited = waited
                    return got
                self._notice(got, on_wait)
                await self._sleep_async(got)
                waited += got


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
