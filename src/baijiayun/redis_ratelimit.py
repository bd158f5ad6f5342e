"""A rate governor shared through Redis, for an account used by several processes or machines."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["RedisRateGovernor"]

# One atomic step: drop slots older than the window, then book the earliest free slot. Slots are
# kept in a sorted set scored by their start time (server clock, so every machine agrees).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local period = tonumber(ARGV[1])
local calls = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
local start = now
if count >= calls then
  local kth = redis.call('ZRANGE', KEYS[1], count - calls, count - calls, 'WITHSCORES')
  start = math.max(now, tonumber(kth[2]) + period)
end
redis.call('ZADD', KEYS[1], start, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil((start - now + period) * 1000))
return tostring(start - now)
"""


class RedisRateGovernor:
    """Like :class:`~baijiayun.RateGovernor`, but every process using the same Redis key shares
    one budget of ``calls`` per ``period`` seconds (BaijiaYun counts per account, not per process).

    Needs the ``redis`` extra: ``pip install 'baijiayun[redis]'``. Connections open on first use.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        key: str,
        calls: int = 200,
        period: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1 or period <= 0:
            raise ValueError("calls must be >= 1 and period > 0")
        self.url = url
        self.key = key
        self.calls = calls
        self.period = period
        self._sleep = sleep
        self._sync: Any = None
        self._async: Any = None

    def __repr__(self) -> str:
        return f"RedisRateGovernor(key={self.key!r}, calls={self.calls}, period={self.period})"

    def _args(self) -> list[Any]:
        return [self.period, self.calls, uuid.uuid4().hex]

    def reserve(self) -> float:
        """Book the next free slot across all processes; return the seconds to wait for it."""
        if self._sync is None:
            import redis

            self._sync = redis.Redis.from_url(self.url)
        return float(self._sync.eval(_RESERVE, 1, self.key, *self._args()))

    async def reserve_async(self) -> float:
        """Async twin of :meth:`reserve`."""
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(self.url)
        return float(await self._async.eval(_RESERVE, 1, self.key, *self._args()))

    def acquire(self) -> float:
        """Wait (blocking this thread) for a slot; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    async def acquire_async(self) -> float:
        """Wait (suspending this task) for a slot; return the seconds waited."""
        wait = await self.reserve_async()
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    def close(self) -> None:
        """Close the synchronous Redis connection pool."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Close the asynchronous Redis connection pool."""
        if self._async is not None:
            await self._async.aclose()
            self._async = None
