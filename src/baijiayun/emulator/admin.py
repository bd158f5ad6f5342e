"""The admin API under ``/_emulator/``: JSON over HTTP for the Emulator's Python admin methods."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .state import EmulatorError

if TYPE_CHECKING:
    from .app import Emulator

__all__ = ["routes"]

Action = Callable[["Emulator", dict[str, Any]], Any]


def _action(action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        emulator: Emulator = request.app.state.emulator
        body: dict[str, Any] = dict(request.path_params)
        raw = await request.body()
        if raw:
            try:
                loaded = json.loads(raw)
            except ValueError:
                return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
            if not isinstance(loaded, dict):
                return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
            body.update(loaded)
        body.update({k: int(v) if v.isdigit() else v for k, v in request.query_params.items()})
        try:
            result = action(emulator, body)
        except EmulatorError as error:
            return JSONResponse({"error": error.msg, "code": error.code}, status_code=400)
        except (TypeError, ValueError, KeyError) as error:
            return JSONResponse({"error": f"bad request: {error}"}, status_code=400)
        return JSONResponse({"ok": True, "result": result})

    return endpoint


def _fault(emu: Emulator, b: dict[str, Any]) -> Any:
    return emu.inject_fault(**b).to_dict()


def _reset(emu: Emulator, _b: dict[str, Any]) -> None:
    emu.reset()


def _clear_faults(emu: Emulator, _b: dict[str, Any]) -> None:
    emu.faults.clear()


ACTIONS: list[tuple[str, str, Action]] = [
    ("POST", "/_emulator/accounts", lambda emu, b: emu.create_account(**b)),
    ("GET", "/_emulator/accounts/{partner_id:int}", lambda emu, b: emu.account(b["partner_id"])),
    ("POST", "/_emulator/rooms", lambda emu, b: emu.create_room(**b)),
    ("POST", "/_emulator/rooms/{room_id:int}/delete", lambda emu, b: emu.delete_room(b["room_id"])),
    ("POST", "/_emulator/recordings", lambda emu, b: emu.create_recording(**b)),
    ("POST", "/_emulator/recordings/advance", lambda emu, b: emu.advance(**b)),
    ("POST", "/_emulator/recordings/finish", lambda emu, b: emu.finish_recording(**b)),
    ("POST", "/_emulator/crops", lambda emu, b: emu.create_crop(**b)),
    ("POST", "/_emulator/ppt", lambda emu, b: emu.add_ppt(**b)),
    (
        "GET",
        "/_emulator/rooms/{room_id:int}/playbacks",
        lambda emu, b: emu.state.playback_rows(
            b["room_id"], include_deleted=bool(b.get("include_deleted"))
        ),
    ),
    ("GET", "/_emulator/callbacks", lambda emu, _b: emu.deliveries()),
    ("POST", "/_emulator/faults", _fault),
    ("GET", "/_emulator/faults", lambda emu, _b: [f.to_dict() for f in emu.faults.rules()]),
    ("DELETE", "/_emulator/faults", _clear_faults),
    ("POST", "/_emulator/reset", _reset),
]


def routes() -> list[Route]:
    """The admin routes, to be mounted before the OpenAPI catch-all."""
    return [Route(path, _action(action), methods=[method]) for method, path, action in ACTIONS]
