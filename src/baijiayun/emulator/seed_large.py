"""The deterministic large catalog: one account with N playbacks (default 100,000), bulk loaded."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table

from . import schema as t
from .backends.playback import (
    FAILED,
    READY,
    RECORDING,
    TRANSCODING,
    beijing_date,
    media,
    session_id_for,
)
from .db import Database
from .seed import HasDatabase

__all__ = ["LARGE_ACCOUNT", "LARGE_SIZE", "seed_large"]

LARGE_ACCOUNT: dict[str, Any] = {
    "partner_id": 10000100,
    "partner_key": "large-partner-key-ONE+/0123456789abcdefghijklmnopqrstuvwxyzABCDEF==",
    "secret_key": "large-secret-one",
    "private_domain": "e10000100",
}
"""Fixed credentials of the large catalog's account (printed by ``--seed large``)."""

LARGE_SIZE = 100_000
"""Playbacks (original recordings) of ``--seed large`` unless ``--seed-size`` says otherwise."""

_START = 1704038400  # 2024-01-01 00:00 China time
_END = 1767196800  # 2026-01-01 00:00 China time: every date is fixed, the data set never changes
_FIRST_ROOM_ID = 24010100000000
_FIRST_VIDEO_ID = 2_000_000
_CHUNK = 5_000
"""Playbacks generated and inserted at a time: memory stays flat whatever the size."""

_SUBJECTS = (
    "高等数学",
    "大学英语",
    "Python 编程",
    "物理实验",
    "线性代数",
    "数据结构",
    "经济学原理",
    "写作课",
    "有机化学",
    "概率论",
    "中国近代史",
    "机器学习",
    "会计基础",
    "日语入门",
    "钢琴启蒙",
    "考研政治",
)
_TEACHERS = ("王老师", "李老师", "张老师", "刘老师", "陈老师", "杨老师", "赵老师", "黄老师")
_TERMS = ("春季班", "暑期班", "秋季班", "寒假班")
_SHORT_SHARE = 0.965
"""Share of rooms that are short-term (one playback): about 30% of the playbacks."""
_FRESH_SHARE = 0.005
"""The newest playbacks that may still be recording or transcoding; older ones are final."""


def _rooms(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Rooms and their session plan (``sessions``: count, ``every``: days apart), in time order."""
    rooms: list[dict[str, Any]] = []
    planned = 0
    while planned < n:
        subject = rng.choice(_SUBJECTS)
        if rng.random() < _SHORT_SHARE:
            sessions, every = 1, 0
            created = rng.randrange(_START, _END - 86400)
            title = f"{subject} 第{rng.randrange(1, 40)}讲 · {rng.choice(_TEACHERS)}"
            long_term = False
        else:
            sessions, every = min(rng.randrange(10, 121), n - planned), rng.randrange(1, 4)
            latest = _END - (sessions * every + 3) * 86400
            created = rng.randrange(_START, max(_START + 1, latest))
            year = beijing_date(created)[:4]
            title = f"{subject} {year}{rng.choice(_TERMS)} · {rng.choice(_TEACHERS)}"
            long_term = True
        planned += sessions
        rooms.append(
            {
                "partner_id": LARGE_ACCOUNT["partner_id"],
                "title": title,
                "product_type": rng.choice((1, 1, 1, 2, 3, 4)),
                "is_long_term": long_term,
                "deleted": False,
                "created_at": created,
                "sessions": sessions,
                "every": every,
                "subject": subject,
            }
        )
    rooms.sort(key=lambda r: r["created_at"])
    for offset, room in enumerate(rooms, start=1):
        room["room_id"] = _FIRST_ROOM_ID + offset
    return rooms


def _plan(rng: random.Random, rooms: list[dict[str, Any]]) -> list[tuple[int, int, int, int]]:
    """(create_time, room index, session_id, ordinal) of every playback, oldest first."""
    plan: list[tuple[int, int, int, int]] = []
    for index, room in enumerate(rooms):
        if not room["is_long_term"]:
            plan.append((room["created_at"] + rng.randrange(3600, 4 * 3600), index, 0, 1))
            continue
        when = room["created_at"] + 19 * 3600  # evening classes
        for ordinal in range(1, room["sessions"] + 1):
            plan.append((when, index, session_id_for(when, 1), ordinal))
            # a day or more apart: each session falls on a later China-time day than the last
            when += room["every"] * 86400 + rng.randrange(0, 1201)
    plan.sort()
    return plan


def _status(rng: random.Random, fresh: bool) -> int:
    roll = rng.random()
    if fresh and roll < 0.5:
        return RECORDING if roll < 0.15 else TRANSCODING
    return FAILED if roll > 0.97 else READY


def _playbacks(
    rng: random.Random, rooms: list[dict[str, Any]], plan: list[tuple[int, int, int, int]]
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """Chunks of playback rows (originals and their crop versions) and the last video id used."""
    video_id = _FIRST_VIDEO_ID
    fresh_from = len(plan) - max(1, int(len(plan) * _FRESH_SHARE))
    chunk: list[dict[str, Any]] = []
    for position, (created, index, session_id, ordinal) in enumerate(plan):
        room = rooms[index]
        video_id += 1
        status = _status(rng, position >= fresh_from)
        length = rng.randrange(1200, 9000, 60) if status == READY else 0
        fields = (
            media(video_id, length)
            if status == READY
            else {"total_size": 0, "total_transcode_size": 0, "preface_url": "", "file_md5": ""}
        )
        name = f"{room['subject']} 第{ordinal}次课" if room["is_long_term"] else room["title"]
        base = {
            "partner_id": room["partner_id"],
            "room_id": room["room_id"],
            "session_id": session_id,
            "video_id": video_id,
            "name": name,
            "status": status,
            "length": length,
            **fields,
            "total_ext_media_size": 0,
            "publish_status": 2 if rng.random() < 0.05 else 1,
            "play_times": rng.randrange(0, 2000) if status == READY else 0,
            "create_time": created,
            "deleted": False,
        }
        crops = rng.randrange(1, 3) if status == READY and rng.random() < 0.08 else 0
        main = rng.randrange(0, crops + 1) if crops else 0
        chunk.append({**base, "version": 0, "is_main": main == 0})
        for version in range(1, crops + 1):
            video_id += 1
            crop_length = max(60, length // (version + 1))
            chunk.append(
                {
                    **base,
                    **media(video_id, crop_length),
                    "version": version,
                    "video_id": video_id,
                    "name": f"{name} (裁剪{version})",
                    "length": crop_length,
                    "is_main": main == version,
                    "play_times": rng.randrange(0, 200),
                    "create_time": created + 86400 * version,
                }
            )
        if len(chunk) >= _CHUNK:
            yield chunk, video_id
            chunk = []
    yield chunk, video_id


def seed_large(target: Database | HasDatabase, n: int = LARGE_SIZE) -> dict[str, int]:
    """Load a catalog of ``n`` playbacks of one account into an emulator; return the counts.

    Short-term rooms hold one playback, long-term rooms 10-120 sessions; about 8% of the generated
    playbacks have crop versions; about 3% failed, 5% are blocked, and only the newest 0.5% may
    still be recording or transcoding. Dates run from 2024 to 2025 (China time). Ids, sessions and
    media follow the playback backend's rules; rows are generated and inserted in chunks, all in
    one transaction. The same ``n`` always gives the same data. The emulator must not hold the
    large account yet; other accounts (the demo data set, say) may be there: their ids do not
    collide, and ids handed out later follow the highest ones.

    :param n: 回放数量 (number of playbacks, i.e. original recordings; crops come on top)
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    db = target if isinstance(target, Database) else target.db
    rng = random.Random(20261125 + n)
    rooms = _rooms(rng, n)
    plan = _plan(rng, rooms)
    counts = {"accounts": 1, "rooms": len(rooms), "playbacks": len(plan), "versions": 0}

    def batches() -> Iterator[tuple[Table, list[dict[str, Any]]]]:
        account = {**LARGE_ACCOUNT, "transcode_callback_url": "", "created_at": _START}
        yield t.accounts, [account]
        room_columns = set(t.rooms.c.keys())
        for start in range(0, len(rooms), _CHUNK):
            chunk = rooms[start : start + _CHUNK]
            yield t.rooms, [{k: v for k, v in r.items() if k in room_columns} for r in chunk]
        for rows, last_video in _playbacks(rng, rooms, plan):
            counts["versions"] += len(rows)
            counters["video"] = last_video
            yield t.playbacks, rows

    # bulk_load reads the counters after the last batch: by then they hold the last ids used.
    counters = {"room": rooms[-1]["room_id"], "video": _FIRST_VIDEO_ID}
    db.bulk_load(batches(), counters)
    return counts
