"""The OpenAPI over HTTP: read the form, authenticate, rate-limit, apply faults, answer an envelope."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .. import _endpoints as ep
from .. import _signing
from .exceptions import (
    AccountNotFound,
    EmulatorError,
    InvalidParameter,
    RateLimited,
    SignatureError,
)
from .facade import Emulator
from .faults import Fault
from .responses import ACTIONS, READS_WITH_ACCOUNT
from .responses import Context as ResponseContext

__all__ = ["BodyTooLarge", "envelope", "openapi", "public_url", "read_body"]

logger = logging.getLogger("baijiayun.emulator")

RATE_LIMIT_MSG = "请求过于频繁"
INTERNAL_ERROR = 500
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
"""The catch-all answers every method with the envelope (only GET and POST reach an action)."""
TOO_LARGE = 413
_PARTNER_ID = ep.Param("partner_id", "int", "partner id", required=True, minimum=1)
_TIMESTAMP = ep.Param("timestamp", "int", "unix seconds", required=True, minimum=0)


def envelope(code: int, msg: str, data: Any, ts: int) -> Response:
    """BaijiaYun's reply: always HTTP 200 and ``{"code", "msg", "data", "ts"}``."""
    body = json.dumps({"code": code, "msg": msg, "data": data, "ts": ts}, ensure_ascii=False)
    return Response(body, media_type="application/json")


class BodyTooLarge(EmulatorError):
    """The request body is larger than the configured limit."""

    code = TOO_LARGE


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


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read in chunks and refused (BodyTooLarge) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # later readers (the form parser) reuse it
    return body


def public_url(request: Request, emulator: Emulator) -> str:
    """Where play_url points: the configured public URL, else the address the server listens on."""
    if emulator.config.public_url:
        return emulator.config.public_url.rstrip("/")
    scheme = request.scope.get("scheme", "http")
    server = request.scope.get("server")
    if not server:
        return f"{scheme}://localhost"
    host, port = server[0], server[1]
    if ":" in str(host):
        host = f"[{host}]"
    default = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    return f"{scheme}://{host}" if default or port is None else f"{scheme}://{host}:{port}"


async def _params(request: Request, limit: int) -> dict[str, str]:
    params = dict(parse_qsl(request.url.query, keep_blank_values=True, errors="replace"))
    if request.method != "POST":
        return params
    body = await read_body(request, limit)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    elif content_type.startswith("application/json"):
        raise InvalidParameter("参数错误: JSON bodies are not supported; send form data")
    else:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _int(param: ep.Param, params: Mapping[str, str]) -> int:
    raw = params.get(param.name)
    if raw is None or raw == "":
        raise InvalidParameter(f"参数错误: missing parameter {param.name}", param.name)
    try:
        return int(param.check_wire(raw))
    except ValueError as exc:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise InvalidParameter(
            f"参数错误: parameter {param.name} must be {exc}, got {shown!r}", param.name
        ) from None


def _check_sign(emulator: Emulator, params: Mapping[str, str], partner_key: str) -> None:
    if "partner_key" in params:
        raise SignatureError("签名错误: partner_key must never be sent")
    if not params.get("sign"):
        raise SignatureError("签名错误: missing sign")
    if not _signing.verify(params, partner_key):
        msg = "签名错误"
        if emulator.config.debug_signatures:
            signed = _signing.mask_canonical(_signing.canonical_string(params, partner_key))
            msg += f"; the server signed: {signed}"
        raise SignatureError(msg)


async def _authenticate(
    emulator: Emulator,
    endpoint: ep.Endpoint,
    params: Mapping[str, str],
    context: ResponseContext,
) -> tuple[int, Callable[[], Any] | None]:
    """The caller's partner_id once its account, timestamp and sign check out; for a read that
    has a one-round-trip form, also its answer (read together with the account)."""
    partner_id = _int(_PARTNER_ID, params)
    timestamp = _int(_TIMESTAMP, params)
    skew = abs(int(emulator.clock()) - timestamp)
    window = emulator.config.timestamp_window
    if window and skew > window:
        raise InvalidParameter(
            f"参数错误: timestamp {timestamp} is {skew} s off the server time (limit {window} s)",
            "timestamp",
        )
    answer = None
    read = READS_WITH_ACCOUNT.get(endpoint.path)
    if read is None:
        account = await emulator.db.run(emulator.partners.account, partner_id)
    else:
        account, answer = await emulator.db.run(read, context, partner_id, params)
    if account is None:
        raise AccountNotFound(f"账号不存在 partner_id={partner_id}")
    if endpoint.signed:
        _check_sign(emulator, params, account.partner_key)
    return partner_id, answer


def _fault_response(fault: Fault, now: int) -> Response:
    if fault.kind == "error":
        return envelope(int(fault.value), f"injected fault: code {int(fault.value)}", None, now)
    if fault.kind == "http":
        return Response(f"injected HTTP {int(fault.value)}", status_code=int(fault.value))
    if fault.kind == "malformed":
        return Response('{"code": 0, "data": {', media_type="application/json")
    return _DroppedConnection()


async def _apply_faults(emulator: Emulator, path: str, now: int) -> Response | None:
    for fault in emulator.faults.draw(path):
        if fault.kind == "latency":
            await asyncio.sleep(fault.value)
        else:
            return _fault_response(fault, now)
    return None


def _stats_partner(params: Mapping[str, str]) -> int:
    """The partner_id a call names, for the statistics (0 when it names none or a bad one)."""
    try:
        return int(_PARTNER_ID.check_wire(params.get("partner_id", "")))
    except ValueError:
        return 0


async def openapi(request: Request) -> Response:
    """Answer one ``/openapi/...`` call the way BaijiaYun does: always the JSON envelope."""
    emulator: Emulator = request.app.state.emulator
    now = int(emulator.clock())
    endpoint = ep.ENDPOINTS.get(request.url.path)
    if endpoint is None:
        return envelope(404, f"请求路径不存在: {request.url.path}", None, now)
    if request.method not in ("GET", "POST"):
        return envelope(405, f"请求方法不支持: {request.method}; use POST", None, now)
    stats, name = emulator.call_stats, endpoint.action
    try:
        params = await _params(request, emulator.config.max_body)
        partner = _stats_partner(params)
        injected = await _apply_faults(emulator, endpoint.path, now)
        if injected is not None:
            stats.count(partner, name, "fault")
            return injected
        context = emulator.context(public_url(request, emulator))
        try:
            partner_id, answer = await _authenticate(emulator, endpoint, params, context)
        except EmulatorError:
            stats.count(partner, name, "auth")
            raise
        if not await emulator.rate_window.admit(partner_id):
            stats.count(partner_id, name, "rate_limited")
            raise RateLimited(RATE_LIMIT_MSG)
        stats.count(partner_id, name, "served")
        if answer is not None:
            data = answer()
        else:
            data = await emulator.db.run(ACTIONS[endpoint.path], context, partner_id, params)
    except EmulatorError as error:
        return envelope(error.code, error.msg, None, now)
    except Exception:
        logger.exception("emulator: unexpected error answering %s", endpoint.path)
        return envelope(INTERNAL_ERROR, "服务器内部错误: internal error (logged)", None, now)
    finally:
        if stats.due():
            await emulator.db.run(stats.flush)
    return envelope(0, "", data, now)
