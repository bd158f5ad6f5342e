"""The rate governor protocol and the window core every governor of this package applies.

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
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from .._redis import shared_state
from ..errors import SharedStateError

__all__ = [
    "DEFAULT_GUARD",
    "DEFAULT_HOLD",
    "Governor",
    "GovernorSlot",
    "Slot",
    "lapse_on_failure",
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
