"""Transcode callbacks applied to the mirror at once: an ASGI app (Starlette) and a Django view."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from ..callbacks import SUCCESS_REPLY, parse_transcode_callback, verify_callback
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
BAD_REQUEST = 400

MAX_QID = 64
"""Longest ``qid`` the mirror records (``bjy_mirror_callbacks.qid``); a longer one is refused."""

INTEGER_FIELDS = (
    "video_id",
    "status",
    "room_id",
    "session_id",
    "version",
    "total_size",
    "total_transcode_size",
    "length",
)
"""Transcode callback fields that are integers: plain ASCII digits, nothing else (``1_000``,
`` 1 `` and ``+5`` are refused, as the service never sends them)."""


def _shown(qid: str) -> str:
    """A qid as logged: at most 16 characters of it."""
    return repr(qid if len(qid) <= 16 else qid[:16] + "…")


def _refused(fields: dict[str, str]) -> str | None:
    """Why a verified callback's fields cannot be applied as they are, or None."""
    qid = fields.get("qid", "")
    if len(qid) > MAX_QID:
        return f"callback qid is {len(qid)} characters; at most {MAX_QID}"
    for name in INTEGER_FIELDS:
        value = fields.get(name, "")
        if value and not (value.isascii() and value.isdigit()):
            return f"callback field {name!r}: not a plain integer: {value[:40]!r}"
    return None


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
            fields = verify_callback(body, self.partner_key, max_skew=self.max_skew)
            problem = _refused(fields)
            if problem is not None:
                log.warning("callback %s refused: %s", _shown(fields.get("qid", "")), problem)
                return BAD_REQUEST, {"code": 1, "msg": problem}
            callback = parse_transcode_callback(fields, self.partner_key, max_skew=self.max_skew)
        except CallbackVerificationError as exc:
            return BAD_REQUEST, {"code": 1, "msg": str(exc)}
        if not callback.is_playback:
            return 200, dict(SUCCESS_REPLY)  # a plain VOD upload: not a playback
        applied = callback.model_dump(exclude_none=True)
        for attempt in (1, 2):
            now = self._clock()
            try:
                with self.engine().begin() as conn:
                    conn.execute(
                        s.callbacks_seen.insert().values(
                            qid=callback.qid, received_at=now, payload=applied
                        )
                    )
                    apply_callback(conn, applied, partner_id=self.partner_id, now=now)
            except IntegrityError:
                if self._applied(callback.qid):
                    break  # a repeated delivery changes nothing
                if attempt == 1:
                    continue  # a sweep inserted the row meanwhile: apply to it
                return 503, {"code": 1, "msg": "mirror write conflict; send again"}
            except DataError as exc:  # a value the database cannot hold: sending again won't help
                problem = str(exc.orig or exc).splitlines()[0]
                log.warning("callback %s refused: %s", _shown(callback.qid), problem)
                return BAD_REQUEST, {
                    "code": 1,
                    "msg": f"callback does not fit the mirror: {problem}",
                }
            except SQLAlchemyError as exc:
                log.warning("callback %s not applied: %s", _shown(callback.qid), exc)
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
    ``{"code": 1, "msg": …}`` to a body that fails verification or cannot be applied as it is (a
    qid over 64 characters, an integer spelled other than in plain digits, a broken multipart
    body), HTTP 503 when the database is unavailable (send again), and HTTP 413 with code 1 to a body
    over ``max_body`` bytes (refused by its Content-Length, or as soon as that many bytes arrived).
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
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

            try:
                form = await Request(request.scope, replay).form()
            except HTTPException as exc:  # Starlette's words for a broken multipart body
                reply = {"code": 1, "msg": f"callback body is not valid multipart: {exc.detail}"}
                return JSONResponse(reply, status_code=BAD_REQUEST)
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
    from django.http.multipartparser import MultiPartParserError
    from django.views.decorators.csrf import csrf_exempt

    handler = CallbackHandler(partner_key, database_url, partner_id=partner_id, max_skew=max_skew)

    def view(request: HttpRequest) -> Any:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        declared = str(request.META.get("CONTENT_LENGTH") or "").strip()
        if declared.isdigit() and int(declared) > max_body:
            return JsonResponse(too_large(max_body), status=TOO_LARGE)
        body: bytes | dict[str, str] = request.body
        if (request.content_type or "").startswith("multipart/"):
            try:
                body = {k: str(v) for k, v in request.POST.items()}
            except MultiPartParserError as exc:
                reply = {"code": 1, "msg": f"callback body is not valid multipart: {exc}"}
                return JsonResponse(reply, status=BAD_REQUEST)
        status, reply = handler.handle(body)
        return JsonResponse(reply, status=status)

    exempt: Callable[..., Any] = csrf_exempt(view)
    exempt.handler = handler  # type: ignore[attr-defined]
    return exempt
