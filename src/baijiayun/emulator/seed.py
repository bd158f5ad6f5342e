"""The deterministic demo data set: 2 accounts, 50 rooms, 1,000 playbacks with every kind of state."""

from __future__ import annotations

import random
from typing import Any, Protocol

from . import schema as t
from .backends.playback import READY, beijing_date, media, session_id_for
from .db import Database


class HasDatabase(Protocol):
    """An Emulator (or its ``state`` view): anything holding the emulator's database."""

    @property
    def db(self) -> Database: ...


__all__ = ["DEMO_ACCOUNTS", "seed_demo"]

DEMO_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {
        "partner_id": 10000001,
        "partner_key": "demo-partner-key-ONE+/0123456789abcdefghijklmnopqrstuvwxyzABCD==",
        "secret_key": "demo-secret-one",
        "private_domain": "e10000001",
    },
    {
        "partner_id": 10000002,
        "partner_key": "demo-partner-key-TWO+/0123456789abcdefghijklmnopqrstuvwxyzABCD==",
        "secret_key": "demo-secret-two",
        "private_domain": "e10000002",
    },
)
"""Fixed demo credentials (printed by ``baijiayun emulator serve --seed demo``)."""

_EPOCH = 1767225600  # 2026-01-01 00:00 UTC: demo times are fixed so the data set never changes
_SUBJECTS = (
    "高等数学",
    "大学英语",
    "Python 编程",
    "物理实验",
    "线性代数",
    "数据结构",
    "经济学原理",
    "写作课",
)
SHORT_ROOMS_PER_ACCOUNT = 20
LONG_ROOMS_PER_ACCOUNT = 5
SESSIONS_PER_LONG_ROOM = 96  # 2 x (20 + 5 x 96) = 1,000 playbacks


def _status(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.04:
        return 30
    if roll < 0.06:
        return 20
    if roll < 0.07:
        return 10
    return 100


def seed_demo(target: Database | HasDatabase) -> dict[str, int]:
    """Load the demo data set into an empty emulator (or its database); return what it created.

    Ids, sessions and media follow the playback backend's rules; rows go in by bulk insert.
    """
    db = target if isinstance(target, Database) else target.db
    rng = random.Random(20261125)
    rooms: list[dict[str, Any]] = []
    playbacks: list[dict[str, Any]] = []
    ppts: list[dict[str, Any]] = []
    video_id = 160000
    room_id = 26010100000000

    def playback(room: dict[str, Any], session_id: int, created: int, name: str) -> None:
        nonlocal video_id
        video_id += 1
        status = _status(rng)
        length = rng.randrange(1800, 7200, 60) if status == READY else 0
        fields = (
            media(video_id, length)
            if status == READY
            else {"total_size": 0, "total_transcode_size": 0, "preface_url": "", "file_md5": ""}
        )
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
            "publish_status": 2 if rng.random() < 0.08 else 1,
            "play_times": rng.randrange(0, 500) if status == 100 else 0,
            "create_time": created,
            "deleted": False,
        }
        crops = rng.randrange(1, 3) if status == 100 and rng.random() < 0.1 else 0
        main = rng.randrange(0, crops + 1) if crops else 0
        playbacks.append({**base, "version": 0, "is_main": main == 0})
        for version in range(1, crops + 1):
            video_id += 1
            crop_length = length // (version + 1)
            playbacks.append(
                {
                    **base,
                    "version": version,
                    "video_id": video_id,
                    "name": f"{name} (裁剪{version})",
                    "length": crop_length,
                    "total_size": crop_length * 80_000,
                    "total_transcode_size": crop_length * 240_000,
                    "is_main": main == version,
                    "play_times": rng.randrange(0, 50),
                    "create_time": created + 3600 * version,
                }
            )
        if status == 100 and rng.random() < 0.3:
            day = beijing_date(created)
            for part in range(1, rng.randrange(2, 4)):
                ppts.append(
                    {
                        "room_id": room["room_id"],
                        "session_id": session_id,
                        "date": day,
                        "name": f"{name} 课件{part}.pdf",
                        "url": f"https://doc.emulator.baijiayun.local/ppt/{room['room_id']}/{video_id}-{part}.pdf",
                    }
                )

    for account in DEMO_ACCOUNTS:
        for index in range(SHORT_ROOMS_PER_ACCOUNT + LONG_ROOMS_PER_ACCOUNT):
            room_id += 1
            long_term = index >= SHORT_ROOMS_PER_ACCOUNT
            subject = _SUBJECTS[index % len(_SUBJECTS)]
            created = _EPOCH + index * 86400 + rng.randrange(0, 3600)
            room = {
                "room_id": room_id,
                "partner_id": account["partner_id"],
                "title": f"{subject}{' 长期班' if long_term else f' 第{index + 1}讲'}",
                "product_type": rng.choice((1, 1, 2, 3, 4)),
                "is_long_term": long_term,
                "deleted": False,
                "created_at": created,
            }
            rooms.append(room)
            if not long_term:
                playback(room, 0, created + 7200, room["title"])
                continue
            for ordinal in range(SESSIONS_PER_LONG_ROOM):
                when = created + ordinal * 86400 + 7200
                playback(room, session_id_for(when, 1), when, f"{subject} 第{ordinal + 1}次课")

    db.bulk_insert(
        {
            t.accounts: [
                {**a, "transcode_callback_url": "", "created_at": _EPOCH} for a in DEMO_ACCOUNTS
            ],
            t.rooms: rooms,
            t.playbacks: playbacks,
            t.ppt_files: ppts,
            t.counters: [
                {"name": "video", "value": video_id},
                {"name": "room", "value": room_id},
                {"name": "ppt", "value": len(ppts)},
            ],
        }
    )
    originals = sum(1 for p in playbacks if p["version"] == 0)
    return {
        "accounts": len(DEMO_ACCOUNTS),
        "rooms": len(rooms),
        "playbacks": originals,
        "versions": len(playbacks),
        "ppt_files": len(ppts),
    }
