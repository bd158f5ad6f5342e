"""Player-token caches: ``TokenCache`` in memory, ``RedisTokenCache`` shared by every process.

Both make one fetch for concurrent misses of one key ("single flight"): in one process through a
per-key flight, and with Redis across processes through a short lock the others wait on (renewed
while its holder fetches). A caller waiting on another's fetch still gets a token with its own
``min_ttl`` left: if the shared one is too short-lived, it fetches one of its own. Tokens are
secrets: they are never logged and never shown in a ``repr``. A token fetched with
``expires_in=0`` (it never expires) is stored apart and handed out only to callers asking for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._redis import RedisConnections, shared_state
from .errors import InvalidArgumentError, SharedStateError

__all__ = ["RedisTokenCache", "TokenCache", "token_key"]

Fetch = Callable[[], str]
AsyncFetch = Callable[[], Awaitable[str]]

DEFAULT_EXPIRES_IN = 3600
DEFAULT_MIN_TTL = 600

Entry = tuple[str, float | None]
"""A token and when it expires (None: never)."""

logger = logging.getLogger("baijiayun")


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
    entry: Entry | None = None
    error: BaseException | None = None


class _Cache:
    """Single flight in one process over the backend's ``_load`` / ``_store`` / ``_fill``."""

    _clock: Callable[[], float]

    def _init_flights(self) -> None:
        self._mutex = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._async_flights: dict[tuple[int, str], asyncio.Future[Entry]] = {}

    def _fresh(self, entry: Entry | None, min_ttl: float) -> str | None:
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

    def _fill(self, slot: str, fetch: Fetch, expires_in: int, min_ttl: float) -> Entry:
        return self._fetch_and_store(slot, fetch, expires_in)

    async def _fill_async(
        self, slot: str, fetch: AsyncFetch, expires_in: int, min_ttl: float
    ) -> Entry:
        return await self._fetch_and_store_async(slot, fetch, expires_in)

    def _expiry(self, started: float, expires_in: int) -> float | None:
        # Counted from before the fetch: the service started the token's life no earlier.
        return started + expires_in if expires_in else None

    def _fetch_and_store(self, slot: str, fetch: Fetch, expires_in: int) -> Entry:
        started = self._clock()
        token = fetch()
        expires_at = self._expiry(started, expires_in)
        self._store({slot: token}, expires_at)
        return token, expires_at

    async def _fetch_and_store_async(self, slot: str, fetch: AsyncFetch, expires_in: int) -> Entry:
        started = self._clock()
        token = await fetch()
        expires_at = self._expiry(started, expires_in)
        await self._store_async({slot: token}, expires_at)
        return token, expires_at

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
        token (or its error), unless that token has less than their own ``min_ttl`` left: then
        they fetch one of their own.
        """
        _check(expires_in, min_ttl)
        slot = _slot(key, expires_in)
        while True:
            token = self._fresh(self._load(slot), min_ttl)
            if token is not None:
                return token
            with self._mutex:
                flight = self._flights.get(slot)
                leader = flight is None
                if flight is None:
                    flight = self._flights[slot] = _Flight()
            if leader:
                break
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            token = self._fresh(flight.entry, min_ttl)
            if token is not None:
                return token
        try:
            flight.entry = self._fill(slot, fetch, expires_in, min_ttl)
            return flight.entry[0]
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
        loop = asyncio.get_running_loop()
        flight_key = (id(loop), slot)
        while True:
            token = self._fresh(await self._load_async(slot), min_ttl)
            if token is not None:
                return token
            flight = self._async_flights.get(flight_key)
            if flight is None:
                break
            await asyncio.wait([flight])  # raises only if this task is cancelled
            if flight.cancelled():
                continue  # the leader was cancelled: look again, and lead if nobody does
            token = self._fresh(flight.result(), min_ttl)
            if token is not None:
                return token
            # too short-lived for this caller: look again, and fetch its own if need be
        flight = self._async_flights[flight_key] = loop.create_future()
        try:
            entry = await self._fill_async(slot, fetch, expires_in, min_ttl)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                flight.cancel()
            else:
                flight.set_exception(exc)
                flight.exception()  # retrieved here, so no "never retrieved" warning
            raise
        else:
            flight.set_result(entry)
            return entry[0]
        finally:
            del self._async_flights[flight_key]


class TokenCache(_Cache):
    """Player tokens in this process's memory, for every client that shares this object."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[str, Entry] = {}
        self._init_flights()

    def __repr__(self) -> str:
        return f"TokenCache(entries={len(self._entries)})"

    def __len__(self) -> int:
        return len(self._entries)

    def _load(self, slot: str) -> Entry | None:
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

# Extend the fill lock only if it is still ours.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisTokenCache(_Cache):
    """Player tokens in Redis, shared by every process and machine using the same ``prefix``.

    On a miss one process takes a short lock (``lock_ttl`` seconds, renewed every third of it
    while the fetch lasts, however long the rate governor queues it) and fetches; the others poll
    for its token every ``poll`` seconds, and take over only if the lock lapsed (its holder died).
    Entries expire in Redis with the token. Needs the ``redis`` extra; connections open on first
    use, and each event loop gets its own async connection.
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
        self._connections = RedisConnections(url)
        self._init_flights()

    def __repr__(self) -> str:
        return f"RedisTokenCache(prefix={self.prefix!r})"

    def _redis(self) -> Any:
        return self._connections.sync()

    def _redis_async(self) -> Any:
        return self._connections.for_loop()

    @staticmethod
    def _decode(raw: bytes | None) -> Entry | None:
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

    def _load(self, slot: str) -> Entry | None:
        with shared_state(repr(self)):
            return self._decode(self._redis().get(self.prefix + slot))

    async def _load_async(self, slot: str) -> Entry | None:
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

    @property
    def _renew_every(self) -> float:
        return self.lock_ttl / 3

    def _extend(self, lock: str, owner: str) -> None:
        with shared_state(repr(self)):
            self._redis().eval(_EXTEND, 1, lock, owner, int(self.lock_ttl * 1000))

    async def _extend_async(self, lock: str, owner: str) -> None:
        with shared_state(repr(self)):
            await self._redis_async().eval(_EXTEND, 1, lock, owner, int(self.lock_ttl * 1000))

    @contextlib.contextmanager
    def _holding(self, lock: str, owner: str) -> Iterator[None]:
        """Keep the fill lock ours while the body runs (a thread renews it), then release it."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self._renew_every):
                try:
                    self._extend(lock, owner)
                except SharedStateError as exc:  # the lock may lapse; the fetch goes on
                    logger.warning("%s; the token lock could not be renewed", exc)

        renewer = threading.Thread(target=renew, name="bjy-token-lock", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            self._unlock(lock, owner)

    @contextlib.asynccontextmanager
    async def _holding_async(self, lock: str, owner: str) -> AsyncIterator[None]:
        """Async twin of :meth:`_holding` (a task renews the lock)."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._renew_every)
                try:
                    await self._extend_async(lock, owner)
                except SharedStateError as exc:
                    logger.warning("%s; the token lock could not be renewed", exc)

        renewer = asyncio.ensure_future(renew())
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await self._unlock_async(lock, owner)

    def _fill(self, slot: str, fetch: Fetch, expires_in: int, min_ttl: float) -> Entry:
        lock = f"{self.prefix}{slot}#lock"
        owner = uuid.uuid4().hex
        while True:
            if self._lock(lock, owner):
                with self._holding(lock, owner):
                    entry = self._load(slot)
                    if self._fresh(entry, min_ttl) is not None:
                        assert entry is not None
                        return entry
                    return self._fetch_and_store(slot, fetch, expires_in)
            self._sleep(self.poll)
            entry = self._load(slot)
            if self._fresh(entry, min_ttl) is not None:
                assert entry is not None
                return entry

    async def _fill_async(
        self, slot: str, fetch: AsyncFetch, expires_in: int, min_ttl: float
    ) -> Entry:
        lock = f"{self.prefix}{slot}#lock"
        owner = uuid.uuid4().hex
        while True:
            if await self._lock_async(lock, owner):
                async with self._holding_async(lock, owner):
                    entry = await self._load_async(slot)
                    if self._fresh(entry, min_ttl) is not None:
                        assert entry is not None
                        return entry
                    return await self._fetch_and_store_async(slot, fetch, expires_in)
            await self._sleep_async(self.poll)
            entry = await self._load_async(slot)
            if self._fresh(entry, min_ttl) is not None:
                assert entry is not None
                return entry

    def close(self) -> None:
        """Close the synchronous Redis connection pool."""
        self._connections.close()

    async def aclose(self) -> None:
        """Close the asynchronous Redis connection pool of the running event loop."""
        await self._connections.aclose()
