"""RedisRateGovernor on the real Redis server: one budget for many processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from baijiayun import RedisRateGovernor

from .governor_check import CALLS, PERIOD, busiest_window, run_processes


@pytest.fixture
def key(redis_url: str) -> Iterator[str]:
    import redis

    name = f"bjy:test:{uuid.uuid4().hex}"
    yield name
    redis.Redis.from_url(redis_url).delete(name)


def test_processes_never_let_more_than_calls_arrive_in_a_period(redis_url: str, key: str) -> None:
    arrivals = run_processes("redis", redis_url, key)
    assert len(arrivals) == 60
    assert busiest_window(arrivals, PERIOD) <= CALLS


def test_a_slot_never_completed_lapses_at_grant_plus_hold(redis_url: str, key: str) -> None:
    import redis

    governor = RedisRateGovernor(redis_url, key=key, calls=1, period=0.2, guard=0.0)
    lost = governor.acquire(hold=0.3)  # its process is killed: nobody completes it
    score = redis.Redis.from_url(redis_url).zscore(key, lost.id)
    assert score == pytest.approx(lost.granted_at + 0.3, abs=1e-3)
    waits: list[float] = []
    second = governor.acquire(hold=0.3, on_wait=waits.append)
    assert second.granted_at >= lost.granted_at + 0.5
    assert waits
    governor.close()


def test_sync_and_async_share_one_book_and_complete_ends_the_slot(redis_url: str, key: str) -> None:
    import redis

    governor = RedisRateGovernor(redis_url, key=key, calls=2, period=5.0, hold=60.0)
    first = governor.acquire()
    governor.complete(first)
    ended = redis.Redis.from_url(redis_url).zscore(key, first.id)
    assert ended < first.granted_at + 1.0  # completed: no longer held until grant + 60 s

    async def second_and_third() -> tuple[object, float]:
        try:
            second = await governor.acquire_async()
            reply = await governor._try_async(60.0)  # the book is full: a wait, not a slot
            await governor.complete_async(second)
            return second, reply  # type: ignore[return-value]
        finally:
            await governor.aclose()

    _, third = asyncio.run(second_and_third())
    assert isinstance(third, float) and 4.0 < third <= 5.1
    governor.close()


def test_repr_and_no_io_in_constructor() -> None:
    governor = RedisRateGovernor("redis://127.0.0.1:1/0", key="k", calls=5, period=1)
    assert repr(governor) == "RedisRateGovernor(key='k', calls=5, period=1)"
    with pytest.raises(ValueError):
        RedisRateGovernor(key="k", calls=0)


def test_an_unreachable_redis_is_a_baijiayun_error_and_complete_never_raises() -> None:
    from baijiayun import SharedStateError
    from baijiayun.ratelimit.base import GovernorSlot
    from baijiayun.tokens import RedisTokenCache

    governor = RedisRateGovernor("redis://127.0.0.1:1/0", key="k")
    with pytest.raises(SharedStateError):
        governor.acquire()
    governor.complete(GovernorSlot("x", 0.0, 1.0))  # logged; the slot lapses at its hold
    with pytest.raises(SharedStateError):
        RedisTokenCache("redis://127.0.0.1:1/0").get_or_fetch("k", lambda: "t")


@pytest.mark.parametrize(
    ("offsets", "calls", "margin", "guard"),
    [
        ([], 3, 0, 0.05),  # empty book: granted
        ([-4.0, -2.0], 3, 0, 0.05),  # below the limit: granted
        ([-4.0, -2.0, -1.0], 3, 0, 0.05),  # full: the oldest end leaves at -4 + window
        ([-4.0, -2.0, -1.0], 4, 1, 0.05),  # the margin makes 3 the limit
        ([-4.0, 7.0, 9.0], 2, 0, 0.5),  # pending slots count from now at the earliest
        ([3.0, 8.0], 3, 1, 1.0),  # only pending slots, margin and a long guard
        ([-5.5, -1.0], 2, 0, 1.0),  # the guard keeps an end 5.5 s old in the window
    ],
)
def test_the_lua_script_answers_like_window_wait(
    redis_url: str, key: str, offsets: list[float], calls: int, margin: int, guard: float
) -> None:
    import redis

    from baijiayun.ratelimit.base import GovernorSlot, window_wait

    server = redis.Redis.from_url(redis_url)
    seconds, micros = server.time()
    now = seconds + micros / 1_000_000
    ends = [now + offset for offset in offsets]
    if ends:
        server.zadd(key, {f"slot{index}": end for index, end in enumerate(ends)})
    governor = RedisRateGovernor(
        redis_url, key=key, calls=calls, period=5.0, margin=margin, guard=guard, hold=10.0
    )
    expected = window_wait(sorted(ends), now, governor._limit, governor._window)
    answer = governor._try(10.0)
    governor.close()
    if expected == 0:
        assert isinstance(answer, GovernorSlot)
    else:
        # the script's clock read a moment later than ours: its wait is shorter by that moment
        assert isinstance(answer, float)
        assert expected - 0.1 < answer <= expected
