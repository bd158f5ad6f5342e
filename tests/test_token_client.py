"""Player tokens through the client: ``token_cache=``, ``cached_player_url``, ``prefetch_tokens``."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from baijiayun import AsyncBaiJiaYunClient, BaiJiaYunClient, TokenCache
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.server import BackgroundServer
from baijiayun.errors import DryRunRequest, InvalidArgumentError

from .token_child import page_views, query

PLAYBACKS = 50


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, BackgroundServer]]:
    emulator = Emulator("sqlite://", EmulatorConfig(rate_limit=None))
    with emulator, BackgroundServer(emulator) as server:
        yield emulator, server


@pytest.fixture
def site(served: tuple[Emulator, BackgroundServer]) -> dict[str, Any]:
    """A fresh account with 50 ready playbacks; token calls take 50 ms, so misses overlap."""
    emulator, server = served
    emulator.reset()
    account = emulator.create_account()
    rooms = []
    for _ in range(PLAYBACKS):
        room = emulator.create_room(account["partner_id"])["room_id"]
        emulator.create_recording(room, status=100)
        rooms.append(room)
    emulator.inject_fault("/openapi/playback/getPlayerToken", "latency", 0.05)
    return {
        "emulator": emulator,
        "pid": account["partner_id"],
        "key": account["partner_key"],
        "url": server.base_url,
        "rooms": rooms,
    }


def _token_calls(site: dict[str, Any]) -> int:
    emulator: Emulator = site["emulator"]
    return emulator.calls(site["pid"], "getPlayerToken")


_query = query


def _check_urls(site: dict[str, Any], views: list[tuple[int, str]]) -> None:
    tokens: dict[int, set[str]] = {}
    for room, url in views:
        query = _query(url)
        assert url.startswith(site["url"] + "/web/playback/index?")
        assert query["classid"] == str(room)
        tokens.setdefault(room, set()).add(query["token"])
    assert sorted(tokens) == sorted(site["rooms"])
    assert all(len(found) == 1 for found in tokens.values())  # every view reused one token


def test_10000_page_views_from_threads_cost_one_token_call_per_playback(
    site: dict[str, Any],
) -> None:
    cache = TokenCache()
    rooms = site["rooms"]
    with BaiJiaYunClient(site["pid"], site["key"], base_url=site["url"], token_cache=cache) as c:

        def view(index: int) -> tuple[int, str]:
            room = rooms[index % PLAYBACKS]
            return room, c.playback.cached_player_url(room, user_name=f"student {index}")

        with ThreadPoolExecutor(max_workers=16) as pool:
            views = list(pool.map(view, range(10_000)))
    assert _token_calls(site) == PLAYBACKS
    _check_urls(site, views)
    assert _query(views[7][1])["user_name"] == "student 7"


def test_10000_page_views_from_tasks_cost_one_token_call_per_playback(
    site: dict[str, Any],
) -> None:
    cache = TokenCache()
    rooms = site["rooms"]

    async def main() -> list[tuple[int, str]]:
        async with AsyncBaiJiaYunClient(
            site["pid"], site["key"], base_url=site["url"], token_cache=cache
        ) as client:
            at_once = asyncio.Semaphore(200)

            async def view(index: int) -> tuple[int, str]:
                room = rooms[index % PLAYBACKS]
                async with at_once:
                    return room, await client.playback.cached_player_url(room)

            return await asyncio.gather(*(view(i) for i in range(10_000)))

    views = asyncio.run(main())
    assert _token_calls(site) == PLAYBACKS
    _check_urls(site, views)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_reused_while_it_has_min_ttl_left(site: dict[str, Any]) -> None:
    clock = Clock()
    room = site["rooms"][0]
    with BaiJiaYunClient(
        site["pid"], site["key"], base_url=site["url"], token_cache=TokenCache(clock=clock)
    ) as client:
        pb = client.playback
        first = _query(pb.cached_player_url(room, expires_in=3600, min_ttl=600))["token"]
        clock.now += 3000  # 600 s left: still good
        assert _query(pb.cached_player_url(room))["token"] == first
        assert _token_calls(site) == 1
        clock.now += 1  # 599 s left: fetch a new one
        second = _query(pb.cached_player_url(room))["token"]
        assert _token_calls(site) == 2 and second != first
        # a token that never expires is fetched (and then reused) only for callers asking for one
        forever = _query(pb.cached_player_url(room, expires_in=0))["token"]
        assert _query(pb.cached_player_url(room, expires_in=0))["token"] == forever
        assert _query(pb.cached_player_url(room))["token"] == second
        assert _token_calls(site) == 3


def test_prefetch_fills_the_cache_with_batch_calls_of_100(site: dict[str, Any]) -> None:
    emulator: Emulator = site["emulator"]
    long_room = emulator.create_room(site["pid"], long_term=True)["room_id"]
    session = emulator.create_recording(long_room, status=100)["session_id"]
    more = []
    for _ in range(100):  # 150 short playbacks and one session: two batch calls
        room = emulator.create_room(site["pid"])["room_id"]
        emulator.create_recording(room, status=100)
        more.append(room)
    ids: list[int | tuple[int, int]] = [*site["rooms"], *more, (long_room, session)]
    with BaiJiaYunClient(
        site["pid"], site["key"], base_url=site["url"], token_cache=TokenCache()
    ) as client:
        assert client.playback.prefetch_tokens(ids, expires_in=3600) == 151
        assert emulator.calls(site["pid"], "getPlayerTokenBatch") == 2
        urls = [client.playback.cached_player_url(room) for room in [*site["rooms"], *more]]
        url = client.playback.cached_player_url(long_room, session)
    assert _token_calls(site) == 0
    assert _query(url)["session_id"] == str(session)
    assert len({_query(u)["token"] for u in urls}) == 150


def test_without_a_cache_bad_ids_and_dry_run(site: dict[str, Any]) -> None:
    with BaiJiaYunClient(site["pid"], site["key"], base_url=site["url"]) as client:
        with pytest.raises(InvalidArgumentError) as raised:
            client.playback.cached_player_url(site["rooms"][0])
        assert raised.value.argument == "token_cache"
        with pytest.raises(InvalidArgumentError) as raised:
            client.playback.prefetch_tokens([site["rooms"][0]])
        assert raised.value.argument == "token_cache"
    cache = TokenCache()
    with BaiJiaYunClient(
        site["pid"], site["key"], base_url=site["url"], token_cache=cache, dry_run=True
    ) as client:
        with pytest.raises(InvalidArgumentError) as raised:
            client.playback.cached_player_url(-5)
        assert raised.value.argument == "room_id"
        with pytest.raises(DryRunRequest) as shown:
            client.playback.cached_player_url(site["rooms"][0])
        assert shown.value.request.url.path.endswith("/getPlayerToken")
        with pytest.raises(DryRunRequest) as shown:
            client.playback.prefetch_tokens(site["rooms"])
        assert shown.value.request.url.path.endswith("/getPlayerTokenBatch")
    assert len(cache) == 0 and _token_calls(site) == 0


def test_tokens_are_never_logged(site: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with BaiJiaYunClient(
        site["pid"], site["key"], base_url=site["url"], token_cache=TokenCache()
    ) as client:
        token = _query(client.playback.cached_player_url(site["rooms"][0]))["token"]
        client.playback.prefetch_tokens(site["rooms"][:3])
    assert "getPlayerToken" in caplog.text  # the calls are logged, their tokens are not
    assert token not in caplog.text


# --- across processes, through Redis ------------------------------------------------------------


def test_processes_sharing_a_redis_cache_make_one_call_per_playback(
    site: dict[str, Any], redis_url: str
) -> None:
    import redis

    prefix = f"bjy:test:{uuid.uuid4().hex}:"
    ctx = multiprocessing.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Queue(), ctx.Queue()
    args = (site["url"], site["pid"], site["key"], site["rooms"], redis_url, prefix)
    workers = [ctx.Process(target=page_views, args=(*args, ready, start, out)) for _ in range(3)]
    try:
        for worker in workers:
            worker.start()
        for _ in workers:
            ready.get(timeout=60)
        t0 = time.time() + 0.1
        for _ in workers:
            start.put(t0)
        seen = [out.get(timeout=60) for _ in workers]
    finally:
        for worker in workers:
            worker.join(10)
        store = redis.Redis.from_url(redis_url)
        for name in store.scan_iter(f"{prefix}*"):
            store.delete(name)
    assert _token_calls(site) == PLAYBACKS
    assert seen[0] == seen[1] == seen[2]  # every process plays each playback with one token
