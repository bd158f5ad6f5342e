"""Shared set-up of the mirror tests: a mirror database per test, a small catalog, state compare."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text

from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator
from baijiayun.mirror import list_playbacks, make_engine

Key = tuple[int, int, int]

COMPARED = ("name", "status", "publish_status", "length", "video_id")


def postgres_schema_url(server_url: str, schema: str) -> str:
    """Create ``schema`` on the server; a URL whose search_path is that schema."""
    engine = create_engine(server_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    engine.dispose()
    joiner = "&" if "?" in server_url else "?"
    return f"{server_url}{joiner}options=-csearch_path%3D{schema}"


def drop_schema(server_url: str, schema: str) -> None:
    """Drop a test schema and everything in it."""
    engine = create_engine(server_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


def populate(
    emulator: Emulator, partner_id: int, rooms: int, *, start: int = 1_700_000_000
) -> list[dict[str, Any]]:
    """``rooms`` short-term rooms with one generated playback each, one second apart."""
    made = []
    for n in range(rooms):
        room = emulator.create_room(partner_id, title=f"课程 {n}")
        made.append(
            emulator.create_recording(
                room["room_id"], status=100, create_time=start + n, name=f"第{n}讲"
            )
        )
    return made


def service_state(client: BaiJiaYunClient) -> dict[Key, dict[str, Any]]:
    """Every playback version the service lists now, by key."""
    return {
        (i.room_id, i.session_id, i.version): i.model_dump()
        for i in client.playback.iter_list(page_size=1000, crop_video=1)
    }


def mirror_state(database_url: str, **filters: Any) -> dict[Key, dict[str, Any]]:
    """Every live playback in the mirror, by key (fails on duplicate keys)."""
    engine = make_engine(database_url)
    try:
        rows = list_playbacks(engine, **filters)
    finally:
        engine.dispose()
    state = {(r["room_id"], r["session_id"], r["version"]): r for r in rows}
    assert len(state) == len(rows), "duplicate keys in the mirror"
    return state


def assert_converged(client: BaiJiaYunClient, database_url: str) -> None:
    """The mirror holds exactly the service's playbacks, with the same fields."""
    service = service_state(client)
    mirrored = mirror_state(database_url)
    assert set(mirrored) == set(service)
    for key, item in service.items():
        assert {f: mirrored[key][f] for f in COMPARED} == {f: item[f] for f in COMPARED}, key
