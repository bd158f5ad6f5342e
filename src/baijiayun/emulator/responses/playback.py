"""Responses of the playback module: one function per action, validated, shaped for the wire."""

from __future__ import annotations

from typing import Any

from ... import _endpoints as ep
from ..backends.playback import READY
from ..rows import Playback
from ._shared import Context, action, beijing_time, list_item, read_with_account

__all__: list[str] = []


@action(ep.GET_BASIC_INFO)
def get_basic_info(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """The main version's state; media fields only once it is generated."""
    return _basic_info(ctx.playback.main_version(partner_id, a["room_id"], a.get("session_id")))


@read_with_account(ep.GET_BASIC_INFO)
def get_basic_info_with_account(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """getBasicInfo and the caller's account in one round trip (the server's hot path)."""
    caller, main = ctx.playback.main_version_and_caller(
        partner_id, a["room_id"], a.get("session_id")
    )
    return caller, lambda: _basic_info(main())


def _basic_info(main: Playback) -> Any:
    if main.status != READY:
        return {"status": main.status}
    return {
        "status": main.status,
        "video_id": main.video_id,
        "name": main.name,
        "length": main.length,
        "total_size": main.total_size,
        "total_transcode_size": main.total_transcode_size,
        "total_ext_media_size": main.total_ext_media_size,
        "preface_url": main.preface_url,
        "publish_status": main.publish_status,
        "create_time": main.create_time,
    }


@action(ep.GET_LIST)
def get_list(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """One page of the account's playbacks, newest first."""
    total, rows = ctx.playback.list_playbacks(
        partner_id,
        a["page"],
        a["page_size"],
        a.get("product_type"),
        a.get("crop_video", 0),
        a.get("room_id"),
    )
    return {"total": total, "list": [list_item(ctx, r) for r in rows]}


@action(ep.GET_PLAYER_TOKEN)
def get_player_token(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """One player token."""
    made = ctx.playback.issue_tokens(
        partner_id, [(a["room_id"], a.get("session_id"))], a["expires_in"]
    )
    return {"token": made[0]}


@action(ep.GET_PLAYER_TOKEN_BATCH)
def get_player_token_batch(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """Tokens keyed by ``room_id`` or ``room_id-session_id``, all or none."""
    pairs = ep.parse_room_ids(a["room_ids"])
    made = ctx.playback.issue_tokens(
        partner_id, [(r, s or None) for r, s in pairs], a["expires_in"]
    )
    keys = [f"{r}-{s}" if s else str(r) for r, s in pairs]
    return dict(zip(keys, made, strict=True))


@action(ep.GET_SESSION_LIST)
def get_session_list(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """The sessions of a long-term room."""
    return {
        "list": [
            {
                "session_id": r.session_id,
                "name": r.name,
                "status": r.status,
                "create_time": beijing_time(r.create_time),
            }
            for r in ctx.playback.sessions(partner_id, a["room_id"])
        ]
    }


@action(ep.SET_PUBLISH_STATUS)
def set_publish_status(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """Publish or block."""
    ctx.playback.set_publish_status(partner_id, a["room_id"], a["status"], a.get("session_id"))
    return {"status": a["status"]}


@action(ep.DELETE)
def delete(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """Delete a playback or one version."""
    ctx.playback.delete(partner_id, a["room_id"], a.get("session_id"), a.get("version"))


@action(ep.UPDATE)
def update(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """Rename a playback."""
    ctx.playback.rename(partner_id, a["room_id"], a["name"], a.get("session_id"))


@action(ep.GET_CROP_LIST)
def get_crop_list(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """One page of a playback's versions, each saying whether it is the main one."""
    rows = ctx.playback.versions(
        partner_id, a["room_id"], a.get("session_id"), a.get("product_type")
    )
    page, page_size = a.get("page", 1), a.get("page_size", 100)
    chunk = rows[(page - 1) * page_size : page * page_size]
    return {
        "total": len(rows),
        "list": [{**list_item(ctx, r), "is_main": int(r.is_main)} for r in chunk],
    }


@action(ep.SET_MAIN_VERSION)
def set_main_version(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """Make one version the main one."""
    ctx.playback.set_main_version(partner_id, a["room_id"], a["version"], a.get("session_id"))


@action(ep.GET_PLAYBACK_PPT_URL_LIST)
def get_playback_ppt_url_list(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """The slide PDFs of a room."""
    return {
        "list": [
            {"session_id": f.session_id, "date": f.date, "name": f.name, "url": f.url}
            for f in ctx.playback.ppt_file_list(partner_id, a["room_id"], a.get("date"))
        ]
    }


@action(ep.GET_PLAYBACK_PPT_URL)
def get_playback_ppt_url(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """The slide PDFs of one session."""
    return {
        "list": [
            {"name": f.name, "url": f.url}
            for f in ctx.playback.ppt_files(partner_id, a["room_id"], a.get("session_id"))
        ]
    }


@action(ep.REPLACE_PLAYBACK)
def replace_playback(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """Replace a version's media with another playback's, or add it as a new version."""
    ctx.playback.replace(
        partner_id,
        a["type"],
        (a["source_room_id"], a.get("source_session_id"), a.get("source_version")),
        (a["target_room_id"], a.get("target_session_id"), a.get("target_version")),
        bool(a.get("is_replace_main")),
    )
