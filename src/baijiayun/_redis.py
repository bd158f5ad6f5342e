"""State shared between processes: Redis connections opened on first use, failures as SharedStateError."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import SharedStateError

__all__ = ["RedisConnections", "shared_state"]


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


class RedisConnections:
    """The Redis clients of one object (a governor, a token cache) for ``url``.

    An async client is bound to the event loop it first ran on, so each running loop gets its
    own: a program that calls ``asyncio.run`` twice (or runs loops in several threads) never
    reuses a client of a closed or foreign loop. Nothing is opened before the first call.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._sync: Any = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._mutex = threading.Lock()

    def sync(self) -> Any:
        """The synchronous client (thread-safe: redis-py pools its connections)."""
        with self._mutex:
            if self._sync is None:
                import redis

                self._sync = redis.Redis.from_url(self.url)
            return self._sync

    def for_loop(self) -> Any:
        """The async client of the running event loop."""
        loop = asyncio.get_running_loop()
        with self._mutex:
            client = self._async.get(loop)
            if client is None:
                import redis.asyncio

                # A client holds its loop alive (its connections refer to it), so the weak keys
                # alone never let go: forget the clients of loops that are closed.
                for dead in [other for other in self._async if other.is_closed()]:
                    del self._async[dead]
                client = self._async[loop] = redis.asyncio.Redis.from_url(self.url)
            return client

    def close(self) -> None:
        """Close the synchronous client."""
        with self._mutex:
            client, self._sync = self._sync, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the async client of the running event loop."""
        with self._mutex:
            client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
