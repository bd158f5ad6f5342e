"""The web player page: ``GET /web/playback/index?classid=&session_id=&token=`` (200 or 403)."""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .. import _endpoints as ep
from .exceptions import PlayerRefused
from .facade import Emulator

__all__ = ["player_page"]

logger = logging.getLogger("baijiayun.emulator")

_CLASSID = ep.Param("classid", "int", "room id", required=True, minimum=1)
_SESSION = ep.Param("session_id", "int", "session id", minimum=0)
_TOKEN = ep.Param("token", "str", "player token", required=True, max_length=128)


def _refuse(why: str) -> Response:
    return HTMLResponse(f"<h1>403</h1><p>{html.escape(why)}</p>", status_code=403)


def _problem(param: ep.Param, raw: str) -> str | None:
    """Why ``raw`` is no value of ``param`` (naming it and its rule), or None when it is fine."""
    if not raw:
        return f"{param.name} is required: {param.describe_rule()}" if param.required else None
    try:
        param.check_wire(raw)
    except ValueError as exc:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        return f"{param.name} must be {exc}, got {shown!r}"
    return None


async def player_page(request: Request) -> Response:
    """Show the playback a valid token opens (counting the play); 403 for anything else,
    with a page saying which parameter is wrong and why."""
    emulator: Emulator = request.app.state.emulator
    query = request.query_params
    classid, session, token = (query.get(p.name, "") for p in (_CLASSID, _SESSION, _TOKEN))
    for param, raw in ((_CLASSID, classid), (_SESSION, session), (_TOKEN, token)):
        why = _problem(param, raw)
        if why is not None:
            return _refuse(why)
    room_id, session_id = int(classid), int(session) if session else None
    try:
        playback = await emulator.db.run(emulator.playbacks.open_player, room_id, session_id, token)
    except PlayerRefused as refused:
        return _refuse(refused.reason)
    except Exception:
        logger.exception("emulator: unexpected error on the player page")
        return _refuse("the player could not check this token")
    name = html.escape(playback.name)
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title></head>"
        f"<body><h1>{name}</h1><p>room {playback.room_id} session {playback.session_id} "
        f"version {playback.version} · {playback.length} s · played {playback.play_times + 1} times</p>"
        f"<video controls poster='{html.escape(playback.preface_url)}'></video></body></html>"
    )
