"""RedisRateGovernor on the real Redis server: one budget for many processes."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator

import httpx
import pytest

from baijiayun import BaiJiaYunClient, RedisRateGovernor

from .sdk_helpers import BASE, KEY, PARTNER_ID, Recorder


@pytest.fixture
def key(redis_url: str) -> Iterator[str]:
    import redis

    name = f"bjy:test:{uuid.uuid4().hex}"
    yield name
    redis.Redis.from_url(redis_url).delete(name)


def _reserve_many(url: str, key: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    governor = RedisRateGovernor(url, key=key, calls=200, period=10.0)
    queue.put([governor.reserve() for _ in range(count)])
    governor.close()


def test_two_processes_share_one_budget(redis_url: str, key: str) -> None:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(target=_reserve_many, args=(redis_url, key, 150, queue))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    waits = queue.get(timeout=30) + queue.get(timeout=30)
    for worker in workers:
        worker.join(10)
    free = [w for w in waits if w == 0]
    queued = [w for w in waits if w > 0]
    assert len(free) == 200
    assert len(queued) == 100
    assert all(
        9.0 < w <= 10.0 for w in queued
    )  # each waits for a slot of the first second to expire


def test_sync_and_async_reserve_from_the_same_book(redis_url: str, key: str) -> None:
    import asyncio

    governor = RedisRateGovernor(redis_url, key=key, calls=2, period=5.0)
    assert governor.reserve() == 0

    async def second_and_third() -> tuple[float, float]:
        try:
            return await governor.reserve_async(), await governor.reserve_async()
        finally:
            await governor.aclose()

    second, third = asyncio.run(second_and_third())
    assert second == 0 and 4.0 < third <= 5.0
    governor.close()


def test_client_waits_on_the_shared_governor(redis_url: str, key: str) -> None:
    slept: list[float] = []
    governor = RedisRateGovernor(redis_url, key=key, calls=2, period=10.0, sleep=slept.append)
    http = httpx.Client(transport=httpx.MockTransport(Recorder({"status": 0}).handler))
    with BaiJiaYunClient(
        PARTNER_ID, KEY, base_url=BASE, http_client=http, rate_limit=governor
    ) as client:
        for _ in range(3):
            client.playback.get_basic_info(1)
    assert len(slept) == 1 and 9.0 < slept[0] <= 10.0
    governor.close()


def test_repr_and_no_io_in_constructor() -> None:
    governor = RedisRateGovernor("redis://127.0.0.1:1/0", key="k", calls=5, period=1)
    assert repr(governor) == "RedisRateGovernor(key='k', calls=5, period=1)"
    with pytest.raises(ValueError):
        RedisRateGovernor(key="k", calls=0)
