"""TokenCache and RedisTokenCache: reuse while fresh, one fetch per miss, secrets kept secret."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from baijiayun.errors import InvalidArgumentError
from baijiayun.tokens import RedisTokenCache, TokenCache


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Fetcher:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
            number = self.calls
        time.sleep(self.delay)
        return f"secret-token-{number}"

    async def fetch_async(self) -> str:
        self.calls += 1
        number = self.calls
        await asyncio.sleep(self.delay)
        return f"secret-token-{number}"


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    import redis

    prefix = f"bjy:test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for name in client.scan_iter(f"{prefix}*"):
        client.delete(name)


@pytest.fixture(params=["memory", "redis"])
def cache_and_clock(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[TokenCache | RedisTokenCache, Clock]]:
    clock = Clock()
    if request.param == "memory":
        yield TokenCache(clock=clock), clock
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    cache = RedisTokenCache(url, prefix=prefix, clock=clock)
    yield cache, clock
    cache.close()


def test_reuses_a_token_while_it_has_min_ttl_left(
    cache_and_clock: tuple[TokenCache | RedisTokenCache, Clock],
) -> None:
    cache, clock = cache_and_clock
    fetch = Fetcher()
    first = cache.get_or_fetch("1:100-0", fetch, expires_in=3600, min_ttl=600)
    clock.now += 3000  # 600 s left: still good
    assert cache.get_or_fetch("1:100-0", fetch, expires_in=3600, min_ttl=600) == first
    clock.now += 1  # 599 s left: a new one
    second = cache.get_or_fetch("1:100-0", fetch, expires_in=3600, min_ttl=600)
    assert second != first
    assert fetch.calls == 2


def test_never_hands_out_a_non_expiring_token_unless_asked(
    cache_and_clock: tuple[TokenCache | RedisTokenCache, Clock],
) -> None:
    cache, _ = cache_and_clock
    fetch = Fetcher()
    forever = cache.get_or_fetch("1:100-0", fetch, expires_in=0, min_ttl=0)
    assert cache.get("1:100-0", expires_in=3600, min_ttl=600) is None
    hourly = cache.get_or_fetch("1:100-0", fetch, expires_in=3600, min_ttl=600)
    assert hourly != forever
    assert cache.get("1:100-0", expires_in=0, min_ttl=0) == forever


def test_put_many_fills_the_cache_from_one_batch(
    cache_and_clock: tuple[TokenCache | RedisTokenCache, Clock],
) -> None:
    cache, clock = cache_and_clock
    cache.put_many({"1:100-0": "t100", "1:200-5": "t200"}, expires_in=3600)
    clock.now += 100
    assert cache.get("1:200-5", expires_in=3600, min_ttl=600) == "t200"
    assert cache.get_or_fetch("1:100-0", Fetcher(), expires_in=3600, min_ttl=600) == "t100"
    cache.put_many({"1:300-0": "old"}, expires_in=3600, fetched_at=clock.now - 3500)
    assert cache.get("1:300-0", expires_in=3600, min_ttl=600) is None


def test_min_ttl_must_leave_room_in_expires_in() -> None:
    cache = TokenCache()
    with pytest.raises(InvalidArgumentError) as raised:
        cache.get_or_fetch("k", Fetcher(), expires_in=600, min_ttl=600)
    assert raised.value.argument == "min_ttl"
    with pytest.raises(InvalidArgumentError):
        cache.get("k", expires_in=-1)


def test_tokens_are_not_in_the_repr() -> None:
    cache = TokenCache()
    cache.put_many({"1:100-0": "secret-token-x"}, expires_in=3600)
    assert "secret" not in repr(cache)
    assert repr(cache) == "TokenCache(entries=1)"
    assert "secret" not in repr(RedisTokenCache("redis://127.0.0.1:1/0", prefix="p:"))


def test_threads_missing_one_key_make_one_fetch() -> None:
    cache = TokenCache()
    fetch = Fetcher(delay=0.1)
    got: list[str] = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get_or_fetch("k", fetch)))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fetch.calls == 1
    assert got == ["secret-token-1"] * 16


def test_a_failed_fetch_fails_every_waiter_and_the_next_call_tries_again() -> None:
    cache = TokenCache()
    calls = 0

    async def broken() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("service down")

    async def main() -> list[object]:
        return await asyncio.gather(
            *[cache.get_or_fetch_async("k", broken) for _ in range(5)], return_exceptions=True
        )

    results = asyncio.run(main())
    assert calls == 1
    assert all(isinstance(r, RuntimeError) for r in results)
    assert asyncio.run(cache.get_or_fetch_async("k", Fetcher().fetch_async)) == "secret-token-1"


def test_tasks_missing_one_key_make_one_fetch_even_if_the_first_is_cancelled() -> None:
    cache = TokenCache()
    fetch = Fetcher(delay=0.05)

    async def main() -> list[str]:
        first = asyncio.ensure_future(cache.get_or_fetch_async("k", fetch.fetch_async))
        await asyncio.sleep(0)
        others = [
            asyncio.ensure_future(cache.get_or_fetch_async("k", fetch.fetch_async))
            for _ in range(8)
        ]
        await asyncio.sleep(0.01)
        first.cancel()
        return list(await asyncio.gather(*others))

    got = asyncio.run(main())
    assert fetch.calls == 2  # the cancelled leader's fetch, then one for all the others
    assert got == ["secret-token-2"] * 8


def _redis_worker(url: str, prefix: str, keys: list[str], out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import redis

    counter = redis.Redis.from_url(url)
    cache = RedisTokenCache(url, prefix=prefix)

    def fetch_for(key: str) -> str:
        def fetch() -> str:
            number = counter.incr(f"{prefix}fetches")
            time.sleep(0.2)
            return f"{key}-secret-{number}"

        return fetch

    got: list[str] = []
    lock = threading.Lock()

    def run(key: str) -> None:
        token = cache.get_or_fetch(key, fetch_for(key))
        with lock:
            got.append(token)

    threads = [threading.Thread(target=run, args=(key,)) for key in keys for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.close()
    out.put(got)


def test_processes_missing_the_same_keys_make_one_fetch_per_key(
    redis_url: str, redis_prefix: str
) -> None:
    import redis

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    keys = ["1:100-0", "1:200-0", "1:300-7"]
    workers = [
        ctx.Process(target=_redis_worker, args=(redis_url, redis_prefix, keys, out))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    tokens = [token for _ in workers for token in out.get(timeout=60)]
    for worker in workers:
        worker.join(10)
    assert int(redis.Redis.from_url(redis_url).get(f"{redis_prefix}fetches") or 0) == 3
    assert len(tokens) == 48 and len(set(tokens)) == 3


def test_redis_async_twin(redis_url: str, redis_prefix: str) -> None:
    cache = RedisTokenCache(redis_url, prefix=redis_prefix)
    fetch = Fetcher(delay=0.05)

    async def main() -> list[str]:
        try:
            got = await asyncio.gather(
                *[cache.get_or_fetch_async("k", fetch.fetch_async) for _ in range(6)]
            )
            await cache.put_many_async({"j": "batch-token"}, expires_in=3600)
            got.append(await cache.get_or_fetch_async("j", fetch.fetch_async))
            return got
        finally:
            await cache.aclose()

    assert asyncio.run(main()) == ["secret-token-1"] * 6 + ["batch-token"]
    assert fetch.calls == 1


def test_single_and_batch_fetches_fill_the_same_keys() -> None:
    from baijiayun.tokens import token_key

    assert token_key(7, 100) == token_key(7, "100") == "7:100-0"
    assert token_key(7, 100, 5) == token_key(7, "100-5") == "7:100-5"
    clock = Clock()
    cache = TokenCache(clock=clock)
    started = cache.now()
    clock.now += 5  # the batch call took 5 s: the lifetime counts from before it
    cache.put_many(
        {token_key(7, k): v for k, v in {"100": "a", "100-5": "b"}.items()},
        expires_in=3600,
        fetched_at=started,
    )
    clock.now += 3600 - 600 - 5
    assert cache.get(token_key(7, 100, 5), expires_in=3600, min_ttl=600) == "b"
    clock.now += 1
    assert cache.get(token_key(7, 100), expires_in=3600, min_ttl=600) is None


class LoadSignal(TokenCache):
    """A TokenCache that says when a thread other than the first looked the key up."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.second_looked = threading.Event()
        self.first: int | None = None

    def _load(self, slot: str) -> tuple[str, float | None] | None:
        me = threading.get_ident()
        if self.first is None:
            self.first = me
        elif me != self.first:
            self.second_looked.set()
        return super()._load(slot)


def test_a_caller_waiting_on_a_fetch_still_gets_its_own_min_ttl() -> None:
    clock = Clock()
    cache = LoadSignal(clock)
    release = threading.Event()
    got: dict[str, str] = {}

    def short_fetch() -> str:
        cache.second_looked.wait(10)
        time.sleep(0.02)  # let the second caller join this flight
        release.set()
        return "secret-short"

    def leader() -> None:
        got["leader"] = cache.get_or_fetch("k", short_fetch, expires_in=60, min_ttl=0)

    def waiter() -> None:
        got["waiter"] = cache.get_or_fetch(
            "k", lambda: "secret-long", expires_in=3600, min_ttl=3000
        )

    threads = [threading.Thread(target=leader), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == {"leader": "secret-short", "waiter": "secret-long"}
    assert cache.get("k", min_ttl=3000) == "secret-long"


def test_a_task_waiting_on_a_fetch_still_gets_its_own_min_ttl() -> None:
    cache = TokenCache(clock=Clock())

    async def main() -> tuple[str, str]:
        release = asyncio.Event()

        async def short_fetch() -> str:
            await release.wait()
            return "secret-short"

        async def long_fetch() -> str:
            return "secret-long"

        leader = asyncio.ensure_future(
            cache.get_or_fetch_async("k", short_fetch, expires_in=60, min_ttl=0)
        )
        await asyncio.sleep(0)
        waiter = asyncio.ensure_future(
            cache.get_or_fetch_async("k", long_fetch, expires_in=3600, min_ttl=3000)
        )
        await asyncio.sleep(0)
        release.set()
        return await leader, await waiter

    assert asyncio.run(main()) == ("secret-short", "secret-long")


def _slow_fetch_worker(url: str, prefix: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import redis

    counter = redis.Redis.from_url(url)
    cache = RedisTokenCache(url, prefix=prefix, lock_ttl=0.3, poll=0.02)

    def fetch() -> str:
        number = counter.incr(f"{prefix}fetches")
        time.sleep(1.0)  # queued behind the account limit, say: over three lock lifetimes
        return f"secret-{number}"

    counter.rpush(f"{prefix}ready", 1)
    while counter.llen(f"{prefix}ready") < 2:
        time.sleep(0.005)
    token = cache.get_or_fetch("1:100-0", fetch)
    cache.close()
    out.put(token)


def test_a_fetch_slower_than_the_lock_is_still_the_only_one(
    redis_url: str, redis_prefix: str
) -> None:
    import redis

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_slow_fetch_worker, args=(redis_url, redis_prefix, out))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    tokens = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert int(redis.Redis.from_url(redis_url).get(f"{redis_prefix}fetches") or 0) == 1
    assert tokens == ["secret-1", "secret-1"]


def test_one_redis_cache_serves_one_event_loop_after_another(
    redis_url: str, redis_prefix: str
) -> None:
    from baijiayun import RedisRateGovernor

    cache = RedisTokenCache(redis_url, prefix=redis_prefix)
    governor = RedisRateGovernor(redis_url, key=f"{redis_prefix}governor", calls=10, period=1.0)
    fetch = Fetcher()

    async def main(key: str) -> str:
        slot = await governor.acquire_async()
        await governor.complete_async(slot)
        return await cache.get_or_fetch_async(key, fetch.fetch_async)

    # without aclose: a second asyncio.run used to get the first loop's (closed) connection
    assert asyncio.run(main("a")) == "secret-token-1"
    assert asyncio.run(main("b")) == "secret-token-2"
    assert asyncio.run(main("a")) == "secret-token-1"
