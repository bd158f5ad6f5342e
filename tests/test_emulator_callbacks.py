"""Transcode callbacks: real deliveries to a local HTTP receiver, verified, with retries recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from baijiayun.callbacks import parse_transcode_callback
from baijiayun.emulator import Emulator, EmulatorConfig


class VirtualTime:
    """A clock that starts at the real time and jumps forward when slept on (backoffs cost 0 s)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def bjy_emulator(database_url: str) -> Iterator[Emulator]:
    """The emulator with its default callback backoff (1, 2, 4, 8, 16 s) on virtual time."""
    clock = VirtualTime()
    emulator = Emulator(database_url, EmulatorConfig(), clock=clock, sleep=clock.sleep)
    emulator.reset()
    try:
        yield emulator
    finally:
        emulator.close()


class Receiver:
    """A callback endpoint on a loopback port that fails the first ``failures`` deliveries."""

    def __init__(self, failures: int = 0, reply: bytes = b'{"code":0}') -> None:
        self.failures = failures
        self.reply = reply
        self.bodies: list[bytes] = []
        self.content_types: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(body)
                receiver.content_types.append(self.headers["Content-Type"])
                failing = len(receiver.bodies) <= receiver.failures
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"code":1,"msg":"busy"}' if failing else receiver.reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bjy/callback"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _recording(
    emulator: Emulator, account: dict[str, Any], url: str, long_term: bool = False
) -> tuple[int, int]:
    emulator.set_callback_url(account["partner_id"], url)
    room = emulator.create_room(account["partner_id"], long_term=long_term)["room_id"]
    session = emulator.create_recording(room)["session_id"]
    return room, session


def test_each_transition_is_delivered_signed(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], receiver: Receiver
) -> None:
    room, session = _recording(bjy_emulator, bjy_account, receiver.url, long_term=True)
    bjy_emulator.finish_recording(room, session)
    assert bjy_emulator.wait_idle(10)
    assert receiver.content_types == ["application/x-www-form-urlencoded"] * 2
    callbacks = [
        parse_transcode_callback(body, bjy_account["partner_key"]) for body in receiver.bodies
    ]
    assert [c.status for c in callbacks] == [20, 100]
    assert all(c.room_id == room and c.session_id == session for c in callbacks)
    assert callbacks[1].length == 3600 and callbacks[1].preface_url and callbacks[1].now_definition
    assert callbacks[0].length is None  # success-only fields are absent on status 20
    assert len({c.qid for c in callbacks}) == 2
    deliveries = bjy_emulator.deliveries()
    assert [(d["state"], len(d["attempts"])) for d in deliveries] == [
        ("delivered", 1),
        ("delivered", 1),
    ]
    assert deliveries[0]["attempts"][0]["http_status"] == 200


def test_failed_transcode_sends_status_30(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], receiver: Receiver
) -> None:
    room, session = _recording(bjy_emulator, bjy_account, receiver.url)
    bjy_emulator.finish_recording(room, session, fail=True)
    assert bjy_emulator.wait_idle(10)
    statuses = [
        parse_transcode_callback(b, bjy_account["partner_key"]).status for b in receiver.bodies
    ]
    assert statuses == [20, 30]
    assert "session_id" not in receiver.bodies[0].decode()  # short-term rooms carry no session


def test_failing_receiver_is_retried_with_every_attempt_recorded(
    bjy_emulator: Emulator, bjy_account: dict[str, Any]
) -> None:
    flaky = Receiver(failures=2)
    try:
        room, session = _recording(bjy_emulator, bjy_account, flaky.url)
        for _ in range(3):
            bjy_emulator.advance(room, session)
        assert bjy_emulator.wait_idle(10)
    finally:
        flaky.close()
    deliveries = bjy_emulator.deliveries()
    assert [d["state"] for d in deliveries] == ["delivered", "delivered"]
    for delivery in deliveries:
        assert [(a["attempt"], a["http_status"], a["ok"]) for a in delivery["attempts"]] == [
            (1, 500, False),
            (2, 200, True),
        ]
        # a retry re-sends the same notification: same qid, same bytes
        sent = [b for b in flaky.bodies if f"qid={delivery['qid']}".encode() in b]
        assert len(sent) == 2 and sent[0] == sent[1]
    assert len(flaky.bodies) == 4


def _one_delivery(emulator: Emulator, account: dict[str, Any], url: str) -> dict[str, Any]:
    """Take a recording to status 20 (one callback), wait for its attempts to end, return it."""
    room, session = _recording(emulator, account, url)
    emulator.advance(room, session)
    emulator.advance(room, session)
    assert emulator.wait_idle(20)
    (delivery,) = emulator.deliveries()
    return delivery


def test_gives_up_after_five_retries(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> None:
    dead = Receiver(failures=100)
    try:
        delivery = _one_delivery(bjy_emulator, bjy_account, dead.url)
    finally:
        dead.close()
    assert delivery["state"] == "failed"
    assert [a["attempt"] for a in delivery["attempts"]] == [1, 2, 3, 4, 5, 6]
    gaps = [
        b["at"] - a["at"]
        for a, b in zip(delivery["attempts"], delivery["attempts"][1:], strict=False)
    ]
    assert gaps == sorted(gaps)  # backoff grows
    assert gaps == [1.0, 2.0, 4.0, 8.0, 16.0]  # doubling from the configured 1 s


def test_reply_code_must_be_zero(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> None:
    grumpy = Receiver(reply=b'{"code":1,"msg":"no"}')
    try:
        delivery = _one_delivery(bjy_emulator, bjy_account, grumpy.url)
    finally:
        grumpy.close()
    assert delivery["state"] == "failed"
    assert delivery["attempts"][0]["error"] == "reply code is not 0"


def test_unreachable_receiver_is_recorded(
    bjy_emulator: Emulator, bjy_account: dict[str, Any]
) -> None:
    delivery = _one_delivery(bjy_emulator, bjy_account, "http://127.0.0.1:9/closed")
    assert "ConnectError" in delivery["attempts"][0]["error"]
    assert delivery["attempts"][0]["http_status"] is None


def test_no_url_no_delivery(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> None:
    room = bjy_emulator.create_room(bjy_account["partner_id"])["room_id"]
    bjy_emulator.create_recording(room)
    bjy_emulator.finish_recording(room)
    assert bjy_emulator.deliveries() == []
