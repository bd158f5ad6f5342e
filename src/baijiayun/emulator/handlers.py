"""The OpenAPI over HTTP: read the form, authenticate, rate-limit, apply faults, answer an envelope."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

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

__all__ = [
    "BodyTooLarge",
    "OpenAPIFastPath",
    "envelope",
    "envelope_bytes",
    "form_fields",
    "multipart_fields",
    "openapi",
    "public_url",
    "read_body",
]

logger = logging.getLogger("baijiayun.emulator")

RATE_LIMIT_MSG = "请求过于频繁"
INTERNAL_ERROR = 1  # protocol §11: HTTP 500 with the envelope, code 1
INTERNAL_MSG = "服务器内部错误: internal error (logged)"
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
"""The catch-all answers every method with the envelope (only GET and POST reach an action)."""
TOO_LARGE = 413
_PARTNER_ID = ep.Param("partner_id", "int", "partner id", required=True, minimum=1)
_TIMESTAMP = ep.Param("timestamp", "int", "unix seconds", required=True, minimum=0)


_JSON = json.JSONEncoder(ensure_ascii=False)


def envelope_bytes(code: int, msg: str, data: Any, ts: int) -> bytes:
    """The envelope's JSON, UTF-8 encoded."""
    return _JSON.encode({"code": code, "msg": msg, "data": data, "ts": ts}).encode()


def envelope(code: int, msg: str, data: Any, ts: int) -> Response:
    """BaijiaYun's reply: always HTTP 200 and ``{"code", "msg", "data", "ts"}``."""
    return Response(envelope_bytes(code, msg, data, ts), media_type="application/json")


class BodyTooLarge(EmulatorError):
    """The request body is larger than the configured limit (protocol §11: HTTP 413, 1001)."""

    code = 1001
    http_status = TOO_LARGE


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
        raise BodyTooLarge(f"请求体过大: request body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"请求体过大: request body over {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # later readers (the form parser) reuse it
    return body


def public_url(request: Request, emulator: Emulator) -> str:
    """Where play_url points: the configured public URL, else the address the server listens on."""
    return public_url_of(request.scope, emulator)


def public_url_of(scope: Scope, emulator: Emulator) -> str:
    """:func:`public_url` from an ASGI scope."""
    if emulator.config.public_url:
        return emulator.config.public_url.rstrip("/")
    scheme = scope.get("scheme", "http")
    server = scope.get("server")
    if not server:
        return f"{scheme}://localhost"
    host, port = server[0], server[1]
    if ":" in str(host):
        host = f"[{host}]"
    default = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    return f"{scheme}://{host}" if default or port is None else f"{scheme}://{host}:{port}"


async def multipart_fields(scope: Scope, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data ``body`` (file parts are ignored).

    A Content-Type without a boundary, or a body the form parser rejects, is the caller's
    mistake: InvalidParameter (1001) naming it, never an unexpected error.
    """
    request = Request(scope)
    header = Message()
    header["content-type"] = request.headers.get("content-type", "")
    if not header.get_param("boundary"):
        raise InvalidParameter(
            "参数错误: multipart/form-data needs a non-empty boundary in its Content-Type "
            "(e.g. multipart/form-data; boundary=xyz), or send application/x-www-form-urlencoded"
        )
    request._body = body  # the form parser reads it instead of receiving
    try:
        form = await request.form()
    except (MultiPartException, HTTPException) as exc:
        # Starlette raises HTTPException inside an app (from a MultiPartException), and
        # MultiPartException outside one; the parser's own complaint is the latter's cause
        parsed = exc if isinstance(exc, MultiPartException) else exc.__context__
        detail = parsed.message if isinstance(parsed, MultiPartException) else str(exc)
        if parsed is not None and parsed.__cause__ is not None:
            detail = f"{detail} ({parsed.__cause__})"
        raise InvalidParameter(f"参数错误: malformed multipart/form-data body: {detail}") from None
    try:
        return {k: v for k, v in form.items() if isinstance(v, str)}
    finally:
        await form.close()


async def _params(request: Request, limit: int) -> dict[str, str]:
    params = dict(parse_qsl(request.url.query, keep_blank_values=True, errors="replace"))
    if request.method != "POST":
        return params
    body = await read_body(request, limit)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        params.update(await multipart_fields(request.scope, body))
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


async def _flush_stats(emulator: Emulator) -> None:
    stats = emulator.call_stats
    if stats.due():
        try:
            await emulator.db.run(stats.flush)
        except Exception:
            logger.exception("emulator: could not store call statistics")


async def _respond(
    emulator: Emulator,
    scope: Scope,
    method: str,
    path: str,
    read_params: Callable[[], Awaitable[dict[str, str]]],
) -> bytes | Response:
    """One ``/openapi/...`` call: the envelope's JSON, or the response of an injected fault.

    Whatever goes wrong, the answer is an envelope: an unexpected exception is logged and
    answered with a non-zero code, so the keep-alive connection survives.
    """
    now = int(emulator.clock())
    endpoint = ep.ENDPOINTS.get(path)
    if endpoint is None:
        return envelope_bytes(404, f"请求路径不存在: {path}", None, now)
    if method not in ("GET", "POST"):
        return envelope_bytes(405, f"请求方法不支持: {method}; use POST", None, now)
    stats, name = emulator.call_stats, endpoint.action
    try:
        params = await read_params()
        partner = _stats_partner(params)
        injected = await _apply_faults(emulator, endpoint.path, now)
        if injected is not None:
            stats.count(partner, name, "fault")
            return injected
        context = emulator.context(public_url_of(scope, emulator))
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
        return envelope_bytes(0, "", data, now)
    except EmulatorError as error:
        body = envelope_bytes(error.code, error.msg, None, now)
        if error.http_status == 200:
            return body
        return Response(body, status_code=error.http_status, media_type="application/json")
    except _Disconnected:
        raise  # the client went away mid-body: nobody to answer, nothing to log
    except Exception:
        logger.exception("emulator: unexpected error answering %s", endpoint.path)
        body = envelope_bytes(INTERNAL_ERROR, INTERNAL_MSG, None, now)
        return Response(body, status_code=500, media_type="application/json")
    finally:
        await _flush_stats(emulator)


async def openapi(request: Request) -> Response:
    """Answer one call the way BaijiaYun does: always the JSON envelope (Starlette's route)."""
    emulator: Emulator = request.app.state.emulator

    async def read_params() -> dict[str, str]:
        return await _params(request, emulator.config.max_body)

    reply = await _respond(emulator, request.scope, request.method, request.url.path, read_params)
    if isinstance(reply, bytes):
        return Response(reply, media_type="application/json")
    return reply


def form_fields(text: str) -> dict[str, str]:
    """A query string or urlencoded body as a dict: ``dict(parse_qsl(text, keep_blank_values=True))``.

    The same decoding (``+`` as space, percent escapes as UTF-8 with replacement, the last of a
    repeated name wins, a name without ``=`` has the empty value), without its per-pair cost.
    """
    fields: dict[str, str] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "+" in name or "%" in name:
            name = unquote(name.replace("+", " "))
        if "+" in value or "%" in value:
            value = unquote(value.replace("+", " "))
        fields[name] = value
    return fields


class _Disconnected(Exception):
    """The client went away before its body arrived."""


async def _receive_body(headers: list[tuple[bytes, bytes]], receive: Receive, limit: int) -> bytes:
    for key, value in headers:
        if key == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise BodyTooLarge(f"请求体过大: request body over {limit} bytes")
            break
    message = await receive()
    if message["type"] != "http.request":
        raise _Disconnected
    body: bytes = message.get("body", b"")
    if len(body) > limit:
        raise BodyTooLarge(f"请求体过大: request body over {limit} bytes")
    if not message.get("more_body", False):
        return body
    chunks, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"请求体过大: request body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


_JSON_HEADERS = (b"content-type", b"application/json")


class OpenAPIFastPath:
    """GET and POST on ``/openapi/...`` answered straight from ASGI, before Starlette's routing
    and request objects (which cost more than the call itself); everything else goes on to
    ``app``. The replies are those of :func:`openapi`, byte for byte."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "GET")
            or not scope["path"].startswith("/openapi/")
        ):
            await self.app(scope, receive, send)
            return
        emulator = self.emulator
        method: str = scope["method"]

        async def read_params() -> dict[str, str]:
            query: bytes = scope.get("query_string", b"")
            params = form_fields(query.decode("utf-8", "replace")) if query else {}
            if method != "POST":
                return params
            headers: list[tuple[bytes, bytes]] = scope["headers"]
            body = await _receive_body(headers, receive, emulator.config.max_body)
            content_type = b""
            for key, value in headers:
                if key == b"content-type":
                    content_type = value
                    break
            if content_type.startswith(b"multipart/form-data"):
                params.update(await multipart_fields(scope, body))
            elif content_type.startswith(b"application/json"):
                raise InvalidParameter("参数错误: JSON bodies are not supported; send form data")
            elif body:
                params.update(form_fields(body.decode("utf-8", "replace")))
            return params

        try:
            reply = await _respond(emulator, scope, method, scope["path"], read_params)
        except _Disconnected:
            return
        if not isinstance(reply, bytes):
            await reply(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(reply)).encode()), _JSON_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": reply})
