"""The SDK against a misbehaving server on a real loopback socket: bounded, and inside its errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

from baijiayun import AsyncBaiJiaYunClient, BaiJiaYunClient, RetryPolicy, errors

from .hostile import (
    HostileServer,
    envelope,
    huge_body,
    reply,
    reset_mid_body,
    trickle,
    trickle_head,
)
from .sdk_helpers import KEY, PARTNER_ID, FakeClock

pytestmark = pytest.mark.server

NO_WAIT = RetryPolicy(initial_delay=0.0, max_delay=0.0)


def _client(server: HostileServer, **options: Any) -> BaiJiaYunClient:
    options.setdefault("rate_limit", None)
    options.setdefault("retry_policy", NO_WAIT)
    return BaiJiaYunClient(PARTNER_ID, KEY, base_url=server.base_url, **options)


def test_a_trickling_reply_ends_at_the_call_timeout() -> None:
    server = HostileServer()
    server.script = [trickle(0.02, server.stop)]
    with (
        server,
        _client(server, timeout=0.3) as client,
        pytest.raises(errors.APITimeoutError, match=r"timeout of 0\.3 s") as caught,
    ):
        client.playback.get_basic_info(1)
    assert caught.value.request_sent
    assert len(server.requests) == 1  # no time was left to re-send


@pytest.mark.anyio
async def test_async_trickle_ends_at_the_call_timeout() -> None:
    server = HostileServer()
    server.script = [trickle(0.02, server.stop)]
    with server:
        async with AsyncBaiJiaYunClient(
            PARTNER_ID, KEY, base_url=server.base_url, rate_limit=None, timeout=0.3
        ) as client:
            with pytest.raises(errors.APITimeoutError):
                await client.playback.get_basic_info(1)


def test_a_head_trickled_byte_by_byte_ends_at_the_call_deadline() -> None:
    # One byte a second of response head used to keep a 2 s call alive until the server stopped.
    server = HostileServer()
    server.script = [trickle_head(1.0, server.stop, seconds=20)]
    with server, _client(server, timeout=2, max_retries=0) as client:
        started = time.monotonic()
        with pytest.raises(errors.APITimeoutError, match=r"timeout of 2 s") as caught:
            client.playback.get_basic_info(1)
        elapsed = time.monotonic() - started
    assert elapsed < 2 + 1.5, f"the call lasted {elapsed:.1f} s"
    assert caught.value.request_sent


@pytest.mark.anyio
async def test_async_head_trickled_byte_by_byte_ends_at_the_call_deadline() -> None:
    server = HostileServer()
    server.script = [trickle_head(1.0, server.stop, seconds=20)]
    with server:
        async with AsyncBaiJiaYunClient(
            PARTNER_ID, KEY, base_url=server.base_url, rate_limit=None, timeout=2, max_retries=0
        ) as client:
            started = time.monotonic()
            with pytest.raises(errors.APITimeoutError, match=r"timeout of 2 s") as caught:
                await client.playback.get_basic_info(1)
            elapsed = time.monotonic() - started
    assert elapsed < 2 + 1.5, f"the call lasted {elapsed:.1f} s"
    assert caught.value.request_sent


def test_a_write_sent_without_an_answer_has_an_unknown_outcome() -> None:
    server = HostileServer()
    server.script = [trickle_head(0.05, server.stop)]
    with server, _client(server, timeout=0.5) as client:
        with pytest.raises(errors.APITimeoutError) as deleted:
            client.playback.delete(1)
        with pytest.raises(errors.APITimeoutError) as read:
            client.playback.get_basic_info(1)
    assert deleted.value.request_sent and deleted.value.outcome_unknown
    assert read.value.request_sent and not read.value.outcome_unknown


def test_per_call_timeout_overrides_the_client() -> None:
    server = HostileServer()
    server.script = [trickle(0.02, server.stop)]
    with (
        server,
        _client(server, timeout=60) as client,
        pytest.raises(errors.APITimeoutError, match=r"timeout of 0\.2 s"),
    ):
        client.with_options(timeout=0.2).playback.get_basic_info(1)


def test_reset_mid_body_is_a_connection_error_and_a_delete_is_not_resent() -> None:
    with (
        HostileServer(reset_mid_body()) as server,
        _client(server) as client,
        pytest.raises(errors.APIConnectionError) as caught,
    ):
        client.playback.delete(1)
        assert caught.value.request_sent
        assert "not re-sent" in str(caught.value)
        assert len(server.requests) == 1
        with pytest.raises(errors.APIConnectionError):
            client.playback.get_basic_info(1)
        assert len(server.requests) == 4  # a safe call is re-sent (max_retries=2)


def test_a_huge_body_is_refused_not_buffered() -> None:
    with (
        HostileServer(huge_body(64 << 20)) as server,
        _client(server, max_retries=0) as client,
        pytest.raises(errors.ResponseDecodeError, match="32 MiB"),
    ):
        client.playback.get_basic_info(1)


WRONG_SHAPES = [
    reply(b"<html>busy</html>"),
    reply([1, 2, 3]),
    reply(b"[" * 100_000 + b"]" * 100_000),
    envelope(code=True),
    envelope(code="0"),
    envelope(code=None),
    envelope({"status": "ready"}),
    envelope({"status": 100, "create_time": 10**30}),
    envelope({"status": 100, "create_time": "9" * 40}),
    envelope([{"deep": [[[[[]]]]]}]),
]


@pytest.mark.parametrize("behaviour", WRONG_SHAPES)
def test_wrong_shapes_are_decode_errors(behaviour: Any) -> None:
    with (
        HostileServer(behaviour) as server,
        _client(server, max_retries=0) as client,
        pytest.raises(errors.ResponseDecodeError),
    ):
        client.playback.get_basic_info(1)


@pytest.mark.parametrize(
    "data",
    [
        [{"room_id": 1, "session_id": "abc", "token": "t"}],
        [{"room_id": "1", "token": 5}],
        [["1", "t"]],
        {"1": {"token": "t"}},
        "tokens",
    ],
)
def test_hostile_token_batches_are_decode_errors(data: Any) -> None:
    with (
        HostileServer(envelope(data)) as server,
        _client(server, max_retries=0) as client,
        pytest.raises(errors.ResponseDecodeError),
    ):
        client.playback.get_player_token_batch([1, 2], 60)


def test_hostile_retry_after_is_capped_by_the_timeout() -> None:
    clock = FakeClock()
    hostile = reply({"code": 1, "msg": "busy"}, status=503, Retry_After="100000")
    with HostileServer(hostile) as server:
        client = _client(server, timeout=2, clock=clock, sleep=clock.sleep)
        with client, pytest.raises(errors.APIStatusError, match="would pass the call's timeout"):
            client.playback.get_basic_info(1)
    assert clock.sleeps == []  # it did not wait for nothing
    assert len(server.requests) == 1


def test_a_short_retry_after_is_honoured() -> None:
    clock = FakeClock()
    waits: list[tuple[str, float]] = []
    script = [reply({}, status=503, Retry_After="1"), envelope({"status": 100})]
    with HostileServer(*script) as server:
        client = _client(
            server, clock=clock, sleep=clock.sleep, on_wait=lambda why, s: waits.append((why, s))
        )
        with client:
            assert client.playback.get_basic_info(1).status == 100
    assert waits == [("retry_after", 1.0)]


def test_endless_listing_stops_on_a_page_of_repeats() -> None:
    item = {"room_id": 1, "playback_id": 1, "name": "x"}
    with (
        HostileServer(envelope({"total": 10**12, "list": [item]})) as server,
        _client(server) as client,
    ):
        assert len(list(client.playback.iter_list(page_size=1))) == 1
    assert len(server.requests) == 2


def test_listing_stops_at_the_reported_total() -> None:
    script = [
        envelope({"total": 3, "list": [{"room_id": 1, "playback_id": i}, {"room_id": 1}]})
        for i in range(10)
    ]
    with HostileServer(*script) as server, _client(server) as client:
        items = list(client.playback.iter_crop_list(1, page_size=2))
    assert len(server.requests) == 2
    assert len(items) == 3


@pytest.mark.parametrize("value", ["100000", "1e999", "inf", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_every_hostile_retry_after_is_refused_at_once(value: str) -> None:
    clock = FakeClock()
    with HostileServer(reply({}, status=503, Retry_After=value)) as server:
        client = _client(server, timeout=30, clock=clock, sleep=clock.sleep)
        with client, pytest.raises(errors.APIStatusError):
            client.playback.get_basic_info(1)
    assert clock.sleeps == []


def test_a_walk_never_passes_its_page_cap() -> None:
    from baijiayun.models import PlaybackPage
    from baijiayun.pagination import PageWalk

    walk = PageWalk(page_size=1, max_pages=3)
    fetched = 0
    while not walk.done:
        fetched += 1
        walk.take(PlaybackPage(total=10**9, list=[{"room_id": 1, "playback_id": fetched}]))
    assert fetched == 3


def test_a_walk_knows_an_item_by_its_key_not_its_counters() -> None:
    from baijiayun.models import PlaybackPage
    from baijiayun.pagination import PageWalk

    walk = PageWalk(page_size=2)
    first = walk.take(PlaybackPage(total=3, list=[{"room_id": 1, "play_times": 5}]))
    # the listing moved while we walked: room 1 again, watched once more since
    second = walk.take(
        PlaybackPage(total=3, list=[{"room_id": 1, "play_times": 6}, {"room_id": 2}])
    )
    assert [i.room_id for i in first + second] == [1, 2]
    assert all(isinstance(key, tuple) for key in walk._seen)  # a few ints, not the whole item
