"""The emulator counts calls per partner and endpoint: served, and refused by each check."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.server import BackgroundServer
from baijiayun.testing import EmulatorTransport

from .emulator_helpers import Raw


def test_stats_count_served_and_each_refusal(database_url: str) -> None:
    now = [100.0]
    config = EmulatorConfig(rate_limit=3)
    with Emulator(database_url, config, rate_clock=lambda: now[0]) as emulator:
        emulator.reset()
        account, other = emulator.create_account(), emulator.create_account()
        room = emulator.create_room(account["partner_id"])["room_id"]
        emulator.create_recording(room, status=100)
        client, neighbour = Raw(emulator, account), Raw(emulator, other)
        assert client.post("getBasicInfo", {"room_id": room})["code"] == 0
        assert client.post("getBasicInfo", {"room_id": 1})["code"] == 3001  # served: an answer
        assert client.post("getBasicInfo", {"room_id": room}, key="wrong")["code"] == 1002
        assert client.post("getBasicInfo", {"room_id": room}, ts=1)["code"] == 1001
        emulator.inject_fault("getBasicInfo", "error", 5000, times=1)
        assert client.post("getBasicInfo", {"room_id": room})["code"] == 5000
        assert client.post("getList", {"page": 1, "page_size": 5})["code"] == 0
        assert client.post("getBasicInfo", {"room_id": room})["code"] == 429
        assert neighbour.post("getBasicInfo", {"room_id": room})["code"] == 3001
        stats = emulator.stats()
        assert emulator.calls(account["partner_id"]) == 3
        assert emulator.calls(account["partner_id"], "getBasicInfo", "auth") == 2
        assert emulator.calls(other["partner_id"], "getList") == 0
        with httpx.Client(transport=EmulatorTransport(emulator), base_url="http://e") as http:
            over_http = http.get("/_emulator/stats").json()["result"]
        client.http.close()
        neighbour.http.close()
    zero = {"served": 0, "rate_limited": 0, "auth": 0, "fault": 0}

    def entry(partner: dict[str, Any], endpoint: str, **counts: int) -> dict[str, Any]:
        return {"partner_id": partner["partner_id"], "endpoint": endpoint, **zero, **counts}

    assert stats == [
        entry(account, "getBasicInfo", served=2, rate_limited=1, auth=2, fault=1),
        entry(account, "getList", served=1),
        entry(other, "getBasicInfo", served=1),
    ]
    assert over_http == stats


def test_reset_forgets_stats_and_state_and_restarts_ids(
    bjy_emulator: Emulator, bjy_account: dict[str, Any]
) -> None:
    def first_playback_id() -> int:
        account = bjy_emulator.create_account()
        room = bjy_emulator.create_room(account["partner_id"])["room_id"]
        return int(bjy_emulator.create_recording(room)["id"])

    client = Raw(bjy_emulator, bjy_account)
    client.post("getBasicInfo", {"room_id": 1})
    assert bjy_emulator.stats()[0]["served"] == 1
    before = first_playback_id()
    bjy_emulator.reset()
    assert bjy_emulator.stats() == []
    assert bjy_emulator.account(bjy_account["partner_id"]) is None
    assert first_playback_id() == before == 1
    client.http.close()


def test_stopping_a_server_waits_for_the_statistics_flush_in_its_thread() -> None:
    """The flush runs in a worker thread; a stop that left it running let the owner close the
    in-memory database under a write (a segfault in SQLite), and lost the counts."""
    with Emulator("sqlite://") as emulator:
        account = emulator.create_account()
        stats = emulator.call_stats
        store, running, started = stats.flush, [0], threading.Event()

        def slow_flush() -> None:
            running[0] += 1
            if not started.is_set():
                started.set()
                time.sleep(0.5)  # the server is told to stop meanwhile
            store()
            running[0] -= 1

        stats.flush, stats.interval = slow_flush, 0.05  # type: ignore[method-assign]
        server = BackgroundServer(emulator).start()
        with httpx.Client(base_url=server.base_url) as http:
            raw = Raw(emulator, account)
            raw.http.close()
            http.post("/openapi/playback/getBasicInfo", data=raw.form({"room_id": 1}))
        assert started.wait(5)
        server.stop()
        assert running[0] == 0, "the server stopped with a flush still writing"
        assert emulator.calls(account["partner_id"], "getBasicInfo") == 1
