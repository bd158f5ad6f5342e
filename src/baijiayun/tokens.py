"""Player-token caches: ``TokenCache`` in memory, ``RedisTokenCache`` shared by every process.

Both make one fetch for concurrent misses of one key ("single flight"): in one process through a
per-key flight, and with Redis across processes through a short lock the others wait on. Tokens are
secrets: they are never logged and never shown in a ``repr``. A token fetched with
``expires_in=0`` (it never expires) is stored apart and handed out only to callers asking for one.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._ratelimit import shared_state
from .errors import InvalidArgumentError

__all__ = ["RedisTokenCache", "TokenCache", "token_key"]

Fetch = Callable[[], str]
AsyncFetch = Callable[[], Awaitable[str]]

DEFAULT_EXPIRES_IN = 3600
DEFAULT_MIN_TTL = 600


def token_key(partner_id: int, room_id: int | str, session_id: int | str | None = None) -> str:
    """The cache key of a playback's token: ``"{partner_id}:{room_id}-{session_id or 0}"``.

    ``room_id`` may also be an entry of a getPlayerTokenBatch answer (``"room"`` or
    ``"room-session"``), so single and batch fetches fill the same keys.
    """
    room, _, session = str(room_id).partition("-")
    return f"{partner_id}:{room}-{int(session or session_id or 0)}"


def _check(expires_in: int, min_ttl: float) -> None:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in < 0:
        raise InvalidArgumentError("expires_in", f"must be an integer >= 0, got {expires_in!r}")
    if min_ttl < 0 or (expires_in and min_ttl >= expires_in):
        raise InvalidArgumentError(
            "min_ttl", f"must be >= 0 and below expires_in ({expires_in}), got {min_ttl!r}"
        )


def _slot(key: str, expires_in: int) -> str:
    # Tokens that never expire live under keys of their own: nobody gets one without asking.
    return key if expires_in else f"{key}#forever"


@dataclass
class _Flight:
    """One fetch in progress in this process; the others wait for its outcome."""

    done: threading.Event = field(default_factory=threading.Event)
    token: str | None = None
    error: BaseException | None = None


class _Cache:
    """Single flight in one process over the backend's ``_load`` / ``_store`` / ``_fill``."""

    _clock: Callable[[], float]

    def _init_flights(self) -> None:
        self._mutex = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._async_flights: dict[tuple[int, str], asyncio.Future[str]] = {}

    def _fresh(self, entry: tuple[str, float | None] | None, min_ttl: float) -> str | None:
        if entry is None:
            return None
        token, expires_at = entry
        if expires_at is None or expires_at - self._clock() >= min_ttl:
            return token
        return None

    # backend --------------------------------------------------------------------------------

    def _load(self, slot: str) -> tuple[str, float | None] | None:
        raise NotImplementedError

    def _store(self, items: Mapping[str, str], expires_at: float | None) -> None:
        raise NotImplementedError

    async def _load_async(self, slot: str) -> tuple[str, float | None] | None:
        return self._load(slot)

    async def _store_async(self, items: Mapping[str, str], expires_at: float | None) -> None:
        self._store(items, expires_at)

    def _fill(self, slot: str, fetch: Fetch, expires_in: int, min_ttl: float) -> str:
        return self._fetch_and_store(slot, fetch, expires_in)

    async def _fill_async(
        self, slot: str, fetch: AsyncFetch, expires_in: int, min_ttl: float
    ) -> str:
        return await self._fetch_and_store_async(slot, fetch, expires_in)

    def _expiry(self, started: float, expires_in: int) -> float | None:
        # Counted from before the fetch: the service started the token's life no earlier.
        return started + expires_in if expires_in else None

    def _fetch_and_store(self, slot: str, fetch: Fetch, expires_in: int) -> str:
        started = self._clock()
        token = fetch()
        self._store({slot: token}, self._expiry(started, expires_in))
        return token

    async def _fetch_and_store_async(self, slot: str, fetch: AsyncFetch, expires_in: int) -> str:
        started = self._clock()
        token = await fetch()
        await self._store_async({slot: token}, self._expiry(started, expires_in))
        return token

    # public ---------------------------------------------------------------------------------

    def now(self) -> float:
        """This cache's clock: take it before a batch fetch and pass it to :meth:`put_many`."""
        return self._clock()

    def get(
        self, key: str, *, expires_in: int = DEFAULT_EXPIRES_IN, min_ttl: float = DEFAULT_MIN_TTL
    ) -> str | None:
        """The cached token for ``key`` if it has at least ``min_ttl`` seconds left, else None.

        ``expires_in=0`` asks for a token that never expires (and only such a token).
        """
        _check(expires_in, min_ttl)
        return self._fresh(self._load(_slot(key, expires_in)), min_ttl)

    def put_many(
        self,
        tokens: Mapping[str, str],
        *,
        expires_in: int,
        fetched_at: float | None = None,
    ) -> None:
        """Store tokens fetched together (e.g. by ``getPlayerTokenBatch``) with one lifetime.

        ``fetched_at``: when the fetch started (default: now); the lifetime counts from it.
        """
        _check(expires_in, 0)
        started = self._clock() if fetched_at is None else fetched_at
        self._store(
            {_slot(k, expires_in): v for k, v in tokens.items()}, self._expiry(started, expires_in)
        )

    async def put_many_async(
        self,
        tokens: Mapping[str, str],
        *,
        expires_in: int,
        fetched_at: float | None = None,
    ) -> None:
        """Async twin of :meth:`put_many`."""
        _check(expires_in, 0)
        started = self._clock() if fetched_at is None else fetched_at
        await self._store_async(
            {_slot(k, expires_in): v for k, v in tokens.items()}, self._expiry(started, expires_in)
        )

    def get_or_fetch(
        self,
        key: str,
        fetch: Fetch,
        *,
        expires_in: int = DEFAULT_EXPIRES_IN,
        min_ttl: float = DEFAULT_MIN_TTL,
    ) -> str:
        """The cached token for ``key``, or ``fetch()``'s (a token valid ``expires_in`` s).

        Concurrent misses for one key make one ``fetch``; the others wait for it and get its
        token (or its error).
        """
        _check(expires_in, min_ttl)
        slot = _slot(key, expires_in)
        token = self._fresh(self._load(slot), min_ttl)
        if token is not None:
            return token
        with self._mutex:
            flight = self._flights.get(slot)
            leader = flight is None
            if flight is None:
                flight = self._flights[slot] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.token is not None
            return flight.token
        try:
            flight.token = self._fill(slot, fetch, expires_in, min_ttl)
            return flight.token
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._mutex:
                del self._flights[slot]
            flight.done.set()

    async def get_or_fetch_async(
        self,
        key: str,
        fetch: AsyncFetch,
        *,
        expires_in: int = DEFAULT_EXPIRES_IN,
        min_ttl: float = DEFAULT_MIN_TTL,
    ) -> str:
        """Async twin of :meth:`get_or_fetch`: concurrent tasks missing one key await one fetch."""
        _check(expires_in, min_ttl)
        slot = _slot(key, expires_in)
        token = self._fresh(await self._load_async(slot), min_ttl)
        if token is not None:
            return token
        loop = asyncio.get_running_loop()
        flight_key = (id(loop), slot)
        flight = self._async_flights.get(flight_key)
        while flight is not None:
            await asyncio.wait([flight])  # raises only if this task is cancelled
            if not flight.cancelled():
                return flight.result()
            flight = self._async_flights.get(flight_key)  # the leader was cancelled: lead now
        flight = self._async_flights[flight_key] = loop.create_future()
        try:
            token = await self._fill_async(slot, fetch, expires_in, min_ttl)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                flight.cancel()
            else:
                flight.set_exception(exc)
                flight.exception()  # retrieved here, so no "never retrieved" warning
            raise
        else:
            flight.set_result(token)
            return token
        finally:
            del self._async_flights[flight_key]


class TokenCache(_Cache):
    """Player tokens in this process's memory, for every client that shares this object."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[str, float | None]] = {}
        self._init_flights()

    def __repr__(self) -> str:
        return f"TokenCache(entries={len(self._entries)})"

    def __len__(self) -> int:
        return len(self._entries)

    def _load(self, slot: str) -> tuple[str, float | None] | None:
        return self._entries.get(slot)

    def _store(self, items: Mapping[str, str], expires_at: float | None) -> None:
        now = self._clock()
        with self._mutex:
            for slot in [s for s, (_, e) in self._entries.items() if e is not None and e <= now]:
                del self._entries[slot]
            for slot, token in items.items():
                self._entries[slot] = (token, expires_at)


# Release the fill lock only if it is still ours (it may have expired and been taken over).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisTokenCache(_Cache):
    """Player tokens in Redis, shared by every process and machine using the same ``prefix``.

    On a miss one process takes a short lock (``lock_ttl`` seconds) and fetches; the others poll
    for its token every ``poll`` seconds (or take over once the lock lapsed). Entries expire in
    Redis with the token. Needs the ``redis`` extra; connections open on first use.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "bjy:token:",
        lock_ttl: float = 10.0,
        poll: float = 0.02,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        sleep_async: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self.poll = poll
        self._clock = clock
        self._sleep = sleep
        self._sleep_async = sleep_async
        self._sync: Any = None
        self._async: Any = None
        self._init_flights()

    def __repr__(self) -> str:
        return f"RedisTokenCache(prefix={self.prefix!r})"

    def _redis(self) -> Any:
        if self._sync is None:
            import redis

            self._sync = redis.Redis.from_url(self.url)
        return self._sync

    def _redis_async(self) -> Any:
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(self.url)
        return self._async

    @staticmethod
    def _decode(raw: bytes | None) -> tuple[str, float | None] | None:
        if raw is None:
            return None
        token, expires_at = json.loads(raw)
        return str(token), None if expires_at is None else float(expires_at)

    def _encoded(
        self, items: Mapping[str, str], expires_at: float | None
    ) -> list[tuple[str, str, int | None]]:
        ttl_ms = None if expires_at is None else int((expires_at - self._clock()) * 1000)
        return [
            (self.prefix + slot, json.dumps([token, expires_at]), ttl_ms)
            for slot, token in items.items()
            if ttl_ms is None or ttl_ms > 0
        ]

    def _load(self, slot: str) -> tuple[str, float | None] | None:
        with shared_state(repr(self)):
            return self._decode(self._redis().get(self.prefix + slot))

    async def _load_async(self, slot: str) -> tuple[str, float | None] | None:
        with shared_state(repr(self)):
            return self._decode(await self._redis_async().get(self.prefix + slot))

    def _store(self, items: Mapping[str, str], expires_at: float | None) -> None:
        with shared_state(repr(self)):
            pipe = self._redis().pipeline(transaction=False)
            for name, value, ttl_ms in self._encoded(items, expires_at):
                pipe.set(name, value, px=ttl_ms)
            pipe.execute()

    async def _store_async(self, items: Mapping[str, str], expires_at: float | None) -> None:
        with shared_state(repr(self)):
            pipe = self._redis_async().pipeline(transaction=False)
            for name, value, ttl_ms in self._encoded(items, expires_at):
                pipe.set(name, value, px=ttl_ms)
            await pipe.execute()

    def _lock(self, lock: str, owner: str) -> bool:
        with shared_state(repr(self)):
            return bool(self._redis().set(lock, owner, nx=True, px=int(self.lock_ttl * 1000)))

    async def _lock_async(self, lock: str, owner: str) -> bool:
        with shared_state(repr(self)):
            client = self._redis_async()
            return bool(await client.set(lock, owner, nx=True, px=int(self.lock_ttl * 1000)))

    def _unlock(self, lock: str, owner: str) -> None:
        with shared_state(repr(self)):
            self._redis().eval(_RELEASE, 1, lock, owner)

    async def _unlock_async(self, lock: str, owner: str) -> None:
        with shared_state(repr(self)):
            await self._redis_async().eval(_RELEASE, 1, lock, owner)

    def _fill(self, slot: str, fetch: Fetch, expires_in: int, min_ttl: float) -> str:
        lock = f"{self.prefix}{slot}#lock"
        owner = uuid.uuid4().hex
        while True:
            if self._lock(lock, owner):
                try:
                    token = self._fresh(self._load(slot), min_ttl)
                    if token is not None:
                        return token
                    return self._fetch_and_store(slot, fetch, expires_in)
                finally:
                    self._unlock(lock, owner)
            self._sleep(self.poll)
            token = self._fresh(self._load(slot), min_ttl)
            if token is not None:
                return token

    async def _fill_async(
        self, slot: str, fetch: AsyncFetch, expires_in: int, min_ttl: float
    ) -> str:
        lock = f"{self.prefix}{slot}#lock"
        owner = uuid.uuid4().hex
        while True:
            if await self._lock_async(lock, owner):
                try:
                    token = self._fresh(await self._load_async(slot), min_ttl)
                    if token is not None:
                        return token
                    return await self._fetch_and_store_async(slot, fetch, expires_in)
                finally:
                    await self._unlock_async(lock, owner)
            await self._sleep_async(self.poll)
            token = self._fresh(await self._load_async(slot), min_ttl)
            if token is not None:
                return token

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
