"""``create_app``: the emulator's ASGI app (the OpenAPI, the admin API, the console and the player page)."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import admin, admin_views, player
from .admin import AdminGuard
from .console import Console
from .exceptions import EmulatorError
from .facade import Emulator, EmulatorConfig
from .openapi import INTERNAL_ERROR, OpenAPI
from .wire import Reply, envelope_bytes, send_reply

__all__ = ["Emulator", "EmulatorApp", "EmulatorConfig", "EmulatorError", "create_app"]

logger = logging.getLogger("baijiayun.emulator")

ADMIN_PREFIX = "/_emulator/"
PLAYER_PATH = "/web/playback/index"
# the player page and what it loads: answered by Starlette's routing, not as OpenAPI calls
PAGE_PATHS = frozenset({PLAYER_PATH, player.VIDEO_PATH, player.BEACON_PATH})


class LastResort:
    """Whatever escapes an admin or player handler before its reply started becomes an
    envelope with a non-zero code (logged), so the keep-alive connection survives."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:
                raise
            logger.exception("emulator: unhandled error on %s", scope.get("path"))
            await send_reply(send, Reply(envelope_bytes(INTERNAL_ERROR, "服务器内部错误", None, 0)))


class EmulatorApp:
    """The emulator over ASGI. A request under ``/_emulator/`` or for the player page (its video
    and beacons included) goes to
    Starlette's routing (the admin API, the page); every other request is an OpenAPI call,
    answered straight from ASGI by :class:`~baijiayun.emulator.openapi.OpenAPI` (an unknown
    path or method gets the envelope with code 404 or 405, as the service answers)."""

    def __init__(self, emulator: Emulator, admin_guard: AdminGuard | None = None) -> None:
        self.emulator = emulator
        self.openapi = OpenAPI(emulator)
        self.pages = Starlette(
            routes=[
                *admin.routes(),
                *admin_views.routes(),
                *Console(emulator, admin_guard).routes(),
                Route(PLAYER_PATH, player.player_page, methods=["GET"]),
                Route(player.VIDEO_PATH, player.test_video, methods=["GET", "HEAD"]),
                Route(player.BEACON_PATH, player.beacon, methods=["GET", "POST"]),
                # an admin path or method that does not exist: the OpenAPI's 404 or 405
                Route("/{path:path}", self.openapi),
            ],
            middleware=[Middleware(LastResort)],
        )
        # what no route matches (the catch-all's pattern stops at a newline): the OpenAPI's 404
        self.pages.router.default = self.openapi
        self.pages.state.emulator = emulator
        self.pages.state.admin_guard = admin_guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if not path.startswith(ADMIN_PREFIX) and path not in PAGE_PATHS:
                await self.openapi(scope, receive, send)
                return
        await self.pages(scope, receive, send)


def create_app(
    emulator: Emulator | None = None, *, admin_guard: AdminGuard | None = None
) -> EmulatorApp:
    """The ASGI app of an emulator (a fresh in-memory one if none is given).

    ``admin_guard`` protects the admin API of a server on a port (``server.py`` passes one);
    in-process use (tests, the pytest plugin) needs none.
    """
    return EmulatorApp(emulator or Emulator(), admin_guard)
