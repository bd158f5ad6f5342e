"""Two real emulator processes on one PostgreSQL database behave as one service."""

from __future__ import annotations

import hashlib
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from baijiayun.emulator import Emulator
from baijiayun.emulator.exceptions import PlaybackNotFound

pytestmark = [pytest.mark.postgres, pytest.mark.server]

LIMIT = 100  # calls per 10 s per partner, shared by both processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def schema_url(postgres_url: str) -> Iterator[str]:
    """A schema of its own on the PostgreSQL server, with the emulator's tables in it."""
    server = postgres_url.split("?")[0]
    engine = create_engine(server.replace("postgresql://", "postgresql+psycopg://"))
    schema = f"bjy_workers_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{server}?options=-csearch_path%3D{schema}"
    Emulator(url).close()  # creates the tables once, before two processes race to
    try:
        yield url
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture
def servers(schema_url: str) -> Iterator[list[str]]:
    """Two ``baijiayun emulator serve`` processes on the same database."""
    binary = Path(sys.executable).parent / "baijiayun"
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(
            [
                *(str(binary), "emulator", "serve", "--port", str(port)),
                *("--database", schema_url, "--rate-limit", str(LIMIT)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, "the emulator process exited"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the emulator did not start"
                    time.sleep(0.05)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


class Signed:
    """Raw signed form posts of one account to one server."""

    def __init__(self, base: str, partner_id: int, key: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        self.partner_id, self.key = partner_id, key

    def call(self, action: str, params: dict[str, Any], module: str = "playback") -> dict[str, Any]:
        form = {k: str(v) for k, v in params.items()}
        form.update(partner_id=str(self.partner_id), timestamp=str(int(time.time())))
        canonical = "&".join(f"{k}={form[k]}" for k in sorted(form))
        form["sign"] = hashlib.md5(f"{canonical}&partner_key={self.key}".encode()).hexdigest()
        reply = self.http.post(f"/openapi/{module}/{action}", data=form)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body


def _admin(base: str, path: str, **body: Any) -> Any:
    reply = httpx.post(f"{base}/_emulator/{path}", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]


def _writes(client: Signed, room: int, seed: int) -> list[tuple[str, int]]:
    """A random mix of version-changing calls on one room; (action, code) of each."""
    chance = random.Random(seed)
    done = []
    for _ in range(20):
        pick = chance.random()
        if pick < 0.5:
            params = {"type": 2, "source_room_id": room, "target_room_id": room}
            params["is_replace_main"] = chance.choice((0, 1))
            action = "replacePlayback"
        elif pick < 0.75:
            params = {"room_id": room, "version": chance.randint(0, 8)}
            action = "setMainVersion"
        else:
            params = {"room_id": room, "version": chance.randint(1, 8)}
            action = "delete"
        done.append((action, client.call(action, params)["code"]))
    return done


def test_two_processes_are_one_service(servers: list[str]) -> None:
    one, two = servers
    writer = _admin(one, "accounts")
    room = _admin(one, "rooms", partner_id=writer["partner_id"])["room_id"]
    _admin(two, "recordings", room_id=room, status=100)

    # concurrent writes through both processes: never a 500, every version number used once
    clients = [Signed(base, writer["partner_id"], writer["partner_key"]) for base in servers * 2]
    with ThreadPoolExecutor(len(clients)) as pool:
        results = [r for rs in pool.map(_writes, clients, [room] * 4, range(4)) for r in rs]
    assert {code for _, code in results} <= {0, PlaybackNotFound.code}  # no such version
    added = sum(1 for action, code in results if action == "replacePlayback" and code == 0)
    assert added > 0
    rows = httpx.get(f"{two}/_emulator/rooms/{room}/playbacks?include_deleted=1").json()["result"]
    versions = [r["version"] for r in rows]
    assert sorted(versions) == list(range(added + 1))  # 0 plus one per add, none reused
    crops = clients[1].call("getCropList", {"room_id": room})["data"]["list"]
    assert len({c["version"] for c in crops}) == len(crops)
    assert sum(c["is_main"] for c in crops) == 1

    # the rate limit is counted once: LIMIT calls in 10 s across both processes, not 2 x LIMIT
    limited = _admin(one, "accounts")
    callers = [Signed(base, limited["partner_id"], limited["partner_key"]) for base in servers]
    with ThreadPoolExecutor(4) as pool:
        codes = list(
            pool.map(
                lambda i: callers[i % 2].call("getBasicInfo", {"room_id": 1})["code"],
                range(LIMIT + 30),
            )
        )
    assert codes.count(429) == 30
    assert set(codes) == {3001, 429}

    # call statistics are shared: either process reports the calls both served (each process
    # stores its counts within a second, even when idle)
    def counted() -> dict[str, int]:
        rows = httpx.get(f"{two}/_emulator/stats").json()["result"]
        mine = [r for r in rows if r["partner_id"] == limited["partner_id"]]
        return {k: mine[0][k] for k in ("served", "rate_limited")} if mine else {}

    deadline = time.monotonic() + 10
    while counted() != {"served": LIMIT, "rate_limited": 30} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert counted() == {"served": LIMIT, "rate_limited": 30}

    # a key rotated through one process is the key the other checks the next call with
    rotating = _admin(two, "accounts")
    form = {"secret_key": rotating["secret_key"], "regenerate": 1}
    old = Signed(one, rotating["partner_id"], rotating["partner_key"])
    new_key = old.call("createkey", form, module="partner")["data"]["partner_key"]
    assert new_key != rotating["partner_key"]
    assert (
        Signed(two, rotating["partner_id"], new_key).call("getBasicInfo", {"room_id": 1})["code"]
        == 3001
    )
    assert (
        Signed(two, rotating["partner_id"], rotating["partner_key"]).call(
            "getBasicInfo", {"room_id": 1}
        )["code"]
        == 1002
    )
    for client in [*clients, *callers, old]:
        client.http.close()


def test_redis_rate_window_is_shared_by_emulators(redis_url: str) -> None:
    """With ``redis_url`` two emulators (two hosts, say) admit ``limit`` calls in all."""
    import asyncio

    from baijiayun.emulator import EmulatorConfig

    now = [1000.0]
    config = EmulatorConfig(rate_limit=5, redis_url=redis_url, redis_prefix=f"bjy:t:{uuid.uuid4()}")
    first = Emulator("sqlite://", config, rate_clock=lambda: now[0])
    second = Emulator("sqlite://", config, rate_clock=lambda: now[0])
    try:

        async def calls(count: int, partner_id: int = 7) -> list[bool]:
            emulators = (first, second)
            return [await emulators[i % 2].rate_window.admit(partner_id) for i in range(count)]

        assert asyncio.run(calls(7)) == [True] * 5 + [False] * 2
        assert asyncio.run(calls(1, partner_id=8)) == [True]  # per partner
        now[0] += 10.01
        assert asyncio.run(calls(1)) == [True]
        first.reset()
        assert asyncio.run(calls(5)) == [True] * 5
    finally:
        first.close()
        second.close()


def test_emulators_on_one_sqlite_file_share_keys_and_the_rate_window(tmp_path: Path) -> None:
    """Processes on one SQLite file (here two emulators) see each other's writes at once."""
    import asyncio

    from baijiayun.emulator import EmulatorConfig

    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    config = EmulatorConfig(rate_limit=3)
    first, second = Emulator(url, config), Emulator(url, config)
    try:
        account = first.create_account()
        pid = account["partner_id"]
        assert second.account(pid) == account
        rotated = first.rotate_key(pid, account["secret_key"], regenerate=True)
        assert second.account(pid)["partner_key"] == rotated  # type: ignore[index]

        async def calls() -> list[bool]:
            return [await e.rate_window.admit(pid) for e in (first, second, first, second)]

        assert asyncio.run(calls()) == [True, True, True, False]
    finally:
        first.close()
        second.close()


def test_a_hot_read_on_a_sqlite_file_sees_every_commit_at_once(tmp_path: Path) -> None:
    """getBasicInfo's read is kept per thread while the file's data_version stands: a commit by
    the same emulator, or by another one on the file (another worker), is seen by the next call."""
    from .emulator_helpers import Raw

    url = f"sqlite:///{tmp_path / 'hot.sqlite3'}"
    with Emulator(url) as first, Emulator(url) as second:
        account = first.create_account()
        room = first.create_room(account["partner_id"])["room_id"]
        first.create_recording(room, status=100)
        raw, other = Raw(first, account), Raw(second, account)
        with raw.http, other.http:
            assert raw.post("getBasicInfo", {"room_id": room})["data"]["status"] == 100
            assert raw.post("getBasicInfo", {"room_id": room})["data"]["status"] == 100
            assert raw.post("update", {"room_id": room, "name": "renamed here"})["code"] == 0
            assert raw.post("getBasicInfo", {"room_id": room})["data"]["name"] == "renamed here"

            assert other.post("update", {"room_id": room, "name": "renamed there"})["code"] == 0
            assert raw.post("getBasicInfo", {"room_id": room})["data"]["name"] == "renamed there"
            second.inject_fault("getBasicInfo", "error", 5003, times=1)
            assert raw.post("getBasicInfo", {"room_id": room})["code"] == 5003
            assert raw.post("getBasicInfo", {"room_id": room})["code"] == 0
            new_key = second.rotate_key(account["partner_id"], account["secret_key"])
            assert raw.post("getBasicInfo", {"room_id": room})["code"] == 1002  # the old key
            assert raw.post("getBasicInfo", {"room_id": room}, key=new_key)["code"] == 0
            second.delete_room(room)
            assert raw.post("getBasicInfo", {"room_id": room}, key=new_key)["code"] != 0


@pytest.fixture
def two_workers(schema_url: str) -> Iterator[str]:
    """``baijiayun emulator serve --workers 2`` on one PostgreSQL database."""
    binary = Path(sys.executable).parent / "baijiayun"
    port = _free_port()
    process = subprocess.Popen(
        [
            *(str(binary), "emulator", "serve", "--port", str(port), "--workers", "2"),
            *("--database", schema_url, "--rate-limit", "0"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the emulator process exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_emulator/faults").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(20)


def test_workers_share_fault_rules_and_their_counts(two_workers: str) -> None:
    base = two_workers
    account = _admin(base, "accounts")
    room = _admin(base, "rooms", partner_id=account["partner_id"])["room_id"]
    _admin(base, "recordings", room_id=room, status=100)
    rule = _admin(base, "faults", endpoint="getBasicInfo", kind="error", value=5000, times=9)
    # a fresh connection per request: the kernel spreads them over both workers
    fresh = httpx.Limits(max_keepalive_connections=0)
    signed = Signed(base, account["partner_id"], account["partner_key"])
    signed.http = httpx.Client(base_url=base, timeout=30, limits=fresh)

    def listed(_: int) -> Any:
        return signed.http.get("/_emulator/faults").json()["result"]

    def call(_: int) -> int:
        return int(signed.call("getBasicInfo", {"room_id": room})["code"])

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(listed, range(20))) == [[rule]] * 20  # the same from every worker
        codes = list(pool.map(call, range(40)))
        assert sorted(codes) == [0] * 31 + [5000] * 9  # fired 9 times in all
        assert list(pool.map(listed, range(8))) == [[]] * 8
    signed.http.close()
