"""A rate governor shared by the processes of one machine through a SQLite file in the user cache."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from .._redis import shared_state
from ..config import from_environment
from .base import (
    DEFAULT_GUARD,
    DEFAULT_HOLD,
    GovernorSlot,
    Slot,
    _Waiting,
    lapse_on_failure,
    window_wait,
)

__all__ = ["FileRateGovernor", "default_path", "user_cache_dir"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (
    key TEXT NOT NULL,
    id TEXT NOT NULL,
    end_at REAL NOT NULL,
    PRIMARY KEY (key, id)
)
"""


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """This platform's cache directory for baijiayun (``BAIJIAYUN_CACHE_DIR`` overrides it).

    :param environ: the environment to read (default: ``os.environ``)
    """
    environ = os.environ if environ is None else environ
    override = from_environment(environ, ("cache_dir",)).get("cache_dir")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "baijiayun" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "baijiayun"
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "baijiayun"


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where a :class:`FileRateGovernor` keeps its book unless told: ``ratelimit.sqlite3`` in
    :func:`user_cache_dir` of ``environ``."""
    return user_cache_dir(environ) / "ratelimit.sqlite3"


STALE_LAG = 0.5
"""Seconds a booked slot may take to reach its caller before it is given up and booked again."""


class FileRateGovernor(_Waiting):
    """Like :class:`~baijiayun.RateGovernor`, shared by every process on this machine that uses
    the same ``key`` (e.g. the partner id) and file.

    The book is a SQLite file (default ``ratelimit.sqlite3`` in :func:`user_cache_dir`), created
    on first use, never by the constructor; each grant and completion is one ``BEGIN IMMEDIATE``
    transaction on the wall clock. A pending slot ends at grant + hold, so a killed process's
    slots lapse by themselves.
    """

    def __init__(
        self,
        key: str,
        *,
        path: str | os.PathLike[str] | None = None,
        calls: int = 200,
        period: float = 10.0,
        margin: int = 0,
        guard: float = DEFAULT_GUARD,
        hold: float = DEFAULT_HOLD,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        sleep_async: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._setup(calls, period, margin, guard, hold, sleep, sleep_async)
        self.key = key
        self.path = Path(path) if path is not None else default_path()
        self._clock = clock

    def __repr__(self) -> str:
        return f"FileRateGovernor(key={self.key!r}, calls={self.calls}, period={self.period})"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        conn.execute(_SCHEMA)
        return conn

    def _try(self, hold: float) -> GovernorSlot | float:
        with shared_state(repr(self)):
            return self._book(hold)

    def _book(self, hold: float) -> GovernorSlot | float:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            now = self._clock()
            conn.execute(
                "DELETE FROM slots WHERE key = ? AND end_at <= ?", (self.key, now - self._window)
            )
            ends = [
                row[0]
                for row in conn.execute(
                    "SELECT end_at FROM slots WHERE key = ? ORDER BY end_at", (self.key,)
                )
            ]
            wait = window_wait(ends, now, self._limit, self._window)
            if wait > 0:
                conn.execute("COMMIT")
                return wait
            slot = GovernorSlot(uuid.uuid4().hex, now, now + hold)
            conn.execute("INSERT INTO slots VALUES (?, ?, ?)", (self.key, slot.id, slot.deadline))
            conn.execute("COMMIT")
            return slot
        finally:
            conn.close()

    async def _try_async(self, hold: float) -> GovernorSlot | float:
        return await asyncio.to_thread(self._try, hold)

    def _stale(self, slot: GovernorSlot) -> bool:
        # The booking runs in a thread; its answer waits for the event loop, which may be blocked.
        # Holds carry one second of slack (client.slot_hold), so a lag over half of it is too much.
        return self._clock() - slot.granted_at > STALE_LAG

    def complete(self, slot: Slot) -> None:
        """A response came back for ``slot``: it ends now (no-op if it already ended)."""
        if not isinstance(slot, GovernorSlot) or slot.completed:
            return
        slot.completed = True
        with lapse_on_failure(self):
            self._end(slot)

    def _end(self, slot: GovernorSlot) -> None:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            now = self._clock()
            conn.execute(
                "UPDATE slots SET end_at = ? WHERE key = ? AND id = ? AND end_at > ?",
                (now, self.key, slot.id, now),
            )
            conn.execute("COMMIT")
        finally:
            conn.close()

    async def complete_async(self, slot: Slot) -> None:
        """Async twin of :meth:`complete`."""
        await asyncio.to_thread(self.complete, slot)
