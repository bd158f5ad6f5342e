"""SDK retries against injected faults, and the emulator behind a real uvicorn server on a port."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from baijiayun import AsyncBaiJiaYunClient, BaiJiaYunClient, errors
from baijiayun.client._core import RetryPolicy
from baijiayun.emulator import Emulator
from baijiayun.emulator.server import BackgroundServer
from baijiayun.testing import client_for

FAST = RetryPolicy(initial_delay=0.0, max_delay=0.0, rate_limit_wait=0.0)


@pytest.fixture
def room(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> int:
    room_id: int = bjy_emulator.create_room(bjy_account["partner_id"])["room_id"]
    bjy_emulator.create_recording(room_id, status=100)
    bjy_emulator.create_crop(room_id)
    return room_id


def _client(emulator: Emulator, account: dict[str, Any]) -> BaiJiaYunClient:
    return client_for(emulator, account, max_retries=3, retry_policy=FAST)


@pytest.mark.parametrize(
    ("kind", "value"), [("http", 503), ("error", 429), ("drop", 0), ("malformed", 0)]
)
def test_reads_recover_from_two_faults(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], room: int, kind: str, value: int
) -> None:
    bjy_emulator.inject_fault("getBasicInfo", kind, value, times=2)
    with _client(bjy_emulator, bjy_account) as client:
        if kind == "malformed":  # a broken body is raised, not retried
            for _ in range(2):
                with pytest.raises(errors.ResponseDecodeError):
                    client.playback.get_basic_info(room)
            assert client.playback.get_basic_info(room).status == 100
        else:
            assert client.playback.get_basic_info(room).status == 100
    assert bjy_emulator.fault_rules() == []


def test_delete_is_not_resent_after_a_dropped_connection(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], room: int
) -> None:
    bjy_emulator.inject_fault("delete", "drop", times=1)
    with _client(bjy_emulator, bjy_account) as client:
        with pytest.raises(errors.APIConnectionError) as caught:
            client.playback.delete(room, version=1)
        assert caught.value.request_sent
        assert [r["deleted"] for r in bjy_emulator.playback_rows(room, include_deleted=True)] == [
            False,
            False,
        ]
        client.playback.delete(room, version=1)
    assert [r["deleted"] for r in bjy_emulator.playback_rows(room, include_deleted=True)] == [
        False,
        True,
    ]


def test_replace_is_not_resent_after_503(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], room: int
) -> None:
    bjy_emulator.inject_fault("replacePlayback", "http", 503)
    with _client(bjy_emulator, bjy_account) as client, pytest.raises(errors.APIStatusError):
        client.playback.replace_playback(2, room, room)
    assert bjy_emulator.fault_rules()[0].hits == 1
    assert len(bjy_emulator.playback_rows(room)) == 2


def test_update_is_resent_until_it_lands(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], room: int
) -> None:
    bjy_emulator.inject_fault("update", "http", 502, times=3)
    with _client(bjy_emulator, bjy_account) as client:
        client.playback.update(room, "终于")
    assert {r["name"] for r in bjy_emulator.playback_rows(room)} == {"终于"}


def test_retries_give_up(bjy_emulator: Emulator, bjy_account: dict[str, Any], room: int) -> None:
    rule = bjy_emulator.inject_fault("getList", "error", 429)
    with _client(bjy_emulator, bjy_account) as client, pytest.raises(errors.RateLimitError):
        client.playback.get_list(None, 1, 10)
    assert rule.hits == 0  # the copy made when it was stored
    assert [r.hits for r in bjy_emulator.fault_rules()] == [4]


def test_probability_fault_is_deterministic_with_a_seed(database_url: str) -> None:
    from baijiayun.emulator import EmulatorConfig

    from .emulator_helpers import Raw

    fired = []
    for _ in range(2):
        with Emulator(database_url, EmulatorConfig(fault_seed=7)) as emulator:
            emulator.reset()
            raw = Raw(emulator, emulator.create_account())
            emulator.inject_fault("*", "error", 4321, probability=0.5)
            codes = [raw.post("getList", {"page": 1, "page_size": 5})["code"] for _ in range(20)]
            raw.http.close()
            fired.append([code == 4321 for code in codes])
            assert emulator.fault_rules()[0].hits == sum(fired[-1])
    assert fired[0] == fired[1] and 0 < sum(fired[0]) < 20


def test_latency_fault_makes_a_read_time_out(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], room: int, bjy_server: BackgroundServer
) -> None:
    bjy_emulator.inject_fault("getBasicInfo", "latency", 0.5, times=1)
    with BaiJiaYunClient(
        bjy_account["partner_id"],
        bjy_account["partner_key"],
        base_url=bjy_server.base_url,
        timeout=0.2,
        max_retries=1,
        retry_policy=FAST,
    ) as client:
        with pytest.raises(errors.APITimeoutError):  # the call's whole deadline went by
            client.playback.get_basic_info(room)
        assert client.playback.get_basic_info(room).status == 100  # the fault fired once


def test_sdk_against_a_real_port(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], room: int, bjy_server: BackgroundServer
) -> None:
    with BaiJiaYunClient(
        bjy_account["partner_id"], bjy_account["partner_key"], base_url=bjy_server.base_url
    ) as client:
        token = client.playback.get_player_token(room, 60).token
        page = httpx.get(client.playback.player_url(room, token))
        assert page.status_code == 200
        assert client.playback.get_list(None, 1, 10).items[0].play_times == 1


def test_dropped_connection_on_a_real_port(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], room: int, bjy_server: BackgroundServer
) -> None:
    bjy_emulator.inject_fault("delete", "drop", times=1)
    with BaiJiaYunClient(
        bjy_account["partner_id"],
        bjy_account["partner_key"],
        base_url=bjy_server.base_url,
        retry_policy=FAST,
    ) as client:
        with pytest.raises(errors.APIConnectionError) as caught:
            client.playback.delete(room)
        assert caught.value.request_sent
    assert len(bjy_emulator.playback_rows(room)) == 2


@pytest.mark.anyio
async def test_async_client_on_a_real_port(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], room: int, bjy_server: BackgroundServer
) -> None:
    bjy_emulator.inject_fault("getCropList", "http", 500, times=1)
    async with AsyncBaiJiaYunClient(
        bjy_account["partner_id"],
        bjy_account["partner_key"],
        base_url=bjy_server.base_url,
        retry_policy=FAST,
    ) as client:
        crops = await client.playback.get_crop_list(room)
    assert [c.version for c in crops.items] == [0, 1]


def test_connection_refused_is_retried_then_raised(bjy_account: dict[str, Any]) -> None:
    from baijiayun.emulator.server import free_port

    with (
        BaiJiaYunClient(
            1, "k", base_url=f"http://127.0.0.1:{free_port()}", max_retries=2, retry_policy=FAST
        ) as client,
        pytest.raises(errors.APIConnectionError) as caught,
    ):
        client.playback.delete(1)
    assert not caught.value.request_sent
