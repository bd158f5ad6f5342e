"""The mirror's bulk writes on both databases: what a page upsert does to the table and the history."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from baijiayun.mirror import schema as s
from baijiayun.mirror import store

from .conftest import SERVER_URL
from .mirror_helpers import drop_schema, postgres_schema_url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'mirror.db'}"
        schema = None
    else:
        request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
        schema = f"bjy_store_{uuid.uuid4().hex[:10]}"
        url = postgres_schema_url(SERVER_URL, schema)
    made = s.make_engine(url)
    s.create_schema(made)
    try:
        yield made
    finally:
        made.dispose()
        if schema is not None:
            drop_schema(SERVER_URL, schema)


def _row(room_id: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f: None for f in s.LIST_FIELDS}
    row.update(room_id=room_id, session_id=0, version=0, name=f"课 {room_id}", status=100)
    row.update(create_time="2025-03-04 19:20:21", length=3600, publish_status=1, extra=None)
    return row | fields


def _table(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(s.playbacks)).all()
    return {r.room_id: dict(r._mapping) for r in rows}


def _history(engine: Engine) -> list[tuple[Any, ...]]:
    c = s.changes.c
    with engine.connect() as conn:
        found = conn.execute(
            select(c.room_id, c.kind, c.field, c.old, c.new, c.run_id, c.source).order_by(c.id)
        ).all()
    return [tuple(r) for r in found]


def test_a_page_is_inserted_then_updated_touched_and_logged(engine: Engine) -> None:
    first = [_row(1), _row(2, extra={"teacher": "王老师"}), _row(3)]
    with engine.begin() as conn:
        done = store.upsert(conn, first, partner_id=9, now=100.0, run_id=1)
    assert (done.inserted, done.updated) == (3, 0)
    held = _table(engine)
    assert held[2]["extra"] == {"teacher": "王老师"} and held[1]["extra"] is None
    assert {r["first_seen"] for r in held.values()} == {100.0} and held[3]["partner_id"] == 9

    second = [_row(1, name="新名字"), _row(2, extra={"teacher": "王老师"}), _row(3, play_times=7)]
    with engine.begin() as conn:
        done = store.upsert(conn, second, partner_id=9, now=200.0, run_id=2)
        assert store.mark_deleted(conn, [(2, 0, 0)], now=200.0, run_id=2) == 1
    assert (done.inserted, done.updated) == (0, 1)  # play_times changes quietly
    held = _table(engine)
    assert held[1]["name"] == "新名字" and held[3]["play_times"] == 7
    assert {r["seen_run"] for r in held.values()} == {2} and held[2]["deleted_at"] == 200.0
    assert {r["last_seen"] for r in held.values()} == {200.0}
    assert held[1]["first_seen"] == 100.0

    with engine.begin() as conn:  # the callback moves a row on in its lifecycle, never back
        assert store.apply_callback(
            conn, {"room_id": 4, "status": 20}, partner_id=9, now=300.0
        )  # unknown so far: inserted
        assert store.apply_callback(
            conn, {"room_id": 4, "status": 100, "length": 60}, partner_id=9, now=301.0
        )
        assert not store.apply_callback(conn, {"room_id": 4, "status": 20}, partner_id=9, now=302.0)
    assert _table(engine)[4]["status"] == 100 and _table(engine)[4]["length"] == 60
    assert _history(engine) == [
        (1, "insert", None, None, None, 1, "sync"),
        (2, "insert", None, None, None, 1, "sync"),
        (3, "insert", None, None, None, 1, "sync"),
        (1, "update", "name", "课 1", "新名字", 2, "sync"),
        (2, "delete", None, None, None, 2, "sync"),
        (4, "insert", None, None, None, None, "callback"),
        (4, "update", "status", "20", "100", None, "callback"),
        (4, "update", "length", None, "60", None, "callback"),
    ]


def test_a_row_another_writer_inserted_meanwhile_raises_integrity_error(engine: Engine) -> None:
    # The sweep retries a page on IntegrityError: a callback may insert a row of the page
    # between the page's lookup and its insert. Simulated by a stale lookup (nothing held).
    with engine.begin() as conn:
        store.upsert(conn, [_row(5)], partner_id=9, now=1.0, run_id=1)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        store._insert(
            conn,
            s.playbacks,
            ("room_id", "session_id", "version", "partner_id", "first_seen", "last_seen"),
            [(5, 0, 0, 9, 2.0, 2.0)],
        )
    assert _table(engine)[5]["first_seen"] == 1.0
