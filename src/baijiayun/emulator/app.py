"""``create_app``: the emulator's ASGI app (admin API, player page, OpenAPI catch-all)."""

from __future__ import annotations

import json
import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import admin, admin_views, handlers, player
from .admin import AdminGuard
from .exceptions import EmulatorError
from .facade import Emulator, EmulatorConfig

__all__ = ["Emulator", "EmulatorConfig", "EmulatorError", "create_app"]

logger = logging.getLogger("baijiayun.emulator")


class LastResort:
    """Whatever escapes a handler before its reply started becomes an envelope with a non-zero
    code (logged), so the keep-alive connection survives; after the start it propagates (that is
    how the injected ``drop`` fault breaks a connection)."""

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
            body = {"code": handlers.INTERNAL_ERROR, "msg": "服务器内部错误", "data": None, "ts": 0}
            await Response(json.dumps(body, ensure_ascii=False), media_type="application/json")(
                scope, receive, send
            )


def create_app(
    emulator: Emulator | None = None, *, admin_guard: AdminGuard | None = None
) -> Starlette:
    """The ASGI app of an emulator (a fresh in-memory one if none is given).

    ``admin_guard`` protects the admin API of a server on a port (``server.py`` passes one);
    in-process use (tests, the pytest plugin) needs none.
    """
    emulator = emulator or Emulator()
    app = Starlette(
        routes=[
            # first: every OpenAPI call would otherwise be matched against each admin route
            Route("/openapi/{path:path}", handlers.openapi, methods=["GET", "POST"]),
            *admin.routes(),
            *admin_views.routes(),
            Route("/web/playback/index", player.player_page, methods=["GET"]),
            Route(player.VIDEO_PATH, player.test_video, methods=["GET", "HEAD"]),
            Route(player.BEACON_PATH, player.beacon, methods=["GET", "POST"]),
            Route("/{path:path}", handlers.openapi, methods=handlers.ANY_METHOD),
        ],
        # the fast path first: OpenAPI calls skip the routing and request objects below it
        middleware=[
            Middleware(handlers.OpenAPIFastPath, emulator=emulator),
            Middleware(LastResort),
        ],
    )
    app.state.emulator = emulator
    app.state.admin_guard = admin_guard
    return app
