"""The web player (docs/protocol.md#player-tokens-and-urls, docs/protocol.md#viewing-records): its page, its test video (with Range) and its beacons."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from .. import _endpoints as ep
from .backends.views import Beacon
from .exceptions import EmulatorError, PlayerRefused
from .facade import Emulator
from .wire import ClientGone, read_body

__all__ = ["VIDEO_FILE", "beacon", "player_page", "test_video"]

logger = logging.getLogger("baijiayun.emulator")

VIDEO_FILE = Path(__file__).parent / "static" / "test-video.webm"
"""The clip every playback plays (made by scripts/make_test_video.py): WebM, VP8, 32 s."""
VIDEO_PATH = "/web/playback/video.webm"
BEACON_PATH = "/web/playback/beacon"

_CLASSID = ep.Param("classid", "int", "room id", required=True, minimum=1)
_SESSION = ep.Param("session_id", "int", "session id", minimum=0)
_TOKEN = ep.Param("token", "str", "player token", required=True, max_length=128)
_GUID = ep.Param("guid", "str", "play id", required=True, max_length=32)
_UUID = ep.Param("uuid", "str", "client id", required=True, max_length=64)
_EVENT = ep.Param("event", "str", "beacon event", required=True, max_length=16)
_DURATION = ep.Param("duration", "int", "ms played", required=True, minimum=0, maximum=10**12)
_POSITION = ep.Param("position", "int", "ms into the video", minimum=0, maximum=10**12)
_USER_NUMBER = ep.Param("user_number", "str", "viewer number", max_length=64)
_USER_NAME = ep.Param("user_name", "str", "viewer name", max_length=100)


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


def _script_json(value: object) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, no HTML comments)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def player_page(request: Request) -> Response:
    """Show and play the playback a valid token opens (counting the play); 403 for anything
    else, with a page saying which parameter is wrong and why."""
    emulator: Emulator = request.app.state.emulator
    query = request.query_params
    classid, session, token = (query.get(p.name, "") for p in (_CLASSID, _SESSION, _TOKEN))
    for param, raw in ((_CLASSID, classid), (_SESSION, session), (_TOKEN, token)):
        why = _problem(param, raw)
        if why is not None:
            return _refuse(why)
    viewer = {p.name: query.get(p.name, "") for p in (_USER_NUMBER, _USER_NAME)}
    for param in (_USER_NUMBER, _USER_NAME):
        if viewer[param.name] and _problem(param, viewer[param.name]) is not None:
            viewer[param.name] = ""  # a viewer field the beacons could not carry is dropped
    room_id, session_id = int(classid), int(session) if session else None
    try:
        playback = await emulator.db.run(emulator.playbacks.open_player, room_id, session_id, token)
    except PlayerRefused as refused:
        return _refuse(refused.reason)
    except Exception:
        logger.exception("emulator: unexpected error on the player page")
        return _refuse("the player could not check this token")
    config = {
        "classid": str(room_id),
        "session_id": session,
        "token": token,
        "user_number": viewer["user_number"],
        "user_name": viewer["user_name"],
        "report_interval": emulator.config.report_interval,
        "beacon": BEACON_PATH,
    }
    name = html.escape(playback.name)
    who = html.escape(viewer["user_name"] or viewer["user_number"] or "匿名观众 (anonymous)")
    facts = (
        f"room {playback.room_id} · session {playback.session_id} · version {playback.version}"
        f" · {playback.length} s · played {playback.play_times + 1} times"
    )
    return HTMLResponse(
        _PAGE.replace("{name}", name)
        .replace("{facts}", html.escape(facts))
        .replace("{who}", who)
        .replace("{video}", VIDEO_PATH)
        .replace("{config}", _script_json(config))
    )


async def test_video(request: Request) -> Response:
    """The test clip, with byte ranges (so the player can seek) and a day of caching."""
    return FileResponse(
        VIDEO_FILE, media_type="video/webm", headers={"cache-control": "public, max-age=86400"}
    )


async def beacon(request: Request) -> Response:
    """Take one player beacon (GET query or POST form, as ``navigator.sendBeacon`` sends it):
    204 when taken, 403 when the token does not open that room/session, 400 for bad fields."""
    emulator: Emulator = request.app.state.emulator
    fields = dict(parse_qsl(request.url.query, keep_blank_values=True, errors="replace"))
    if request.method == "POST":
        try:
            body = await read_body(request.scope, request.receive, emulator.config.max_body)
        except ClientGone:
            return Response(status_code=400)  # nobody is left to read it
        except EmulatorError as error:
            return PlainTextResponse(error.msg, status_code=413)
        fields.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    params = (
        _CLASSID,
        _SESSION,
        _TOKEN,
        _GUID,
        _UUID,
        _EVENT,
        _DURATION,
        _POSITION,
        _USER_NUMBER,
        _USER_NAME,
    )
    for param in params:
        why = _problem(param, fields.get(param.name, ""))
        if why is not None:
            status = 403 if param in (_CLASSID, _SESSION, _TOKEN) else 400
            return PlainTextResponse(why, status_code=status)
    session = fields.get("session_id", "")
    report = Beacon(
        guid=fields["guid"],
        uuid=fields["uuid"],
        room_id=int(fields["classid"]),
        session_id=int(session) if session else None,
        token=fields["token"],
        event=fields["event"],
        duration_ms=int(fields["duration"]),
        position_ms=int(fields.get("position") or 0),
        user_number=fields.get("user_number", ""),
        user_name=fields.get("user_name", ""),
    )
    why = report.problem()
    if why is not None:
        return PlainTextResponse(why, status_code=400)
    peer = request.client.host if request.client is not None else ""
    try:
        await emulator.db.run(emulator.views.beacon, report, peer, emulator.config.report_interval)
    except PlayerRefused as refused:
        return PlainTextResponse(refused.reason, status_code=403)
    except EmulatorError as error:
        return PlainTextResponse(error.msg, status_code=400)
    return Response(status_code=204)


_PAGE = """<!doctype html>
<html lang="zh">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}</title>
<style>
  body { margin: 0; font: 15px/1.5 system-ui, sans-serif; background: #101418; color: #e8ecef; }
  main { max-width: 720px; margin: 24px auto; padding: 0 16px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  .facts, .status { color: #9aa5ae; margin: 0 0 12px; font-size: 13px; }
  video { width: 100%; background: #000; border-radius: 6px; display: block; }
  .status span { color: #e8ecef; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<main>
  <h1 id="title">{name}</h1>
  <p class="facts">{facts} · 观众 (viewer): {who}</p>
  <video id="player" src="{video}" controls muted playsinline preload="auto"></video>
  <p class="status">状态 (state): <span id="state">ready</span> ·
    已观看 (watched): <span id="watched">0.0</span> s ·
    位置 (position): <span id="position">0.0</span> s</p>
</main>
<script id="config" type="application/json">{config}</script>
<script>
"use strict";
(() => {
  const cfg = JSON.parse(document.getElementById("config").textContent);
  const video = document.getElementById("player");
  const interval = cfg.report_interval * 1000;
  const hex = (bytes) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  let uuid = "";
  try {
    uuid = localStorage.getItem("bjy_player_uuid") || "";
    if (!uuid) { uuid = hex(16); localStorage.setItem("bjy_player_uuid", uuid); }
  } catch (e) { uuid = hex(16); }
  // one play: its id, the ms actually played (paused, seeking or stalled time excluded)
  let guid = "", played = 0, tickAt = performance.now(), lastSent = 0, over = true;
  const playing = () => !video.paused && !video.ended && !video.seeking && video.readyState >= 3;
  const tick = () => {
    const now = performance.now();
    if (playing()) played += now - tickAt;
    tickAt = now;
  };
  const send = (event) => {
    tick();
    const body = new URLSearchParams({
      guid, uuid, classid: cfg.classid, session_id: cfg.session_id, token: cfg.token,
      user_number: cfg.user_number, user_name: cfg.user_name, event,
      duration: String(Math.round(played)), position: String(Math.round(video.currentTime * 1000)),
    });
    lastSent = performance.now();
    if (!navigator.sendBeacon(cfg.beacon, body)) {
      fetch(cfg.beacon, { method: "POST", body, keepalive: true }).catch(() => {});
    }
  };
  const show = (state) => { document.getElementById("state").textContent = state; };
  video.addEventListener("play", () => {
    tick();
    // a new play after the last one ended, or after a silence the service ends it for
    if (over || performance.now() - lastSent > 3 * interval) {
      guid = hex(16); played = 0; over = false;
    }
    send("play"); show("playing");
  });
  video.addEventListener("pause", () => {
    if (!over && !video.ended) { send("pause"); show("paused"); }
  });
  video.addEventListener("seeked", () => { if (!over) send("seek"); });
  video.addEventListener("ended", () => {
    if (!over) { send("ended"); over = true; show("ended"); }
  });
  window.addEventListener("pagehide", () => {
    if (!over) { send("leave"); over = true; }
  });
  setInterval(() => {
    tick();
    if (!over && playing() && performance.now() - lastSent >= interval) send("heartbeat");
    document.getElementById("watched").textContent = (played / 1000).toFixed(1);
    document.getElementById("position").textContent = video.currentTime.toFixed(1);
  }, Math.min(250, interval / 4));
})();
</script>
</body>
</html>
"""
