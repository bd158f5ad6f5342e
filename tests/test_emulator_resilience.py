"""The emulator answers the envelope when its database drops connections or keeps failing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from baijiayun.emulator import Emulator
from baijiayun.emulator.db import ATTEMPTS

from .emulator_helpers import Raw


@pytest.fixture
def named_postgres(postgres_url: str) -> Iterator[tuple[Emulator, str]]:
    """An emulator on PostgreSQL whose connections carry an application_name of their own."""
    name = f"bjy_drop_{uuid.uuid4().hex[:12]}"
    emulator = Emulator(f"{postgres_url}&application_name={name}")
    emulator.reset()
    try:
        yield emulator, name
    finally:
        emulator.close()


def _terminate(postgres_url: str, name: str) -> int:
    """Kill every server backend of the emulator's connections (from another connection)."""
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        ).fetchall()
    return len(rows)


def test_dropped_postgres_connections_are_replaced_not_answered_500(
    named_postgres: tuple[Emulator, str], postgres_url: str
) -> None:
    emulator, name = named_postgres
    account = emulator.create_account()
    room_id = emulator.create_room(account["partner_id"])["room_id"]
    emulator.create_recording(room_id, status=100)
    raw = Raw(emulator, account)
    try:
        # open the hot-read and write connections, then kill them all behind the emulator's back
        assert raw.post("getBasicInfo", {"room_id": room_id})["code"] == 0
        assert raw.post("getPlayerToken", {"room_id": room_id, "expires_in": 0})["code"] == 0
        assert _terminate(postgres_url, name) >= 2

        info = raw.post("getBasicInfo", {"room_id": room_id})
        assert (info["code"], info["data"]["status"]) == (0, 100)
        token = raw.post("getPlayerToken", {"room_id": room_id, "expires_in": 0})
        assert token["code"] == 0 and token["data"]["token"]
    finally:
        raw.http.close()


def test_a_write_failing_every_attempt_answers_an_envelope_and_the_next_call_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = Emulator("sqlite://")
    attempts = 0

    class Deadlock(Exception):
        sqlstate = "40P01"

    def fail_token_inserts(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal attempts
        if statement.startswith("INSERT INTO bjy_player_tokens"):
            attempts += 1
            raise OperationalError(statement, None, Deadlock("deadlock detected"))

    account = emulator.create_account()
    room_id = emulator.create_room(account["partner_id"])["room_id"]
    emulator.create_recording(room_id, status=100)
    raw = Raw(emulator, account)
    event.listen(emulator.db.engine, "before_cursor_execute", fail_token_inserts)
    try:
        with caplog.at_level(logging.ERROR, logger="baijiayun.emulator"):
            answer = raw.http.post(
                "/openapi/playback/getPlayerToken",
                data=raw.form({"room_id": room_id, "expires_in": 0}),
            )
        failed = answer.json()  # docs/protocol.md#decisions: HTTP 500 with the envelope, code 1
        assert (answer.status_code, failed["code"], failed["data"]) == (500, 1, None)
        assert attempts == ATTEMPTS
        assert "getPlayerToken" in caplog.text
        # the same keep-alive client goes on: the connection was not reset
        assert raw.post("getBasicInfo", {"room_id": room_id})["code"] == 0
        event.remove(emulator.db.engine, "before_cursor_execute", fail_token_inserts)
        assert raw.post("getPlayerToken", {"room_id": room_id, "expires_in": 0})["code"] == 0
    finally:
        raw.http.close()
        emulator.close()
