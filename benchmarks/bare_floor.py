"""The floor the emulator is measured against: raw ASGI, no framework, the least a signed call needs.

``POST /openapi/playback/getBasicInfo``: read the body, parse the form, read one row by key (the
account's ``partner_key``), check the md5 sign with it, write the envelope. Nothing else (no
routing table, no request objects, no timestamp window, no rate limit, no statistics). SQLite
runs on the event loop; PostgreSQL through a queue of 8 async psycopg connections.
Run: BJY_FLOOR_DATABASE=sqlite:///x.sqlite3 uvicorn benchmarks.bare_floor:app (the benchmark does).
Admin: ``POST /_floor/account`` with ``partner_id`` and ``partner_key`` creates the one row.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sqlite3
from typing import Any
from urllib.parse import parse_qsl

import psycopg

DATABASE = os.environ.get("BJY_FLOOR_DATABASE", "sqlite://")
POOL_SIZE = 8
TABLE = os.environ.get("BJY_FLOOR_TABLE", "bjy_floor_accounts")
_JSON = json.JSONEncoder(ensure_ascii=False)


def _sign_ok(params: dict[str, str], key: str) -> bool:
    text = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign")
    expected = hashlib.md5(f"{text}&partner_key={key}".encode()).hexdigest()
    return hmac.compare_digest(expected, params.get("sign", ""))


def _envelope(code: int, data: Any) -> bytes:
    return _JSON.encode({"code": code, "msg": "", "data": data, "ts": 0}).encode()


class SqliteRows:
    """One SQLite connection used on the event loop."""

    def __init__(self, url: str) -> None:
        path = url.removeprefix("sqlite:///") if url != "sqlite://" else ":memory:"
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (partner_id INTEGER PRIMARY KEY, partner_key TEXT)"
        )

    async def get(self, partner_id: int) -> tuple[Any, ...] | None:
        row = self.conn.execute(
            f"SELECT partner_id, partner_key FROM {TABLE} WHERE partner_id = ?", (partner_id,)
        ).fetchone()
        return None if row is None else tuple(row)

    async def put(self, partner_id: int, key: str) -> None:
        self.conn.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?)", (partner_id, key))


class PostgresRows:
    """A queue of ``POOL_SIZE`` async psycopg connections, opened on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.idle: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None

    async def _pool(self) -> asyncio.Queue[psycopg.AsyncConnection[Any]]:
        if self.idle is None:
            idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
            for _ in range(POOL_SIZE):
                idle.put_nowait(await psycopg.AsyncConnection.connect(self.url, autocommit=True))
            self.idle = idle
            conn = idle.get_nowait()
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (partner_id BIGINT PRIMARY KEY, partner_key TEXT)"
            )
            idle.put_nowait(conn)
        return self.idle

    async def get(self, partner_id: int) -> tuple[Any, ...] | None:
        idle = await self._pool()
        conn = await idle.get()
        try:
            cursor = await conn.execute(
                f"SELECT partner_id, partner_key FROM {TABLE} WHERE partner_id = %s", (partner_id,)
            )
            return await cursor.fetchone()
        finally:
            idle.put_nowait(conn)

    async def put(self, partner_id: int, key: str) -> None:
        idle = await self._pool()
        conn = await idle.get()
        try:
            await conn.execute(
                f"INSERT INTO {TABLE} VALUES (%s, %s) ON CONFLICT (partner_id) "
                "DO UPDATE SET partner_key = EXCLUDED.partner_key",
                (partner_id, key),
            )
        finally:
            idle.put_nowait(conn)


ROWS: SqliteRows | PostgresRows = (
    PostgresRows(DATABASE) if DATABASE.startswith("postgresql") else SqliteRows(DATABASE)
)


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _reply(send: Any, body: bytes, status: int = 200) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def get_basic_info(params: dict[str, str]) -> bytes:
    """Check the sign against the account's key, answer with the row."""
    try:
        partner_id = int(params["partner_id"])
    except (KeyError, ValueError):
        return _envelope(1001, None)
    row = await ROWS.get(partner_id)
    if row is None:
        return _envelope(2001, None)
    if not _sign_ok(params, row[1]):
        return _envelope(1002, None)
    return _envelope(0, {"partner_id": row[0], "status": 100})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app: the one call, the admin call, 404 for anything else."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"], scope["method"]
    if method != "POST":
        await _reply(send, _envelope(405, None), 405)
        return
    params = dict(parse_qsl((await _body(receive)).decode(), keep_blank_values=True))
    if path == "/openapi/playback/getBasicInfo":
        await _reply(send, await get_basic_info(params))
    elif path == "/_floor/account":
        await ROWS.put(int(params["partner_id"]), params["partner_key"])
        await _reply(send, _envelope(0, None))
    else:
        await _reply(send, _envelope(404, None), 404)
