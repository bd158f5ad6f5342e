"""A rate governor shared through Redis, for an account used by several processes or machines."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from .._redis import RedisConnections, shared_state
from .base import (
    DEFAULT_GUARD,
    DEFAULT_HOLD,
    GovernorSlot,
    Slot,
    _Waiting,
    lapse_on_failure,
)

__all__ = ["DEFAULT_URL", "RedisRateGovernor", "default_key"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
"""The Redis a :class:`RedisRateGovernor` uses when given no URL."""


def default_key(partner_id: int | str) -> str:
    """The Redis key of an account's budget: every program on the account that uses it (the CLI
    does) shares one budget. ``default_key(10000001)`` is ``"bjy:ratelimit:10000001"``."""
    return f"bjy:ratelimit:{partner_id}"


# One atomic step on the Redis server's clock. The sorted set holds one member per slot, scored by
# its effective end: grant + hold while pending (so a killed process's slots lapse on their own),
# the response time once completed. This is ``window_wait`` of ``ratelimit.base``, in Lua.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local hold = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now + hold, ARGV[4])
  local ttl = math.ceil((hold + window) * 1000)
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  return {1, tostring(now)}
end
local first = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
local wait = math.min(tonumber(first[2]), now) + window - now
return {0, tostring(math.max(wait, 0.001))}
"""

# Completion: the slot ends now, unless it already ended (lapsed or completed).
_COMPLETE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) > now then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
end
return 1
"""


class RedisRateGovernor(_Waiting):
    """Like :class:`~baijiayun.RateGovernor`, but every process using the same Redis ``key``
    shares one budget of ``calls`` per ``period`` seconds (BaijiaYun counts per account).

    Slots are booked and completed atomically by Lua scripts on the Redis server's clock; a
    pending slot is scored grant + hold, so the slots of a killed process lapse by themselves.
    Needs the ``redis`` extra: ``pip install 'baijiayun[redis]'``. Connections open on first use.

    :param url: the Redis to book slots in
    :param key: the sorted set holding the account's slots; default :func:`default_key` of
        ``partner_id`` — the key the CLI uses, so a CLI and an app on one account share a budget
    :param partner_id: 账号ID (the account whose budget this is), when no ``key`` is given
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        key: str | None = None,
        partner_id: int | str | None = None,
        calls: int = 200,
        period: float = 10.0,
        margin: int = 0,
        guard: float = DEFAULT_GUARD,
        hold: float = DEFAULT_HOLD,
        sleep: Callable[[float], None] = time.sleep,
        sleep_async: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if key is None:
            if partner_id is None:
                raise ValueError(
                    "give partner_id (the budget's key is default_key(partner_id)) or key"
                )
            key = default_key(partner_id)
        self._setup(calls, period, margin, guard, hold, sleep, sleep_async)
        self.url = url
        self.key = key
        self._connections = RedisConnections(url)

    def __repr__(self) -> str:
        return f"RedisRateGovernor(key={self.key!r}, calls={self.calls}, period={self.period})"

    def _redis(self) -> Any:
        return self._connections.sync()

    def _redis_async(self) -> Any:
        return self._connections.for_loop()

    def _args(self, hold: float) -> tuple[list[Any], str]:
        slot_id = uuid.uuid4().hex
        return [self._window, self._limit, hold, slot_id], slot_id

    @staticmethod
    def _answer(reply: list[Any], slot_id: str, hold: float) -> GovernorSlot | float:
        granted, value = int(reply[0]), float(reply[1])
        if granted:
            return GovernorSlot(slot_id, value, value + hold)
        return value

    def _try(self, hold: float) -> GovernorSlot | float:
        args, slot_id = self._args(hold)
        with shared_state(repr(self)):
            reply = self._redis().eval(_ACQUIRE, 1, self.key, *args)
        return self._answer(reply, slot_id, hold)

    async def _try_async(self, hold: float) -> GovernorSlot | float:
        args, slot_id = self._args(hold)
        with shared_state(repr(self)):
            reply = await self._redis_async().eval(_ACQUIRE, 1, self.key, *args)
        return self._answer(reply, slot_id, hold)

    def complete(self, slot: Slot) -> None:
        """A response came back for ``slot``: it ends now (on the Redis server's clock)."""
        if isinstance(slot, GovernorSlot) and not slot.completed:
            slot.completed = True
            with lapse_on_failure(self):
                self._redis().eval(_COMPLETE, 1, self.key, slot.id)

    async def complete_async(self, slot: Slot) -> None:
        """Async twin of :meth:`complete`."""
        if isinstance(slot, GovernorSlot) and not slot.completed:
            slot.completed = True
            with lapse_on_failure(self):
                await self._redis_async().eval(_COMPLETE, 1, self.key, slot.id)

    def close(self) -> None:
        """Close the synchronous Redis connection pool."""
        self._connections.close()

    async def aclose(self) -> None:
        """Close the asynchronous Redis connection pool of the running event loop."""
        await self._connections.aclose()
