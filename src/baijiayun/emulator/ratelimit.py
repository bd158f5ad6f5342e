"""The per-partner rate window (200 calls per 10 s): in memory, in the database or in Redis."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import anyio.to_thread
from sqlalchemy import delete, func, insert, select, update

from . import schema as t
from .db import Database

__all__ = ["DatabaseRateWindow", "RateWindow", "RedisRateWindow", "Window"]


class Window(Protocol):
    """Admits a call of a partner if fewer than ``limit`` were admitted in the last ``period``."""

    limit: int | None

    async def admit(self, partner_id: int) -> bool:
        """Record a call and say whether it is within the limit (refused calls do not count)."""
        ...

    def reset(self) -> None:
        """Forget every recorded call."""
        ...

    def usage(self, partner_id: int) -> int:
        """Calls of the partner admitted in the current window (blocking; the console's meter)."""
        ...


class RateWindow:
    """Sliding window kept in this process: right for one process on its own database."""

    def __init__(
        self, limit: int | None, period: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self._calls: dict[int, deque[float]] = {}

    def admit_now(self, partner_id: int) -> bool:
        """The blocking form of :meth:`admit`."""
        if not self.limit:
            return True
        now = self.clock()
        calls = self._calls.setdefault(partner_id, deque())
        while calls and calls[0] <= now - self.period:
            calls.popleft()
        if len(calls) >= self.limit:
            return False
        calls.append(now)
        return True

    async def admit(self, partner_id: int) -> bool:
        """Record a call and say whether it is within the limit (refused calls do not count)."""
        return self.admit_now(partner_id)

    def reset(self) -> None:
        """Forget every recorded call."""
        self._calls.clear()

    def usage(self, partner_id: int) -> int:
        """Calls of the partner admitted in the current window."""
        since = self.clock() - self.period
        return sum(1 for at in tuple(self._calls.get(partner_id, ())) if at > since)


class DatabaseRateWindow:
    """Sliding window in the emulator's database, counted once for every worker and host.

    Each admission is one short transaction that locks the partner's row, drops calls older
    than the period, counts the rest and records the new one. ``clock`` is wall time, which
    hosts share.
    """

    def __init__(
        self, db: Database, limit: int | None, period: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.limit = limit
        self.period = period
        self.clock = clock

    def admit_now(self, partner_id: int) -> bool:
        """The blocking form of :meth:`admit` (one transaction; the caller retries it)."""
        if not self.limit:
            return True
        now = self.clock()
        heads, calls = t.rate_partners, t.rate_calls
        with self.db.tx() as conn:
            mine = heads.c.partner_id == partner_id
            locked = conn.execute(update(heads).where(mine).values(partner_id=partner_id))
            if not locked.rowcount:
                conn.execute(insert(heads).values(partner_id=partner_id))
            owned = calls.c.partner_id == partner_id
            conn.execute(delete(calls).where(owned, calls.c.at <= now - self.period))
            count = conn.execute(select(func.count()).select_from(calls).where(owned)).scalar()
            if int(count or 0) >= self.limit:
                return False
            conn.execute(insert(calls).values(partner_id=partner_id, at=now))
        return True

    async def admit(self, partner_id: int) -> bool:
        """Record a call and say whether it is within the limit (refused calls do not count)."""
        if not self.limit:
            return True
        return await self.db.run(self.admit_now, partner_id)

    def reset(self) -> None:
        """Nothing to do: a database reset drops the recorded calls."""

    def usage(self, partner_id: int) -> int:
        """Calls of the partner admitted in the current window (every worker's)."""
        calls = t.rate_calls
        since = self.clock() - self.period
        with self.db.read() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(calls)
                .where(calls.c.partner_id == partner_id, calls.c.at > since)
            ).scalar()
        return int(count or 0)


# KEYS[1] the partner's sorted set; ARGV: now, period, limit, a unique member
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000))
return 1
"""


class RedisRateWindow:
    """Sliding window in Redis (``--redis URL``), counted once for every worker and host.

    One sorted set per partner under ``prefix``; one Lua script call per admission, run in a
    worker thread so the round trip never blocks the event loop.
    """

    def __init__(
        self,
        url: str,
        limit: int | None,
        period: float,
        clock: Callable[[], float] = time.time,
        prefix: str = "bjy:emulator:rate",
    ) -> None:
        import redis

        self.limit = limit
        self.period = period
        self.clock = clock
        self.prefix = prefix
        self._redis: Any = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_ADMIT)

    def admit_now(self, partner_id: int) -> bool:
        """The blocking form of :meth:`admit`."""
        if not self.limit:
            return True
        now = self.clock()
        key = f"{self.prefix}:{partner_id}"
        member = f"{now!r}:{uuid.uuid4().hex}"
        return bool(self._script(keys=[key], args=[now, self.period, self.limit, member]))

    async def admit(self, partner_id: int) -> bool:
        """Record a call and say whether it is within the limit (refused calls do not count)."""
        if not self.limit:
            return True
        return await anyio.to_thread.run_sync(self.admit_now, partner_id)

    def reset(self) -> None:
        """Forget every recorded call under the prefix."""
        for key in self._redis.scan_iter(match=f"{self.prefix}:*"):
            self._redis.delete(key)

    def usage(self, partner_id: int) -> int:
        """Calls of the partner admitted in the current window (every worker's and host's)."""
        since = self.clock() - self.period
        return int(self._redis.zcount(f"{self.prefix}:{partner_id}", f"({since!r}", "+inf"))

    def close(self) -> None:
        """Close the Redis connections."""
        self._redis.close()
