"""Fault rules live in the database: emulators on one database share them and their counts."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from baijiayun.emulator import Emulator
from baijiayun.testing import EmulatorTransport

from .emulator_helpers import Raw


@pytest.fixture(params=["sqlite-file", "postgresql"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Emulator, Emulator]]:
    """Two emulators (two processes or hosts, as far as the rules go) on one database."""
    if request.param == "sqlite-file":
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    first = Emulator(url)
    first.reset()
    second = Emulator(url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def _rules_over_http(emulator: Emulator) -> list[dict[str, object]]:
    with httpx.Client(transport=EmulatorTransport(emulator), base_url="http://e") as http:
        reply = http.get("/_emulator/faults")
        assert reply.status_code == 200
        result: list[dict[str, object]] = reply.json()["result"]
        return result


def test_a_counted_rule_fires_exactly_times_across_emulators(
    pair: tuple[Emulator, Emulator],
) -> None:
    first, second = pair
    account = first.create_account()
    room = first.create_room(account["partner_id"])["room_id"]
    first.create_recording(room, status=100)
    with httpx.Client(transport=EmulatorTransport(second), base_url="http://e") as http:
        stored = http.post(
            "/_emulator/faults",
            json={"endpoint": "getBasicInfo", "kind": "error", "value": 5000, "times": 7},
        ).json()["result"]
    assert stored["hits"] == 0 and stored["times"] == 7
    # the rule posted to one is the rule the other lists, hit count included
    assert _rules_over_http(first) == _rules_over_http(second) == [stored]

    clients = [Raw(first, account), Raw(second, account)] * 4
    with ThreadPoolExecutor(len(clients)) as pool:
        codes = list(
            pool.map(
                lambda i: clients[i % len(clients)].post("getBasicInfo", {"room_id": room})["code"],
                range(40),
            )
        )
    assert sorted(codes) == [0] * 33 + [5000] * 7
    assert first.fault_rules() == second.fault_rules() == []  # used up, gone for both
    first.stats()  # stores its counts (a server does so every second)
    assert second.calls(account["partner_id"], "getBasicInfo", "fault") == 7
    for client in clients[:2]:
        client.http.close()


def test_hits_of_an_endless_rule_add_up_across_emulators(pair: tuple[Emulator, Emulator]) -> None:
    first, second = pair
    account = first.create_account()
    first.inject_fault("getList", "error", 4001)
    clients = [Raw(first, account), Raw(second, account)]
    for i in range(5):
        assert clients[i % 2].post("getList", {"page": 1, "page_size": 5})["code"] == 4001
    assert [r.hits for r in first.fault_rules()] == [r.hits for r in second.fault_rules()] == [5]
    second.clear_faults()
    assert first.fault_rules() == []
    assert clients[0].post("getList", {"page": 1, "page_size": 5})["code"] == 0
    for client in clients:
        client.http.close()


def test_a_fault_fires_before_the_caller_is_known(pair: tuple[Emulator, Emulator]) -> None:
    """Faults come before every check: a call naming no account, or a malformed one, gets it."""
    first, second = pair
    account = first.create_account()
    second.inject_fault("getBasicInfo", "http", 503, times=2)
    stranger = Raw(first, {**account, "partner_id": 99999999})
    assert stranger.http.post("/openapi/playback/getBasicInfo", data={}).status_code == 503
    assert stranger.http.post("/openapi/playback/getBasicInfo", data={}).status_code == 503
    assert stranger.post("getBasicInfo", {"room_id": 1})["code"] == 2001  # used up
    stranger.http.close()


def test_an_injected_drop_is_logged_as_the_fault_not_as_a_crash(tmp_path: Path) -> None:
    """The served emulator's log: one line naming the injected drop, no traceback."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = Path(sys.executable).parent / "baijiayun"
    database = f"sqlite:///{tmp_path / 'drop.sqlite3'}"
    server = subprocess.Popen(
        [str(binary), "emulator", "serve", "--port", str(port), "--database", database],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "the emulator exited"
            try:
                httpx.get(f"{base}/_emulator/faults")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.1)
        fault = {"endpoint": "getBasicInfo", "kind": "drop", "times": 1}
        assert httpx.post(f"{base}/_emulator/faults", json=fault).status_code == 200
        with pytest.raises(httpx.TransportError):  # the connection broke mid-body
            httpx.post(f"{base}/openapi/playback/getBasicInfo", data={"room_id": "1"})
        after = httpx.post(f"{base}/openapi/playback/getBasicInfo", data={"room_id": "1"})
        assert after.json()["code"] == 1001  # the emulator is fine
    finally:
        server.terminate()
        _, log = server.communicate(timeout=20)
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log
    lines = [line for line in log.splitlines() if "injected fault" in line]
    assert lines == [
        "emulator: injected fault: dropped the connection of "
        "POST /openapi/playback/getBasicInfo mid-reply"
    ], log
