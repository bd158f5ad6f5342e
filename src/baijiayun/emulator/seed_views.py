"""Synthetic viewing records for the seeds: N plays over the 30 days before today, bulk loaded."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Table, select

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


def _viewers(rng: random.Random) -> list[tuple[str, str, str]]:
    """(user_number, user_name, uuid) of each viewer."""
    viewers = []
    for k in range(_VIEWERS):
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))
        viewers.append((str(20260000 + k), name, f"{rng.getrandbits(64):016x}"))
    return viewers


def _records(
    rng: random.Random,
    n: int,
    first_day: int,
    playbacks: list[tuple[Any, ...]],
    product_types: dict[int, int],
) -> Iterator[list[dict[str, Any]]]:
    viewers = _viewers(rng)
    chunk: list[dict[str, Any]] = []
    for _ in range(n):
        partner_id, room_id, session_id, version, video_id, length = rng.choice(playbacks)
        day = first_day + rng.randrange(DAYS) * 86400
        hour = rng.choice((8, 9, 10, 12, 13, 14, 15, 19, 20, 20, 21, 21, 22, 23))
        begin = day + hour * 3600 + rng.randrange(3600)
        watched = int(max(length, 60) * rng.betavariate(1.2, 1.6))
        paused = rng.choice((0, 0, 0, rng.randrange(30, 900)))
        if rng.random() < _ANONYMOUS_SHARE:
            number, name, uuid = "", "", f"{rng.getrandbits(64):016x}"
        else:
            number, name, uuid = rng.choice(viewers)
        end = begin + watched + paused
        chunk.append(
            {
                "guid": f"{rng.getrandbits(128):032x}",
                "partner_id": partner_id,
                "room_id": room_id,
                "session_id": session_id,
                "version": version,
                "video_id": video_id,
                "product_type": product_types.get(room_id, 1),
                "uuid": uuid,
                "user_number": number,
                "user_name": name,
                "play_begin_time": begin,
                "play_end_time": end,
                "play_length": watched,
                "duration_ms": watched * 1000,
                "position_ms": 0,
                "client_type": rng.choice(_CLIENT_TYPES),
                "user_ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "area": rng.choice(_AREAS),
                "last_beacon": float(end),
                "ended": True,
            }
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

    def batches() -> Iterator[tuple[Table, list[dict[str, Any]]]]:
        for chunk in _records(rng, n, first_day, playbacks, product_types):
            yield t.play_records, chunk

    db.bulk_load(batches())
    return n
