"""The HTTP wire under the OpenAPI and admin API: the envelope, reading bodies, parsing forms, replying."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from .exceptions import EmulatorError, InvalidParameter

__all__ = [
    "BodyTooLarge",
    "ClientGone",
    "Dropped",
    "Reply",
    "envelope_bytes",
    "form_fields",
    "header",
    "multipart_fields",
    "public_url_of",
    "read_body",
    "read_params",
    "send_reply",
]

TOO_LARGE = 413
_JSON = json.JSONEncoder(ensure_ascii=False)
_JSON_TYPE = b"application/json"


def envelope_bytes(code: int, msg: str, data: Any, ts: int) -> bytes:
    """BaijiaYun's reply body, ``{"code", "msg", "data", "ts"}`` as UTF-8 JSON."""
    envelope = {"code": code, "msg": msg, "data": data, "ts": ts}
    try:
        return orjson.dumps(envelope, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: the standard library writes it
        return _JSON.encode(envelope).encode()


class BodyTooLarge(EmulatorError):
    """The request body is larger than the configured limit (docs/protocol.md#decisions: HTTP 413, 1001)."""

    code = 1001
    http_status = TOO_LARGE


class ClientGone(Exception):
    """The client went away before its body arrived: nobody to answer, nothing to log."""


class Dropped(ConnectionResetError):
    """An injected ``drop`` fault broke the connection mid-reply (on purpose, not a crash)."""


@dataclass(frozen=True)
class Reply:
    """An answer other than a plain 200 envelope: another status, another content type, or
    (``drop``) a body announced and cut short."""

    body: bytes
    status: int = 200
    content_type: bytes = _JSON_TYPE
    drop: bool = False


def header(scope: Scope, name: bytes) -> bytes:
    """The first value of a (lower-case) request header, or b""."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, refused (BodyTooLarge) as soon as it passes ``limit`` bytes, before it is
    read when Content-Length says so already; ClientGone if the client leaves mid-body."""
    return await _receive_body(receive, limit, header(scope, b"content-length"))


async def _receive_body(receive: Receive, limit: int, declared: bytes) -> bytes:
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"请求体过大: request body over {limit} bytes")
    message = await receive()
    if message["type"] != "http.request":
        raise ClientGone
    body: bytes = message.get("body", b"")
    if len(body) > limit:
        raise BodyTooLarge(f"请求体过大: request body over {limit} bytes")
    if not message.get("more_body", False):
        return body
    chunks, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"请求体过大: request body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


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


async def multipart_fields(scope: Scope, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data ``body`` (file parts are ignored).

    A Content-Type without a boundary, or a body the form parser rejects, is the caller's
    mistake: InvalidParameter (1001) naming it, never an unexpected error.
    """
    request = Request(scope)
    parsed_header = Message()
    parsed_header["content-type"] = request.headers.get("content-type", "")
    if not parsed_header.get_param("boundary"):
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


async def read_params(scope: Scope, receive: Receive, limit: int) -> dict[str, str]:
    """A call's parameters: the query string, then (POST) the urlencoded or multipart body."""
    query: bytes = scope.get("query_string", b"")
    params = form_fields(query.decode("utf-8", "replace")) if query else {}
    if scope["method"] != "POST":
        return params
    declared = content_type = b""
    for key, value in scope["headers"]:
        if key == b"content-length":
            declared = value
        elif key == b"content-type":
            content_type = value
    body = await _receive_body(receive, limit, declared)
    if content_type.startswith(b"multipart/form-data"):
        params.update(await multipart_fields(scope, body))
    elif content_type.startswith(b"application/json"):
        raise InvalidParameter("参数错误: JSON bodies are not supported; send form data")
    elif body:
        params.update(form_fields(body.decode("utf-8", "replace")))
    return params


def public_url_of(scope: Scope, configured: str | None) -> str:
    """Where play_url points: ``configured`` (``--public-url``), else the address the server
    listens on (never the request's Host)."""
    if configured:
        return configured.rstrip("/")
    scheme = scope.get("scheme", "http")
    server = scope.get("server")
    if not server:
        return f"{scheme}://localhost"
    host, port = server[0], server[1]
    if ":" in str(host):
        host = f"[{host}]"
    default = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    return f"{scheme}://{host}" if default or port is None else f"{scheme}://{host}:{port}"


async def send_reply(send: Send, reply: bytes | Reply) -> None:
    """Send an answer: ``bytes`` are a 200 JSON envelope. A ``drop`` reply announces 1000 bytes,
    sends a few and raises :class:`Dropped`, which breaks the connection."""
    if isinstance(reply, bytes):
        body, status, content_type = reply, 200, _JSON_TYPE
    else:
        body, status, content_type = reply.body, reply.status, reply.content_type
        if reply.drop:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": body, "more_body": True})
            raise Dropped("connection dropped by an injected fault")
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
