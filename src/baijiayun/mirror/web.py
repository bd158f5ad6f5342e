"""Transcode callbacks applied to the mirror at once: an ASGI app (Starlette) and a Django view."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..callbacks import SUCCESS_REPLY, parse_transcode_callback
from ..errors import CallbackVerificationError
from . import schema as s
from .store import apply_callback

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["MAX_BODY", "CallbackHandler", "callback_app", "django_view"]

log = logging.getLogger("baijiayun.mirror")

MAX_BODY = 1024 * 1024
"""Largest callback body accepted, in bytes; a real transcode callback is well under 1 KiB."""

TOO_LARGE = 413


def too_large(limit: int) -> dict[str, Any]:
    """The reply to a body over ``limit`` bytes: not ``{"code": 0}``, so BaijiaYun counts it as
    refused."""
    return {"code": 1, "msg": f"callback body over {limit} bytes"}


class CallbackHandler:
    """Verify a transcode callback and apply it to the mirror; framework-free.

    :param partner_key: 账号的 partner_key (verifies the callback's sign)
    :param database_url: 镜像数据库地址 (the mirror's database)
    :param partner_id: 账号 id (the account whose mirror this is: rows a callback creates are its)
    """

    def __init__(
        self,
        partner_key: str,
        database_url: str = s.DEFAULT_DATABASE,
        *,
        partner_id: int,
        max_skew: int | None = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partner_key = partner_key
        self.database_url = database_url
        self.partner_id = partner_id
        self.max_skew = max_skew
        self._clock = clock
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        """The mirror's engine, made (and its tables created) on the first callback."""
        with self._lock:
            if self._engine is None:
                self._engine = s.open_engine(self.database_url)
            return self._engine

    def close(self) -> None:
        """Release the database connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def handle(self, body: bytes | Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON reply for one callback: its raw form body or its fields."""
        try:
            callback = parse_transcode_callback(body, self.partner_key, max_skew=self.max_skew)
        except CallbackVerificationError as exc:
            return 400, {"code": 1, "msg": str(exc)}
        if not callback.is_playback:
            return 200, dict(SUCCESS_REPLY)  # a plain VOD upload: not a playback
        fields = callback.model_dump(exclude_none=True)
        for attempt in (1, 2):
            now = self._clock()
            try:
                with self.engine().begin() as conn:
                    conn.execute(
                        s.callbacks_seen.insert().values(
                            qid=callback.qid, received_at=now, payload=fields
                        )
                    )
                    apply_callback(conn, fields, partner_id=self.partner_id, now=now)
            except IntegrityError:
                if self._applied(callback.qid):
                    break  # a repeated delivery changes nothing
                if attempt == 1:
                    continue  # a sweep inserted the row meanwhile: apply to it
                return 503, {"code": 1, "msg": "mirror write conflict; send again"}
            except SQLAlchemyError as exc:
                log.warning("callback %s not applied: %s", callback.qid, exc)
                return 503, {"code": 1, "msg": "mirror database unavailable; send again"}
            break
        return 200, dict(SUCCESS_REPLY)

    def _applied(self, qid: str) -> bool:
        with self.engine().connect() as conn:
            found = conn.execute(
                select(s.callbacks_seen.c.qid).where(s.callbacks_seen.c.qid == qid)
            ).first()
        return found is not None


def callback_app(
    partner_key: str,
    database_url: str = s.DEFAULT_DATABASE,
    *,
    partner_id: int,
    max_skew: int | None = 300,
    max_body: int = MAX_BODY,
) -> Starlette:
    """An ASGI app that applies BaijiaYun's transcode callbacks to the mirror (POST at its root).

    Mount it in FastAPI or Starlette (``app.mount("/bjy/callback", callback_app(...))``). It
    answers ``{"code": 0}`` once a callback is applied (or was already), HTTP 400 with
    ``{"code": 1, "msg": …}`` to a body that fails verification, and HTTP 413 with code 1 to a body
    over ``max_body`` bytes (refused by its Content-Length, or as soon as that many bytes arrived).
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    handler = CallbackHandler(partner_key, database_url, partner_id=partner_id, max_skew=max_skew)

    async def read_body(request: Request) -> bytes | None:
        """The body, or None as soon as it is known to be over ``max_body``."""
        declared = request.headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def receive(request: Request) -> JSONResponse:
        raw = await read_body(request)
        if raw is None:
            return JSONResponse(too_large(max_body), status_code=TOO_LARGE)
        body: bytes | Mapping[str, str] = raw
        if request.headers.get("content-type", "").startswith("multipart/"):

            async def replay() -> dict[str, Any]:
                return {"type": "http.request", "body": raw, "more_body": False}

            form = await Request(request.scope, replay).form()
            body = {k: str(v) for k, v in form.items()}
        status, reply = await run_in_threadpool(handler.handle, body)
        return JSONResponse(reply, status_code=status)

    app = Starlette(routes=[Route("/", receive, methods=["POST"])])
    app.state.handler = handler
    return app


def django_view(
    partner_key: str,
    database_url: str = s.DEFAULT_DATABASE,
    *,
    partner_id: int,
    max_skew: int | None = 300,
    max_body: int = MAX_BODY,
) -> Callable[..., Any]:
    """A Django view (CSRF-exempt, POST only) that applies transcode callbacks to the mirror.

    ``path("bjy/callback", django_view(partner_key=…, partner_id=…, database_url=…))`` in your urls.py. A body
    whose Content-Length is over ``max_body`` bytes gets HTTP 413 with code 1, unread.
    """
    from django.http import HttpRequest, HttpResponseNotAllowed, JsonResponse
    from django.views.decorators.csrf import csrf_exempt

    handler = CallbackHandler(partner_key, database_url, partner_id=partner_id, max_skew=max_skew)

    def view(request: HttpRequest) -> Any:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        declared = str(request.META.get("CONTENT_LENGTH") or "").strip()
        if declared.isdigit() and int(declared) > max_body:
            return JsonResponse(too_large(max_body), status=TOO_LARGE)
        multipart = (request.content_type or "").startswith("multipart/")
        body = {k: str(v) for k, v in request.POST.items()} if multipart else request.body
        status, reply = handler.handle(body)
        return JsonResponse(reply, status=status)

    exempt: Callable[..., Any] = csrf_exempt(view)
    exempt.handler = handler  # type: ignore[attr-defined]
    return exempt
