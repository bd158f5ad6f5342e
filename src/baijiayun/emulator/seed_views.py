"""Synthetic viewing records for the seeds: N plays over the 30 days before today, bulk loaded."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select

from .. import _endpoints as ep
from . import schema as t
from .backends.playback import READY
from .db import Database

__all__ = ["DAYS", "DEMO_VIEWS", "seed_views"]

DEMO_VIEWS = 400
"""Play records of ``--seed demo``."""
DAYS = 30
"""Records fall on the 30 Beijing days before today: never in the future, the same all day."""
_CHUNK = 5_000
_VIEWERS = 600
"""Distinct viewers per account; some plays are anonymous (no user_number)."""
_ANONYMOUS_SHARE = 0.08
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超")
_AREAS = ("北京 北京", "上海 上海", "广东 深圳", "浙江 杭州", "四川 成都", "湖北 武汉", "")
_CLIENT_TYPES = (5, 5, 5, 4, 1, 3, 3, 2)


def _playbacks(db: Database, partner_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """(partner_id, room_id, session_id, version, video_id, length) of each generated main
    version of these accounts, in a fixed order."""
    p = t.playbacks.c
    query = (
        select(p.partner_id, p.room_id, p.session_id, p.version, p.video_id, p.length)
        .where(
            p.partner_id.in_(list(partner_ids)),
            p.is_main.is_(True),
            p.deleted.is_(False),
            p.status == READY,
        )
        .order_by(p.room_id, p.session_id)
    )
    with db.read() as conn:
        return [tuple(row) for row in conn.execute(query).all()]


def _product_types(db: Database, partner_ids: Sequence[int]) -> dict[int, int]:
    r = t.rooms.c
    with db.read() as conn:
        rows = conn.execute(
            select(r.room_id, r.product_type).where(r.partner_id.in_(list(partner_ids)))
        ).all()
    return {int(room): int(kind) for room, kind in rows}


Viewer = tuple[str, str, str, str, str, int]
"""(user_number, user_name, uuid, user_ip, area, client_type): one person on one device."""


def _viewers(rng: random.Random) -> tuple[list[Viewer], list[Viewer]]:
    """The named viewers of the seed, and anonymous devices (no number, no name)."""

    def device() -> tuple[str, str, str, int]:
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        return f"{rng.getrandbits(64):016x}", ip, rng.choice(_AREAS), rng.choice(_CLIENT_TYPES)

    named = []
    for k in range(_VIEWERS):
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))
        named.append((str(20260000 + k), name, *device()))
    anonymous = [("", "", *device()) for _ in range(_VIEWERS // 4)]
    return named, anonymous


_HOURS = (8, 9, 10, 12, 13, 14, 15, 19, 20, 20, 21, 21, 22, 23)
_PAUSES = (0, 0, 0, 45, 120, 600)


def _records(
    rng: random.Random,
    n: int,
    first_day: int,
    playbacks: list[tuple[Any, ...]],
    product_types: dict[int, int],
) -> Iterator[list[tuple[Any, ...]]]:
    """Chunks of rows in the column order of ``schema.play_records`` (:data:`COLUMNS`)."""
    named, anonymous = _viewers(rng)
    chunk: list[tuple[Any, ...]] = []
    draw = rng.random  # one uniform draw per choice: plain indexing costs a fraction of choice()
    for _ in range(n):
        playback = playbacks[int(draw() * len(playbacks))]
        partner_id, room_id, session_id, version, video_id, length = playback
        begin = first_day + int(draw() * DAYS) * 86400 + int(draw() * 3600)
        begin += _HOURS[int(draw() * len(_HOURS))] * 3600
        # completion: many leave early, few watch to the end
        watched = int(max(length, 60) * min(draw(), draw()))
        pool = anonymous if draw() < _ANONYMOUS_SHARE else named
        number, name, uuid, ip, area, client_type = pool[int(draw() * len(pool))]
        end = begin + watched + _PAUSES[int(draw() * len(_PAUSES))]
        chunk.append(
            (
                f"{rng.getrandbits(128):032x}",  # guid
                partner_id,
                room_id,
                session_id,
                version,
                video_id,
                product_types.get(room_id, 1),
                uuid,
                number,
                name,
                begin,
                end,
                watched,  # play_length
                watched * 1000,  # duration_ms
                0,  # position_ms
                client_type,
                ip,
                area,
                float(end),  # last_beacon
                True,  # ended
            )
        )
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    yield chunk


def seed_views(db: Database, n: int, now: float, partner_ids: Sequence[int]) -> int:
    """Add ``n`` finished plays of the generated playbacks of these accounts, spread over the
    ``DAYS`` Beijing days before the day of ``now``; return how many were added.

    The same ``n`` on the same day gives the same records (guids included), so a re-seed on
    another day moves them along with the calendar. Rows go in by bulk insert, in chunks.
    """
    if n < 0:
        raise ValueError("n must be 0 or more")
    playbacks = _playbacks(db, partner_ids)
    if not n or not playbacks:
        return 0
    today = dt.datetime.fromtimestamp(now, ep.BEIJING).date()
    midnight = dt.datetime.combine(today, dt.time(), ep.BEIJING)
    first_day = int(midnight.timestamp()) - DAYS * 86400
    rng = random.Random(f"views-{n}-{today.isoformat()}-{','.join(map(str, partner_ids))}")
    product_types = _product_types(db, partner_ids)

    _load(db, _records(rng, n, first_day, playbacks, product_types))
    return n


COLUMNS = tuple(c.name for c in t.play_records.columns)
if COLUMNS != (
    "guid", "partner_id", "room_id", "session_id", "version", "video_id", "product_type",
    "uuid", "user_number", "user_name", "play_begin_time", "play_end_time", "play_length",
    "duration_ms", "position_ms", "client_type", "user_ip", "area", "last_beacon", "ended",
):  # fmt: skip
    raise RuntimeError("seed_views builds rows in another column order than schema.play_records")


def _load(db: Database, chunks: Iterable[list[tuple[Any, ...]]]) -> None:
    """Insert the rows in one transaction straight through the driver: COPY on PostgreSQL,
    one prepared INSERT run over each chunk on SQLite (SQLAlchemy's per-row parameter work
    would cost several times the insert itself)."""
    table, names = t.play_records.name, ", ".join(COLUMNS)
    with db.tx() as conn:
        driver: Any = conn.connection.dbapi_connection
        cursor = driver.cursor()
        try:
            if db.postgres:
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for chunk in chunks:
                        for row in chunk:
                            copy.write_row(row)
            else:
                # a page cache that holds the three indexes (random guids thrash the default)
                cursor.execute("PRAGMA cache_size=-262144")
                marks = ", ".join("?" for _ in COLUMNS)
                for chunk in chunks:
                    cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", chunk)
        finally:
            cursor.close()
