"""Responses of the video_data module: play records (docs/protocol.md#viewing-records), one day window a call."""

from __future__ import annotations

from typing import Any

from ... import _endpoints as ep
from ..rows import PlayRecord
from ._shared import Context, action, beijing_time

__all__ = ["play_record"]


def play_record(row: PlayRecord) -> dict[str, Any]:
    """One play as both endpoints write it: the fields of docs/protocol.md#viewing-records, times in Beijing time."""
    return {
        "guid": row.guid,
        "uuid": row.uuid,
        "room_id": row.room_id,
        "session_id": row.session_id,
        "version": row.version,
        "video_id": row.video_id,
        "user_name": row.user_name,
        "user_number": row.user_number,
        "play_begin_time": beijing_time(row.play_begin_time),
        "play_end_time": beijing_time(row.play_end_time),
        "client_type": row.client_type,
        "play_length": row.play_length,
        "user_ip": row.user_ip,
        "area": row.area,
    }


def _window(a: dict[str, Any]) -> tuple[int, int]:
    """The validated window as unix seconds, both ends inclusive."""
    start, end = (ep.parse_wire_time(a[name]) for name in ("start_time", "end_time"))
    return int(start.timestamp()), int(end.timestamp())


@action(ep.GET_PLAYBACK_PLAY_RECORD)
def get_playback_play_record(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """One page of a playback's plays that began in the window, oldest first."""
    total, rows = ctx.views.playback_records(
        partner_id,
        a["room_id"],
        a.get("session_id"),
        _window(a),
        a.get("page", 1),
        a.get("page_size", 100),
    )
    return {"total": total, "list": [play_record(r) for r in rows]}


@action(ep.EXPORT_VIDEO_REPORT_BATCH)
def export_video_report_batch(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """One page of every play of the account that began in the window, oldest first."""
    total, rows = ctx.views.account_records(
        partner_id, a.get("product_type"), _window(a), a.get("page", 1), a.get("page_size", 100)
    )
    return {"total": total, "list": [play_record(r) for r in rows]}
