"""The admin API under ``/_emulator/``: JSON over HTTP for the Emulator's Python admin methods."""

from __future__ import annotations

import hmac
import importlib.resources
import json
import logging
import math
import re
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .exceptions import EmulatorError
from .facade import Emulator
from .wire import BodyTooLarge, ClientGone, read_body

__all__ = ["AdminGuard", "routes"]

logger = logging.getLogger("baijiayun.emulator")

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class FieldError(ValueError):
    """An admin field breaks its rule (``field`` names it)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Field:
    """One admin field: its JSON type and limits."""

    kind: type
    max_length: int = 200
    minimum: int = 0
    maximum: int = INT64_MAX

    def check(self, name: str, value: Any) -> Any:
        """The value if it fits; ValueError naming the field if not."""
        if value is None:
            return None
        if self.kind is bool:
            if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
                return bool(value)
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"  # from a query string
            raise FieldError(name, f"{name} must be true or false")
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise FieldError(name, f"{name} must be an integer")
            if not self.minimum <= value <= self.maximum:
                raise FieldError(name, f"{name} must be from {self.minimum} to {self.maximum}")
            return value
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FieldError(name, f"{name} must be a number")
            if not math.isfinite(value) or abs(value) > 1e9:
                raise FieldError(name, f"{name} must be a finite number")
            return value
        if not isinstance(value, str):
            raise FieldError(name, f"{name} must be a string")
        if len(value) > self.max_length or "\x00" in value:
            raise FieldError(
                name, f"{name} must be a string of at most {self.max_length} characters"
            )
        return value


_ID, _TEXT, _FLAG = Field(int, minimum=1), Field(str), Field(bool)
_SMALL = Field(int, maximum=INT32_MAX)
_SESSION = {"session_id": Field(int)}
SCHEMAS: dict[str, dict[str, Field]] = {
    "account": {
        "partner_id": _ID,
        "partner_key": Field(str, 128),
        "secret_key": Field(str, 128),
        "private_domain": Field(str, 64),
    },
    "room": {
        "partner_id": _ID,
        "room_id": _ID,
        "title": _TEXT,
        "product_type": Field(int, minimum=1, maximum=INT32_MAX),
        "long_term": _FLAG,
    },
    "recording": {
        "room_id": _ID,
        "name": _TEXT,
        "status": _SMALL,
        "length": _SMALL,
        "create_time": Field(int),
        "auto": _FLAG,
        "fail": _FLAG,
        **_SESSION,
    },
    "advance": {"room_id": _ID, "status": _SMALL, **_SESSION},
    "finish": {"room_id": _ID, "fail": _FLAG, **_SESSION},
    "crop": {
        "room_id": _ID,
        "length": Field(int, minimum=1, maximum=INT32_MAX),
        "name": _TEXT,
        **_SESSION,
    },
    "ppt": {"room_id": _ID, "name": _TEXT, "date": Field(str, 10), **_SESSION},
    "fault": {
        "endpoint": Field(str, 100),
        "kind": Field(str, 16),
        "value": Field(float),
        "times": Field(int, minimum=1, maximum=INT32_MAX),
        "probability": Field(float),
    },
    "room_id": {"room_id": _ID},
    "partner_id": {"partner_id": _ID},
    "playbacks": {"room_id": _ID, "include_deleted": _FLAG},
    "none": {},
}


Origin = tuple[str, str, int]
"""An origin as browsers send it: (scheme, host name, port), the port made explicit."""
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CROSS_PAGE = frozenset({"cross-site", "same-site"})
"""Sec-Fetch-Site values of a request another page made (same-site: another port, say)."""


_NETLOC = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?")
"""``name[:port]`` as a Host header or an origin carries it: a DNS name or IPv4 address, or an
IPv6 address in brackets; nothing else (no user, path, query, ``#fragment`` or spaces)."""


def _host_port(netloc: str) -> tuple[str, int | None] | None:
    """``name[:port]`` (IPv6 names in brackets) as (lower-case name, port), None if malformed."""
    if _NETLOC.fullmatch(netloc.strip()) is None:
        return None
    try:
        parts = urlsplit("//" + netloc.strip())
        port = parts.port
    except ValueError:  # a port out of range, a bracket that is no IPv6 address
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower(), port


def _origin(value: str) -> Origin | None:
    """``scheme://name[:port]`` as an :data:`Origin`, None for ``null`` or anything else."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or parts.path or parts.query or parts.fragment:
        return None
    found = _host_port(parts.netloc)
    if found is None:
        return None
    name, port = found
    return scheme, name, _DEFAULT_PORTS[scheme] if port is None else port


def _unbracket(name: str) -> str:
    return name.lower().removeprefix("[").removesuffix("]")


class AdminGuard:
    """Who may call the admin API of a served emulator: a loopback or allowed ``Host`` (against
    DNS rebinding), no other page (a web page cannot reset the emulator or read keys), and the
    admin token when one is set.

    A request from a page carries ``Origin``; it must be the served origin, scheme, host and
    port alike (``http://localhost:8000`` for a server on port 8000: a page on another port,
    or ``null``, is foreign), or an allowed one. A request without ``Origin`` (curl, the SDK)
    passes unless ``Sec-Fetch-Site`` says another page made it.

    ``allowed`` (``--allowed-host``) entries: ``NAME`` is accepted as ``Host`` (on any port)
    and as the page origin ``http://NAME:<served port>``; ``NAME:PORT`` also allows pages on
    ``http://NAME:PORT`` (a published or proxied port); ``http[s]://NAME[:PORT]`` allows pages
    on exactly that origin.
    """

    def __init__(
        self, names: frozenset[str], port: int, token: str | None, origins: frozenset[Origin]
    ) -> None:
        self.names = frozenset(_unbracket(n) for n in LOOPBACK | names)
        self.origins = origins | {("http", name, port) for name in self.names}
        self.token = token

    @classmethod
    def for_server(
        cls, bind: str, port: int, allowed: tuple[str, ...] = (), token: str | None = None
    ) -> AdminGuard:
        """The guard of a server on ``bind:port`` (``bind`` is allowed unless a wildcard); an
        ``allowed`` entry that is no NAME, NAME:PORT or origin allows nothing (with a warning)."""
        names = {bind} if bind not in ("0.0.0.0", "::", "") else set()
        origins: set[Origin] = set()
        for entry in allowed:
            if "://" in entry:
                origin = _origin(entry.rstrip("/"))
                if origin is not None:
                    origins.add(origin)
                    names.add(origin[1])
                    continue
            else:
                found = _host_port(entry)
                if found is not None:
                    names.add(found[0])
                    if found[1] is not None:
                        origins.add(("http", found[0], found[1]))
                    continue
            message = (
                f"--allowed-host {entry!r} ignored: expected NAME, NAME:PORT or http://NAME:PORT"
            )
            logger.warning(message)
            print(f"WARNING: {message}", file=sys.stderr)
        return cls(frozenset(names), port, token, frozenset(origins))

    def refuse(self, request: Request) -> str | None:
        """Why this request is refused, or None."""
        why = self.refuse_origin(request)
        if why is None and self.token is not None:
            headers = request.headers
            scheme, _, given = headers.get("authorization", "").strip().partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), self.token.encode()
            ):
                return "admin token required (Authorization: Bearer TOKEN)"
        return why

    def refuse_origin(self, request: Request) -> str | None:
        """Why this request is refused by its ``Host``, ``Origin`` or ``Sec-Fetch-Site``
        (the admin token aside: the console checks its own cookie), or None."""
        headers = request.headers
        host = _host_port(headers.get("host", ""))
        if host is None or host[0] not in self.names:
            return "Host not allowed (use --allowed-host NAME)"
        origin = headers.get("origin")
        if origin is not None:
            if _origin(origin) not in self.origins:
                return (
                    f"cross-origin requests are not allowed: Origin {origin[:100]!r} is not "
                    "this server (--allowed-host NAME:PORT allows a page on http://NAME:PORT)"
                )
        elif headers.get("sec-fetch-site", "").strip().lower() in _CROSS_PAGE:
            return "cross-site requests are not allowed (Sec-Fetch-Site)"
        return None


Action = Callable[[Emulator, dict[str, Any]], Any]


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _bad(message: str, status: int = 400, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


async def _fields(request: Request, schema: Mapping[str, Field], limit: int) -> dict[str, Any]:
    """Query, then JSON body, then path parameters (the path wins), each checked by ``schema``."""
    body: dict[str, Any] = {}
    for key, raw in request.query_params.items():
        body[key] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else raw
    data = await read_body(request.scope, request.receive, limit)
    if data.strip():
        loaded = json.loads(data, parse_constant=_no_constants)
        if not isinstance(loaded, dict):
            raise ValueError("body must be a JSON object")
        body.update(loaded)
    body.update(request.path_params)
    checked = {}
    for key, value in body.items():
        field = schema.get(key)
        if field is None:
            raise KeyError(key)
        checked[key] = field.check(key, value)
    return {k: v for k, v in checked.items() if v is not None}


def _action(schema: str, action: Action) -> Callable[[Request], Awaitable[Response]]:
    fields = SCHEMAS[schema]

    async def endpoint(request: Request) -> Response:
        emulator: Emulator = request.app.state.emulator
        guard: AdminGuard | None = request.app.state.admin_guard
        if guard is not None:
            why = guard.refuse(request)
            if why is not None:
                return _bad(why, 403)
        try:
            body = await _fields(request, fields, emulator.config.max_body)
        except BodyTooLarge as error:
            return _bad(error.msg, 413)
        except ClientGone:
            return Response(status_code=400)  # nobody is left to read it
        except KeyError as error:
            return _bad(f"unknown field {error.args[0]!r}", field=str(error.args[0]))
        except FieldError as error:
            return _bad(f"bad request: {error}", field=error.field)
        except (ValueError, RecursionError) as error:
            return _bad(f"bad request: {error}")
        try:
            result = await emulator.db.run(action, emulator, body)
        except EmulatorError as error:
            field = getattr(error, "param", None)
            payload: dict[str, Any] = {"error": error.msg, "code": error.code}
            if field:
                payload["field"] = field
            return JSONResponse(payload, status_code=400)
        except (TypeError, ValueError, KeyError) as error:
            return _bad(f"bad request: {error}")
        except Exception:
            logger.exception("emulator: unexpected error on %s", request.url.path)
            return _bad("internal error (logged)", 500)
        return JSONResponse({"ok": True, "result": result})

    return endpoint


def _fault(emu: Emulator, b: dict[str, Any]) -> Any:
    return emu.inject_fault(**b).to_dict()


def _reset(emu: Emulator, _b: dict[str, Any]) -> None:
    emu.reset()


def _clear_faults(emu: Emulator, _b: dict[str, Any]) -> None:
    emu.clear_faults()


ACTIONS: list[tuple[str, str, str, Action]] = [
    ("POST", "/_emulator/accounts", "account", lambda emu, b: emu.create_account(**b)),
    (
        "GET",
        "/_emulator/accounts/{partner_id:int}",
        "partner_id",
        lambda emu, b: emu.account(b["partner_id"]),
    ),
    ("POST", "/_emulator/rooms", "room", lambda emu, b: emu.create_room(**b)),
    (
        "POST",
        "/_emulator/rooms/{room_id:int}/delete",
        "room_id",
        lambda emu, b: emu.delete_room(b["room_id"]),
    ),
    ("POST", "/_emulator/recordings", "recording", lambda emu, b: emu.create_recording(**b)),
    ("POST", "/_emulator/recordings/advance", "advance", lambda emu, b: emu.advance(**b)),
    ("POST", "/_emulator/recordings/finish", "finish", lambda emu, b: emu.finish_recording(**b)),
    ("POST", "/_emulator/crops", "crop", lambda emu, b: emu.create_crop(**b)),
    ("POST", "/_emulator/ppt", "ppt", lambda emu, b: emu.add_ppt(**b)),
    (
        "GET",
        "/_emulator/rooms/{room_id:int}/playbacks",
        "playbacks",
        lambda emu, b: emu.playback_rows(
            b["room_id"], include_deleted=bool(b.get("include_deleted"))
        ),
    ),
    ("GET", "/_emulator/callbacks", "none", lambda emu, _b: emu.deliveries()),
    ("GET", "/_emulator/stats", "none", lambda emu, _b: emu.stats()),
    ("POST", "/_emulator/faults", "fault", _fault),
    ("GET", "/_emulator/faults", "none", lambda emu, _b: [f.to_dict() for f in emu.fault_rules()]),
    ("DELETE", "/_emulator/faults", "none", _clear_faults),
    ("POST", "/_emulator/reset", "none", _reset),
]


OPENAPI_JSON = "/_emulator/openapi.json"


async def openapi_document(_request: Request) -> Response:
    """The OpenAPI document shipped in the package, byte for byte (generated by
    ``scripts/openapi.py``; the emulator imports no SDK model to serve it). Public like the
    document itself: no guard, no secret in it."""
    body = importlib.resources.files("baijiayun").joinpath("openapi.json").read_bytes()
    return Response(body, media_type="application/json")


def routes() -> list[Route]:
    """The admin routes, to be mounted before the OpenAPI catch-all."""
    return [
        *(
            Route(path, _action(schema, action), methods=[method])
            for method, path, schema, action in ACTIONS
        ),
        Route(OPENAPI_JSON, openapi_document, methods=["GET"]),
    ]
