"""Answers from the mirror's database alone (no API call): status and filtered listings.

Times come back as aware datetimes in Beijing time (UTC+8), like the SDK's models.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import Engine, func, select

from ..models import BEIJING
from . import schema as s
from .store import FULL, parse_china_time

__all__ = ["beijing", "list_playbacks", "mirror_status"]


def beijing(epoch: float | None) -> dt.datetime | None:
    """A stored epoch time (``started_at``, ``deleted_at``, …) as Beijing time."""
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, BEIJING)


def _run(row: Any, now: float) -> dict[str, Any] | None:
    if row is None:
        return None
    run = dict(row._mapping)
    run["age_seconds"] = round(now - (run["ended_at"] or run["started_at"]), 1)
    for field in ("started_at", "ended_at"):
        run[field] = beijing(run[field])
    return run


def mirror_status(
    engine: Engine, partner_id: int | None = None, *, now: float | None = None
) -> dict[str, Any]:
    """Last run, last full sweep, their age, counts by status and publish status, calls used
    (catalog and play records), and the play records held: how many, the days read and final,
    the views error of the last run (e.g. no video-data permission)."""
    now = time.time() if now is None else now
    p, r = s.playbacks, s.sync_runs
    mine_p = [p.c.partner_id == partner_id] if partner_id is not None else []
    mine_r = [r.c.partner_id == partner_id] if partner_id is not None else []
    alive = [*mine_p, p.c.deleted_at.is_(None)]
    with engine.connect() as conn:
        last = conn.execute(select(r).where(*mine_r).order_by(r.c.id.desc()).limit(1)).first()
        last_full = conn.execute(
            select(r)
            .where(*mine_r, r.c.mode == FULL, r.c.error.is_(None), r.c.ended_at.is_not(None))
            .order_by(r.c.id.desc())
            .limit(1)
        ).first()
        by_status = conn.execute(
            select(p.c.status, func.count()).where(*alive).group_by(p.c.status)
        ).all()
        by_publish = conn.execute(
            select(p.c.publish_status, func.count()).where(*alive).group_by(p.c.publish_status)
        ).all()
        deleted = conn.execute(
            select(func.count()).where(*mine_p, p.c.deleted_at.is_not(None))
        ).scalar_one()
        calls_day = conn.execute(
            select(func.coalesce(func.sum(r.c.calls), 0)).where(
                *mine_r, r.c.started_at >= now - 86400
            )
        ).scalar_one()
        runs = conn.execute(select(func.count()).select_from(r).where(*mine_r)).scalar_one()
        views_calls = conn.execute(
            select(func.coalesce(func.sum(r.c.views_calls), 0)).where(
                *mine_r, r.c.started_at >= now - 86400
            )
        ).scalar_one()
        v, d = s.play_records, s.view_days
        mine_v = [v.c.partner_id == partner_id] if partner_id is not None else []
        mine_d = [d.c.partner_id == partner_id] if partner_id is not None else []
        records = conn.execute(select(func.count()).select_from(v).where(*mine_v)).scalar_one()
        days = conn.execute(
            select(func.count(), func.coalesce(func.sum(d.c.final), 0), func.min(d.c.day))
            .select_from(d)
            .where(*mine_d)
        ).one()
        views_run = conn.execute(
            select(r.c.views_error, r.c.views_calls)
            .where(*mine_r, r.c.ended_at.is_not(None), r.c.mode != "refresh")
            .order_by(r.c.id.desc())
            .limit(1)
        ).first()
    return {
        "playbacks": sum(n for _, n in by_status),
        "deleted": deleted,
        "by_status": {str(k): n for k, n in sorted(by_status, key=lambda x: x[0] or 0)},
        "by_publish_status": {str(k): n for k, n in sorted(by_publish, key=lambda x: x[0] or 0)},
        "runs": runs,
        "calls_last_24h": int(calls_day) + int(views_calls),
        "views": {
            "records": int(records),
            "days_read": int(days[0]),
            "days_final": int(days[1]),
            "first_day": days[2],
            "last_error": views_run[0] if views_run is not None else None,
        },
        "last_run": _run(last, now),
        "last_full_sweep": _run(last_full, now),
    }


LS_COLUMNS = (
    "room_id",
    "session_id",
    "version",
    "name",
    "status",
    "publish_status",
    "is_main",
    "length",
    "play_times",
    "create_time",
    "video_id",
    "deleted_at",
)


def list_playbacks(
    engine: Engine,
    *,
    partner_id: int | None = None,
    name: str | None = None,
    room_id: int | None = None,
    status: int | None = None,
    publish_status: int | None = None,
    since: str | None = None,
    until: str | None = None,
    include_deleted: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Mirrored playbacks, newest first, filtered; ``create_time`` and ``deleted_at`` as
    Beijing-time datetimes.

    :param name: 名称包含 (substring of the name, case-insensitive)
    :param since: 生成日期起 (``YYYY-MM-DD``, China time, inclusive)
    :param until: 生成日期止 (``YYYY-MM-DD``, China time, inclusive)
    """
    p = s.playbacks
    where = []
    if partner_id is not None:
        where.append(p.c.partner_id == partner_id)
    if not include_deleted:
        where.append(p.c.deleted_at.is_(None))
    if name:
        where.append(func.lower(p.c.name).contains(name.lower(), autoescape=True))
    if room_id is not None:
        where.append(p.c.room_id == room_id)
    if status is not None:
        where.append(p.c.status == status)
    if publish_status is not None:
        where.append(p.c.publish_status == publish_status)
    if since:
        where.append(p.c.create_time >= since)
    if until:
        where.append(p.c.create_time <= f"{until} 23:59:59")
    query = (
        select(*(p.c[c] for c in LS_COLUMNS))
        .where(*where)
        .order_by(p.c.create_time.desc(), p.c.room_id, p.c.session_id, p.c.version)
    )
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:
        if row["create_time"] is not None:
            row["create_time"] = parse_china_time(row["create_time"])
        row["deleted_at"] = beijing(row["deleted_at"])
    return rows
