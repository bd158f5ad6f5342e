"""The admin API's ``POST /_emulator/views``: synthetic play records in bulk (a JSON list)."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .admin import AdminGuard
from .exceptions import EmulatorError
from .facade import Emulator
from .handlers import BodyTooLarge, read_body

__all__ = ["add_views", "routes"]

logger = logging.getLogger("baijiayun.emulator")


def _bad(message: str, status: int = 400, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


async def add_views(request: Request) -> Response:
    """Add the posted records (``[{room_id, play_begin_time, ...}, ...]``, or ``{"records":
    [...]}``) with :meth:`Emulator.add_views`; answer ``{"ok", "result": {"added", "guids"}}``
    or 400 naming the first bad field (``[i].field``). Guarded like every admin route."""
    emulator: Emulator = request.app.state.emulator
    guard: AdminGuard | None = request.app.state.admin_guard
    if guard is not None:
        why = guard.refuse(request)
        if why is not None:
            return _bad(why, 403)
    try:
        body = await read_body(request, emulator.config.max_body)
        loaded = json.loads(body, parse_constant=_no_constants) if body.strip() else None
    except BodyTooLarge as error:
        return _bad(error.msg, 413)
    except (ValueError, RecursionError) as error:
        return _bad(f"bad request: body must be a JSON list of records ({error})")
    if isinstance(loaded, dict) and set(loaded) == {"records"}:
        loaded = loaded["records"]
    if not isinstance(loaded, list):
        return _bad("bad request: body must be a JSON list of records")
    try:
        added = await emulator.db.run(emulator.add_views, loaded)
    except EmulatorError as error:
        payload: dict[str, Any] = {"error": error.msg, "code": error.code}
        field = getattr(error, "param", None)
        if field:
            payload["field"] = field
        return JSONResponse(payload, status_code=400)
    except Exception:
        logger.exception("emulator: unexpected error on %s", request.url.path)
        return _bad("internal error (logged)", 500)
    result = {"added": len(added), "guids": [r["guid"] for r in added]}
    return JSONResponse({"ok": True, "result": result})


def routes() -> list[Route]:
    """The play-record admin routes, to be mounted before the OpenAPI catch-all."""
    return [Route("/_emulator/views", add_views, methods=["POST"])]
