"""The wire: parse, authenticate, rate-limit and route OpenAPI calls to the state; thin handlers."""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from .. import _endpoints as ep
from .. import _signing
from .faults import Fault
from .state import EmulatorError

if TYPE_CHECKING:
    from .app import Emulator

__all__ = ["openapi", "player_page"]

RATE_LIMIT_CODE = 429
RATE_LIMIT_MSG = "请求过于频繁"

Handler = Callable[["Emulator", int, dict[str, Any], str], Any]


def _envelope(code: int, msg: str, data: Any, ts: int) -> Response:
    body = json.dumps({"code": code, "msg": msg, "data": data, "ts": ts}, ensure_ascii=False)
    return Response(body, media_type="application/json")


class _DroppedConnection(Response):
    """Announce a body, send part of it, then break the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"code":0', "more_body": True})
        raise ConnectionResetError("connection dropped by an injected fault")


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method != "POST":
        return params
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    elif content_type.startswith("application/json"):
        raise EmulatorError(1001, "参数错误: JSON bodies are not supported; send form data")
    else:
        body = await request.body()
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _int_field(params: Mapping[str, str], name: str) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        raise EmulatorError(1001, f"参数错误: missing parameter {name}")
    if not raw.isdigit():
        raise EmulatorError(1001, f"参数错误: parameter {name} must be an integer, got {raw!r}")
    return int(raw)


def _authenticate(emulator: Emulator, endpoint: ep.Endpoint, params: Mapping[str, str]) -> int:
    partner_id = _int_field(params, "partner_id")
    timestamp = _int_field(params, "timestamp")
    skew = abs(emulator.state.now() - timestamp)
    window = emulator.config.timestamp_window
    if window and skew > window:
        raise EmulatorError(
            1001,
            f"参数错误: timestamp {timestamp} is {skew} s off the server time (limit {window} s)",
        )
    account = emulator.account(partner_id)
    if account is None:
        raise EmulatorError(2001, f"账号不存在 partner_id={partner_id}")
    if not endpoint.signed:
        return partner_id
    if "partner_key" in params:
        raise EmulatorError(1002, "签名错误: partner_key must never be sent")
    if not params.get("sign"):
        raise EmulatorError(1002, "签名错误: missing sign")
    if not _signing.verify(params, account["partner_key"]):
        msg = "签名错误"
        if emulator.config.debug_signatures:
            signed = _signing.mask_canonical(
                _signing.canonical_string(params, account["partner_key"])
            )
            msg += f"; the server signed: {signed}"
        raise EmulatorError(1002, msg)
    return partner_id


def _arguments(endpoint: ep.Endpoint, params: Mapping[str, str]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for param in endpoint.params:
        raw = params.get(param.name)
        if raw is None or (raw == "" and param.kind != "str"):
            if param.required:
                raise EmulatorError(1001, f"参数错误: missing parameter {param.name}")
            continue
        try:
            arguments[param.name] = param.check_wire(raw)
        except ValueError as exc:
            raise EmulatorError(
                1001, f"参数错误: invalid {param.name}={raw!r}; expected {exc}"
            ) from None
    return arguments


def _tokens(emu: Emulator, pid: int, a: dict[str, Any], _base: str) -> Any:
    if "room_ids" in a:
        pairs = ep.parse_room_ids(a["room_ids"])
        made = emu.state.issue_tokens(pid, [(r, s or None) for r, s in pairs], a["expires_in"])
        keys = [f"{r}-{s}" if s else str(r) for r, s in pairs]
        return dict(zip(keys, made, strict=True))
    made = emu.state.issue_tokens(pid, [(a["room_id"], a.get("session_id"))], a["expires_in"])
    return {"token": made[0]}


def _replace(emu: Emulator, pid: int, a: dict[str, Any], _base: str) -> None:
    emu.state.replace(
        pid,
        a["type"],
        (a["source_room_id"], a.get("source_session_id"), a.get("source_version")),
        (a["target_room_id"], a.get("target_session_id"), a.get("target_version")),
        bool(a.get("is_replace_main")),
    )


def _callback_url(emu: Emulator, pid: int, a: dict[str, Any], _base: str) -> Any:
    if "url" in a:
        emu.state.set_callback_url(pid, a["url"])
    account = emu.account(pid)
    return {"url": account["transcode_callback_url"] if account else ""}


HANDLERS: dict[str, Handler] = {
    ep.GET_BASIC_INFO.path: lambda emu, pid, a, _b: emu.state.get_basic_info(
        pid, a["room_id"], a.get("session_id")
    ),
    ep.GET_LIST.path: lambda emu, pid, a, base: emu.state.get_list(
        pid,
        base,
        a["page"],
        a["page_size"],
        a.get("product_type"),
        a.get("crop_video", 0),
        a.get("room_id"),
    ),
    ep.GET_PLAYER_TOKEN.path: _tokens,
    ep.GET_PLAYER_TOKEN_BATCH.path: _tokens,
    ep.GET_SESSION_LIST.path: lambda emu, pid, a, _b: emu.state.get_session_list(pid, a["room_id"]),
    ep.SET_PUBLISH_STATUS.path: lambda emu, pid, a, _b: emu.state.set_publish_status(
        pid, a["room_id"], a["status"], a.get("session_id")
    ),
    ep.DELETE.path: lambda emu, pid, a, _b: emu.state.delete(
        pid, a["room_id"], a.get("session_id"), a.get("version")
    ),
    ep.UPDATE.path: lambda emu, pid, a, _b: emu.state.rename(
        pid, a["room_id"], a["name"], a.get("session_id")
    ),
    ep.GET_CROP_LIST.path: lambda emu, pid, a, base: emu.state.get_crop_list(
        pid,
        base,
        a["room_id"],
        a.get("page", 1),
        a.get("page_size", 100),
        a.get("product_type"),
        a.get("session_id"),
    ),
    ep.SET_MAIN_VERSION.path: lambda emu, pid, a, _b: emu.state.set_main_version(
        pid, a["room_id"], a["version"], a.get("session_id")
    ),
    ep.GET_PLAYBACK_PPT_URL_LIST.path: lambda emu, pid, a, _b: emu.state.ppt_file_list(
        pid, a["room_id"], a.get("date")
    ),
    ep.GET_PLAYBACK_PPT_URL.path: lambda emu, pid, a, _b: emu.state.ppt_files(
        pid, a["room_id"], a.get("session_id")
    ),
    ep.REPLACE_PLAYBACK.path: _replace,
    ep.CREATE_KEY.path: lambda emu, pid, a, _b: {
        "partner_key": emu.state.rotate_key(pid, a["secret_key"], bool(a.get("regenerate")))
    },
    ep.SET_TRANSCODE_CALLBACK_URL.path: _callback_url,
    ep.GET_TRANSCODE_CALLBACK_URL.path: _callback_url,
}


async def _apply_faults(emulator: Emulator, path: str, now: int) -> Response | None:
    for fault in emulator.faults.draw(path):
        if fault.kind == "latency":
            await asyncio.sleep(fault.value)
        else:
            return _fault_response(fault, now)
    return None


def _fault_response(fault: Fault, now: int) -> Response:
    if fault.kind == "error":
        return _envelope(int(fault.value), f"injected fault: code {int(fault.value)}", None, now)
    if fault.kind == "http":
        return Response(f"injected HTTP {int(fault.value)}", status_code=int(fault.value))
    if fault.kind == "malformed":
        return Response('{"code": 0, "data": {', media_type="application/json")
    return _DroppedConnection()


async def openapi(request: Request) -> Response:
    """Answer one ``/openapi/...`` call the way BaijiaYun does."""
    emulator: Emulator = request.app.state.emulator
    now = emulator.state.now()
    endpoint = ep.ENDPOINTS.get(request.url.path)
    if endpoint is None:
        return _envelope(404, f"请求路径不存在: {request.url.path}", None, now)
    injected = await _apply_faults(emulator, endpoint.path, now)
    if injected is not None:
        return injected
    try:
        params = await _params(request)
        partner_id = _authenticate(emulator, endpoint, params)
        if not emulator.rate_window.admit(partner_id):
            return _envelope(RATE_LIMIT_CODE, RATE_LIMIT_MSG, None, now)
        arguments = _arguments(endpoint, params)
        base_url = str(request.base_url).rstrip("/")
        data = HANDLERS[endpoint.path](emulator, partner_id, arguments, base_url)
    except EmulatorError as error:
        return _envelope(error.code, error.msg, None, now)
    return _envelope(0, "", data, now)


async def player_page(request: Request) -> Response:
    """``GET /web/playback/index?classid=&session_id=&token=``: 200 with the playback, else 403."""
    emulator: Emulator = request.app.state.emulator
    query = request.query_params
    classid, session, token = (
        query.get("classid", ""),
        query.get("session_id", ""),
        query.get("token", ""),
    )
    if not classid.isdigit() or not token or (session and not session.isdigit()):
        return HTMLResponse("<h1>403</h1><p>classid and token are required</p>", status_code=403)
    try:
        playback = emulator.state.open_player(
            int(classid), int(session) if session else None, token
        )
    except EmulatorError as error:
        return HTMLResponse(f"<h1>403</h1><p>{html.escape(error.msg)}</p>", status_code=403)
    name = html.escape(playback["name"])
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title></head>"
        f"<body><h1>{name}</h1><p>room {playback['room_id']} session {playback['session_id']} "
        f"version {playback['version']} · {playback['length']} s · played {playback['play_times'] + 1} times</p>"
        f"<video controls poster='{html.escape(playback['preface_url'])}'></video></body></html>"
    )


class RateWindow:
    """Sliding window of accepted calls per partner_id: 200 per 10 s by default."""

    def __init__(
        self, limit: int | None, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self._calls: dict[int, deque[float]] = {}

    def admit(self, partner_id: int) -> bool:
        """Record a call and say whether it is within the limit (rejected calls are not counted)."""
        if not self.limit:
            return True
        now = self.clock()
        calls = self._calls.setdefault(partner_id, deque())
        while calls and calls[0] <= now - self.period:
            calls.popleft()
        if len(calls) >= self.limit:
            return False
        calls.append(now)
        return True

    def reset(self) -> None:
        """Forget every recorded call."""
        self._calls.clear()
