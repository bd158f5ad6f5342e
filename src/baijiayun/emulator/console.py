"""The emulator's console under ``/_emulator/console``: server-rendered pages to see and steer it."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..player import player_url
from .admin import AdminGuard
from .backends.console import (
    CHART_DAYS,
    INT64_MAX,
    Catalog,
    ConsoleBackend,
    Cursor,
    beijing_time,
)
from .chart import views_per_day
from .exceptions import EmulatorError
from .facade import Emulator
from .faults import FAULT_KINDS
from .stats import OUTCOMES
from .wire import BodyTooLarge, ClientGone, form_fields, read_body

__all__ = [
    "CONSOLE_PATH",
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "Console",
    "route_pairs",
    "session_value",
]

logger = logging.getLogger("baijiayun.emulator")

CONSOLE_PATH = "/_emulator/console"
SESSION_COOKIE = "bjy_console"
"""Set by the login form when ``--admin-token`` is on: an HMAC of the token (any worker checks
it without state), HttpOnly, SameSite=Strict, for the console's path only."""
CSRF_COOKIE = "bjy_console_csrf"
"""A random value; every form carries an HMAC of it, checked on every POST (with the Origin)."""
TEMPLATES = Path(__file__).parent / "templates" / "console"
STATIC = Path(__file__).parent / "static" / "console"
TOKEN_SECONDS = 3600
"""How long the player token of a console "play" link lives."""
_MAX_FIELD = 200

STATUS_NAMES = {
    0: "未录制 not recorded",
    10: "录制中 recording",
    20: "转码中 transcoding",
    30: "转码失败 failed",
    100: "已生成 ready",
}
PUBLISH_NAMES = {1: "已发布 published", 2: "已屏蔽 blocked"}
PRODUCT_NAMES = {1: "1 教育直播", 2: "2 小班课", 3: "3 双师", 4: "4 企业直播"}
_SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def session_value(token: str) -> str:
    """The session cookie's value for an admin token: the same on every worker and host."""
    return hmac.new(
        token.encode(), b"baijiayun emulator console session", hashlib.sha256
    ).hexdigest()


def _csrf_for(token: str | None, seed: str) -> str:
    key = (token or "").encode()
    return hmac.new(key, b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()


def mask(key: str) -> str:
    """A key with all but its first and last 4 characters hidden."""
    return key[:4] + "•" * 8 + key[-4:] if len(key) > 8 else "•" * len(key)


class Refused(Exception):
    """A console request is refused: ``status`` and a reason shown on the page."""

    def __init__(self, status: int, why: str) -> None:
        self.status = status
        self.why = why
        super().__init__(why)


@dataclass
class Visit:
    """One console request: its CSRF seed (new or from the cookie) and, for a POST, its form."""

    request: Request
    seed: str
    new_seed: bool
    csrf: str
    form: dict[str, str] = field(default_factory=dict)

    def field(self, name: str, *, required: bool = False, limit: int = _MAX_FIELD) -> str:
        """A text field of the form, checked for length and NUL."""
        value = self.form.get(name, "").strip()
        if required and not value:
            raise Refused(400, f"{name} is required")
        if len(value) > limit or "\x00" in value:
            raise Refused(400, f"{name} must be at most {limit} characters")
        return value

    def number(
        self, name: str, *, low: int = 0, high: int = INT64_MAX, required: bool = False
    ) -> int | None:
        """An integer field of the form (None when blank and not required)."""
        raw = self.field(name, required=required, limit=20)
        if not raw:
            return None
        if not raw.isascii() or not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
            raise Refused(400, f"{name} must be an integer from {low} to {high}, got {raw!r}")
        return int(raw)

    def real(self, name: str, *, low: float, high: float) -> float | None:
        """A number field of the form (None when blank)."""
        raw = self.field(name, limit=30)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise Refused(400, f"{name} must be a number, got {raw!r}") from None
        if not low <= value <= high:  # NaN fails this too
            raise Refused(400, f"{name} must be a number from {low:g} to {high:g}, got {raw!r}")
        return value


def _choice(raw: str | None, allowed: dict[int, str], name: str, errors: list[str]) -> int | None:
    """A filter value from the query string: one of ``allowed``, None when blank."""
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and int(raw) in allowed:
        return int(raw)
    errors.append(f"{name} must be one of {', '.join(map(str, allowed))}; got {raw[:20]!r}")
    return None


def _cursor(raw: str | None, name: str, errors: list[str]) -> Cursor | None:
    """``TIME.ID`` from the query string."""
    if not raw:
        return None
    when, _, ident = raw.partition(".")
    digits = when.isascii() and ident.isascii() and when.isdigit() and ident.isdigit()
    if digits and len(when) < 19 and len(ident) < 19:
        return int(when), int(ident)
    errors.append(f"{name} must be TIME.ID (as the page's links make it); got {raw[:40]!r}")
    return None


def _back(path: str, **message: str) -> Response:
    """Redirect (303) to a console page, with a note or error shown there."""
    query = urlencode({k: v[:300] for k, v in message.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


Handler = Callable[[Visit], Awaitable[Response]]


class Console:
    """The console of one emulator: its routes, templates and the checks every request passes.

    ``guard`` (a served emulator's) applies the admin API's ``Host``/``Origin`` rules; with an
    admin token the pages want the session cookie the login form sets. Every POST carries a
    CSRF token (an HMAC of the CSRF cookie). Reads and actions go straight to the emulator's
    backend, off the OpenAPI path: they count in no statistics and no rate limit.
    """

    def __init__(self, emulator: Emulator, guard: AdminGuard | None) -> None:
        self.emulator = emulator
        self.guard = guard
        self.reads = ConsoleBackend(emulator.db)
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = lambda seconds: beijing_time(seconds) if seconds else "—"
        self.env.filters["masked"] = mask
        self.env.globals.update(
            base=CONSOLE_PATH,
            STATUS_NAMES=STATUS_NAMES,
            PUBLISH_NAMES=PUBLISH_NAMES,
            PRODUCT_NAMES=PRODUCT_NAMES,
            FAULT_KINDS=FAULT_KINDS,
            OUTCOMES=OUTCOMES,
            login=self.token is not None,
        )

    @property
    def token(self) -> str | None:
        """The admin token, when the console wants a login."""
        return self.guard.token if self.guard is not None else None

    # -- the checks -----------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """The console's routes (pages, actions, static files), before the OpenAPI catch-all."""
        c = CONSOLE_PATH
        play = f"{c}/playbacks/{{room_id:int}}/{{session_id:int}}"
        get, post = self._get, self._post
        return [
            Route(c, get(self.accounts_page, "accounts"), methods=["GET"]),
            Route(f"{c}/", get(self.accounts_page, "accounts"), methods=["GET"]),
            Route(f"{c}/login", self.login_page, methods=["GET"]),
            Route(f"{c}/login", self.login, methods=["POST"]),
            Route(f"{c}/logout", post(self.logout), methods=["POST"]),
            Route(f"{c}/accounts/{{partner_id:int}}/meter", get(self.meter), methods=["GET"]),
            Route(f"{c}/accounts/{{partner_id:int}}/key", get(self.reveal_key), methods=["GET"]),
            Route(f"{c}/accounts/{{partner_id:int}}/rotate", post(self.rotate), methods=["POST"]),
            Route(f"{c}/playbacks", get(self.playbacks_page, "playbacks"), methods=["GET"]),
            Route(play, get(self.playback_page, "playbacks"), methods=["GET"]),
            Route(f"{play}/{{action:str}}", post(self.playback_action), methods=["POST"]),
            Route(f"{c}/callbacks", get(self.callbacks_page, "callbacks"), methods=["GET"]),
            Route(
                f"{c}/callbacks/{{delivery_id:int}}/redeliver",
                post(self.redeliver),
                methods=["POST"],
            ),
            Route(f"{c}/faults", get(self.faults_page, "faults"), methods=["GET"]),
            Route(f"{c}/faults", post(self.add_fault), methods=["POST"]),
            Route(f"{c}/faults/clear", post(self.clear_faults), methods=["POST"]),
            Route(f"{c}/calls", get(self.calls_page, "calls"), methods=["GET"]),
            Mount(f"{c}/static", StaticFiles(directory=STATIC), name="console-static"),
        ]

    def _origin_refused(self, request: Request) -> str | None:
        return None if self.guard is None else self.guard.refuse_origin(request)

    def _logged_in(self, request: Request) -> bool:
        token = self.token
        if token is None:
            return True
        given = request.cookies.get(SESSION_COOKIE, "")
        return hmac.compare_digest(given.encode(), session_value(token).encode())

    def _visit(self, request: Request) -> Visit:
        seed = request.cookies.get(CSRF_COOKIE, "")
        fresh = not (len(seed) == 32 and seed.isalnum() and seed.isascii())
        if fresh:
            seed = secrets.token_hex(16)
        return Visit(request, seed, fresh, _csrf_for(self.token, seed))

    def _finish(self, visit: Visit, response: Response) -> Response:
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if visit.new_seed:
            response.set_cookie(
                CSRF_COOKIE, visit.seed, path=CONSOLE_PATH, httponly=True, samesite="strict"
            )
        return response

    def _refused(self, visit: Visit | None, status: int, why: str) -> Response:
        page = self.env.get_template("refused.html").render(
            status=status, why=why, page="", csrf=visit.csrf if visit else "", note="", error=""
        )
        response = HTMLResponse(page, status_code=status)
        return self._finish(visit, response) if visit else response

    def _get(self, handler: Handler, page: str = "") -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            why = self._origin_refused(request)
            if why is not None:
                return self._refused(None, 403, why)
            visit = self._visit(request)
            if not self._logged_in(request):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return self._finish(visit, _back(f"{CONSOLE_PATH}/login", next=target))
            try:
                response = await handler(visit)
            except Refused as refused:
                return self._refused(visit, refused.status, refused.why)
            return self._finish(visit, response)

        return endpoint

    async def _read_form(self, visit: Visit) -> None:
        request = visit.request
        try:
            body = await read_body(request.scope, request.receive, self.emulator.config.max_body)
        except BodyTooLarge as error:
            raise Refused(413, error.msg) from None
        except ClientGone:
            raise Refused(400, "the request body did not arrive") from None
        visit.form = form_fields(body.decode("utf-8", "replace"))

    def _post(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            why = self._origin_refused(request)
            if why is not None:
                return self._refused(None, 403, why)
            visit = self._visit(request)
            if not self._logged_in(request):
                return self._refused(visit, 403, "log in first (the console wants the admin token)")
            try:
                await self._read_form(visit)
                given = visit.form.get("csrf", "")
                if visit.new_seed or not hmac.compare_digest(given.encode(), visit.csrf.encode()):
                    raise Refused(403, "CSRF check failed: reload the page and try again")
                response = await handler(visit)
            except Refused as refused:
                return self._refused(visit, refused.status, refused.why)
            return self._finish(visit, response)

        return endpoint

    def render(self, visit: Visit, template: str, page: str, **values: Any) -> Response:
        """A page: ``template`` with the CSRF token, the current page and the note or error the
        last action left (from the query string)."""
        query = visit.request.query_params
        html = self.env.get_template(template).render(
            csrf=visit.csrf,
            page=page,
            note=query.get("note", "")[:300],
            error=query.get("error", "")[:300],
            **values,
        )
        return HTMLResponse(html)

    async def _run(self, work: Callable[..., Any], *args: Any) -> Any:
        return await self.emulator.db.run(work, *args)

    # -- login --------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        """The login form (only when the console wants the admin token)."""
        why = self._origin_refused(request)
        if why is not None:
            return self._refused(None, 403, why)
        visit = self._visit(request)
        if self.token is None:
            return self._finish(visit, _back(CONSOLE_PATH))
        target = request.query_params.get("next", "")
        return self._finish(
            visit, self.render(visit, "login.html", "login", next=_safe_next(target))
        )

    async def login(self, request: Request) -> Response:
        """Check the admin token; set the session cookie and go on, or show the form again."""
        why = self._origin_refused(request)
        if why is not None:
            return self._refused(None, 403, why)
        visit = self._visit(request)
        try:
            await self._read_form(visit)
        except Refused as refused:
            return self._refused(visit, refused.status, refused.why)
        given = visit.form.get("csrf", "")
        if visit.new_seed or not hmac.compare_digest(given.encode(), visit.csrf.encode()):
            return self._refused(visit, 403, "CSRF check failed: reload the page and try again")
        token = self.token
        target = _safe_next(visit.form.get("next", ""))
        if token is None:
            return self._finish(visit, _back(target))
        if not hmac.compare_digest(visit.form.get("token", "").encode(), token.encode()):
            return self._finish(
                visit, _back(f"{CONSOLE_PATH}/login", error="wrong admin token", next=target)
            )
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_value(token),
            path=CONSOLE_PATH,
            httponly=True,
            samesite="strict",
        )
        return self._finish(visit, response)

    async def logout(self, visit: Visit) -> Response:
        """Forget the session cookie."""
        response = _back(f"{CONSOLE_PATH}/login" if self.token else CONSOLE_PATH)
        response.delete_cookie(SESSION_COOKIE, path=CONSOLE_PATH, httponly=True, samesite="strict")
        return response

    # -- accounts -----------------------------------------------------------------------------

    def _accounts(self) -> dict[str, Any]:
        emulator = self.emulator
        accounts = self.reads.accounts()
        counts: dict[int, dict[str, int]] = {
            a.partner_id: dict.fromkeys(OUTCOMES, 0) for a in accounts
        }
        for row in emulator.stats():
            if row["partner_id"] in counts:
                for outcome in OUTCOMES:
                    counts[row["partner_id"]][outcome] += int(row[outcome])
        meters = {a.partner_id: self._meter(a.partner_id) for a in accounts}
        return {"accounts": accounts, "counts": counts, "meters": meters}

    def _meter(self, partner_id: int) -> dict[str, Any]:
        config = self.emulator.config
        used = self.emulator.rate_usage(partner_id)
        limit = config.rate_limit or 0
        share = min(100, round(100 * used / limit)) if limit else 0
        return {"used": used, "limit": limit, "period": config.rate_period, "share": share}

    async def accounts_page(self, visit: Visit) -> Response:
        """Accounts: keys (masked), rotate, the live meter of the rate window, call counts."""
        values = await self._run(self._accounts)
        return self.render(visit, "accounts.html", "accounts", **values)

    def _partner(self, visit: Visit) -> int:
        partner_id = int(visit.request.path_params["partner_id"])
        if partner_id > INT64_MAX or self.emulator.account(partner_id) is None:
            raise Refused(404, f"no account {partner_id}")
        return partner_id

    async def meter(self, visit: Visit) -> Response:
        """The live meter of one account (an htmx fragment, polled every second)."""
        partner_id = int(visit.request.path_params["partner_id"])
        if partner_id > INT64_MAX:
            raise Refused(404, f"no account {partner_id}")
        meter = await self._run(self._meter, partner_id)
        fragment = self.env.get_template("meter.html").render(partner_id=partner_id, meter=meter)
        return HTMLResponse(fragment)

    async def reveal_key(self, visit: Visit) -> Response:
        """One account's partner_key, unmasked (an htmx fragment: the click on the mask)."""

        def work() -> tuple[int, str]:
            partner_id = self._partner(visit)
            account = self.emulator.account(partner_id)
            assert account is not None
            return partner_id, str(account["partner_key"])

        partner_id, key = await self._run(work)
        return HTMLResponse(
            Markup('<code class="key" id="key-{}">{}</code>').format(partner_id, key)
        )

    async def rotate(self, visit: Visit) -> Response:
        """Replace an account's partner_key (what createkey with regenerate does)."""

        def work() -> int:
            partner_id = self._partner(visit)
            account = self.emulator.account(partner_id)
            assert account is not None
            self.emulator.rotate_key(partner_id, account["secret_key"], True)
            return partner_id

        partner_id = await self._run(work)
        return _back(
            CONSOLE_PATH,
            note=f"partner_key of {partner_id} rotated: calls signed with the old key now fail",
        )

    # -- playbacks ----------------------------------------------------------------------------

    async def playbacks_page(self, visit: Visit) -> Response:
        """Playbacks: search (name or room id), filters, keyset pages newest first."""
        query = visit.request.query_params
        errors: list[str] = []
        text = query.get("q", "")
        if len(text) > _MAX_FIELD or "\x00" in text:
            errors.append(f"q must be at most {_MAX_FIELD} characters")
            text = ""
        wanted = Catalog(
            text,
            _choice(query.get("status"), STATUS_NAMES, "status", errors),
            _choice(query.get("publish"), PUBLISH_NAMES, "publish", errors),
            _choice(query.get("product"), PRODUCT_NAMES, "product", errors),
        )
        older = _cursor(query.get("older"), "older", errors)
        newer = _cursor(query.get("newer"), "newer", errors)
        oldest = query.get("oldest") == "1"
        found = await self._run(
            lambda: self.reads.catalog(wanted, older_than=older, newer_than=newer, oldest=oldest)
        )
        filters = {
            "q": wanted.query,
            "status": "" if wanted.status is None else str(wanted.status),
            "publish": "" if wanted.publish_status is None else str(wanted.publish_status),
            "product": "" if wanted.product_type is None else str(wanted.product_type),
        }
        kept = {k: v for k, v in filters.items() if v}

        def link(**extra: str) -> str:
            return f"{CONSOLE_PATH}/playbacks?{urlencode({**kept, **extra})}"

        links = {
            "newest": link() if found.newer else "",
            "newer": link(newer="{}.{}".format(*found.first))
            if found.newer and found.first
            else "",
            "older": link(older="{}.{}".format(*found.last)) if found.older and found.last else "",
            "oldest": link(oldest="1") if found.older else "",
        }
        return self.render(
            visit,
            "playbacks.html",
            "playbacks",
            found=found,
            filters=filters,
            links=links,
            problems=errors,
        )

    async def playback_page(self, visit: Visit) -> Response:
        """One playback: versions, sessions, PDFs, callbacks, play records, views per day."""
        room_id, session_id = _playback_key(visit)
        now = int(self.emulator.clock())
        detail = await self._run(self.reads.detail, room_id, session_id, now)
        if detail is None:
            raise Refused(404, f"no playback in room {room_id} session {session_id}")
        chart = Markup(views_per_day(detail.days))  # drawn from numbers and escaped dates
        return self.render(
            visit,
            "playback.html",
            "playbacks",
            d=detail,
            chart=chart,
            chart_days=CHART_DAYS,
            here=f"{CONSOLE_PATH}/playbacks/{room_id}/{session_id}",
        )

    async def playback_action(self, visit: Visit) -> Response:
        """An action on one playback (a POST from its page); back to the page with a note."""
        room_id, session_id = _playback_key(visit)
        action = str(visit.request.path_params["action"])
        here = f"{CONSOLE_PATH}/playbacks/{room_id}/{session_id}"
        act = _PLAYBACK_ACTIONS.get(action)
        if act is None:
            raise Refused(404, f"no action {action!r}; one of {', '.join(_PLAYBACK_ACTIONS)}")
        try:
            outcome = await self._run(act, self, visit, room_id, session_id)
        except EmulatorError as error:
            return _back(here, error=f"{action}: {error.msg}")
        except Refused as refused:
            if refused.status != 400:
                raise
            return _back(here, error=f"{action}: {refused.why}")
        if isinstance(outcome, Response):
            return outcome
        return _back(here, note=str(outcome))

    def partner_of(self, room_id: int) -> int:
        """The account that owns a room (404 if there is none)."""
        rows = self.emulator.playbacks.playback_rows(room_id, include_deleted=True)
        if not rows:
            raise Refused(404, f"no room {room_id}")
        return rows[0].partner_id

    # -- callbacks, faults, calls ---------------------------------------------------------------

    async def callbacks_page(self, visit: Visit) -> Response:
        """Every callback delivery (newest first) with its attempts."""
        errors: list[str] = []
        raw = visit.request.query_params.get("before", "")
        before = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
        if raw and before is None:
            errors.append(f"before must be a delivery id; got {raw[:20]!r}")
        found, more = await self._run(self.reads.deliveries, before)
        older = f"{CONSOLE_PATH}/callbacks?before={found[-1]['id']}" if more and found else ""
        return self.render(
            visit, "callbacks.html", "callbacks", deliveries=found, older=older, problems=errors
        )

    async def redeliver(self, visit: Visit) -> Response:
        """Send a delivery again: same payload, same qid."""
        delivery_id = int(visit.request.path_params["delivery_id"])
        if delivery_id > INT64_MAX:
            raise Refused(404, f"no callback delivery {delivery_id}")
        try:
            attempt = await self._run(self.emulator.redeliver, delivery_id)
        except KeyError:
            raise Refused(404, f"no callback delivery {delivery_id}") from None
        back = visit.field("back", limit=300)
        target = back if back.startswith(CONSOLE_PATH + "/") else f"{CONSOLE_PATH}/callbacks"
        return _back(target, note=f"delivery {delivery_id} sent again (attempt {attempt})")

    async def faults_page(self, visit: Visit) -> Response:
        """The fault rules, a form to add one, a button to clear them."""
        rules = await self._run(self.emulator.fault_rules)
        return self.render(visit, "faults.html", "faults", rules=rules)

    async def add_fault(self, visit: Visit) -> Response:
        """Add a fault rule from the form."""
        endpoint = visit.field("endpoint", required=True, limit=100)
        kind = visit.field("kind", required=True, limit=16)
        value = visit.real("value", low=-(2**31), high=2**31 - 1) or 0
        times = visit.number("times", low=1, high=2**31 - 1)
        probability = visit.real("probability", low=0, high=1)
        rule: dict[str, Any] = {}
        if times is not None:
            rule["times"] = times
        if probability is not None:
            rule["probability"] = probability
        try:
            fault = await self._run(
                lambda: self.emulator.inject_fault(endpoint, kind, value, **rule)
            )
        except ValueError as error:
            return _back(f"{CONSOLE_PATH}/faults", error=f"fault not added: {error}")
        return _back(f"{CONSOLE_PATH}/faults", note=f"fault rule {fault.id} added")

    async def clear_faults(self, visit: Visit) -> Response:
        """Remove every fault rule."""
        await self._run(self.emulator.clear_faults)
        return _back(f"{CONSOLE_PATH}/faults", note="every fault rule removed")

    async def calls_page(self, visit: Visit) -> Response:
        """The newest OpenAPI calls of every worker, newest first, with why each was refused."""
        calls = await self._run(self.emulator.recent_calls)
        return self.render(visit, "calls.html", "calls", calls=calls)


def _safe_next(target: str) -> str:
    """Where to go after logging in: a console path, never another site."""
    if target.startswith(CONSOLE_PATH) and "//" not in target and "\\" not in target:
        return target
    return CONSOLE_PATH


def _playback_key(visit: Visit) -> tuple[int, int]:
    params = visit.request.path_params
    room_id, session_id = int(params["room_id"]), int(params["session_id"])
    if room_id > INT64_MAX or session_id > INT64_MAX:
        raise Refused(404, f"no playback in room {room_id} session {session_id}")
    return room_id, session_id


# -- the actions on one playback: each runs in one go through Database.run ----------------------

Act = Callable[[Console, Visit, int, int], Any]


def _advance(console: Console, visit: Visit, room_id: int, session_id: int) -> str:
    row = console.emulator.advance(room_id, session_id)
    return f"recording moved to {STATUS_NAMES.get(row['status'], row['status'])}"


def _finish(console: Console, visit: Visit, room_id: int, session_id: int) -> str:
    row = console.emulator.finish_recording(room_id, session_id)
    return f"recording finished: {STATUS_NAMES.get(row['status'], row['status'])}"


def _fail(console: Console, visit: Visit, room_id: int, session_id: int) -> str:
    row = console.emulator.finish_recording(room_id, session_id, fail=True)
    return f"recording failed: {STATUS_NAMES.get(row['status'], row['status'])}"


def _rename(console: Console, visit: Visit, room_id: int, session_id: int) -> str:
    name = visit.field("name", required=True)
    console.emulator.playbacks.rename(
        console.partner_of(room_id), room_id, name, session_id or None
    )
    return f"renamed to {name}"


def _publish(status: int) -> Act:
    def act(console: Console, visit: Visit, room_id: int, session_id: int) -> str:
        partner_id = console.partner_of(room_id)
        console.emulator.playbacks.set_publish_status(
            partner_id, room_id, status, session_id or None
        )
        return f"publish status: {PUBLISH_NAMES[status]}"

    return act


def _main(console: Console, visit: Visit, room_id: int, session_id: int) -> str:
    version = visit.number("version", required=True, high=2**31 - 1)
    assert version is not None
    console.emulator.playbacks.set_main_version(
        console.partner_of(room_id), room_id, version, session_id or None
    )
    return f"version {version} is the main version"


def _delete(console: Console, visit: Visit, room_id: int, session_id: int) -> str:
    version = visit.number("version", high=2**31 - 1)
    console.emulator.playbacks.delete(
        console.partner_of(room_id), room_id, session_id or None, version
    )
    return "playback deleted" if version is None else f"version {version} deleted"


def _crop(console: Console, visit: Visit, room_id: int, session_id: int) -> str:
    length = visit.number("length", low=1, high=2**31 - 1)
    name = visit.field("name")
    fields: dict[str, Any] = {}
    if length is not None:
        fields["length"] = length
    if name:
        fields["name"] = name
    row = console.emulator.create_crop(room_id, session_id, **fields)
    return f"crop version {row['version']} added"


def _play(console: Console, visit: Visit, room_id: int, session_id: int) -> Response:
    partner_id = console.partner_of(room_id)
    [token] = console.emulator.playbacks.issue_tokens(
        partner_id, [(room_id, session_id or None)], TOKEN_SECONDS
    )
    return RedirectResponse(player_url("", room_id, token, session_id or None), status_code=303)


_PLAYBACK_ACTIONS: dict[str, Act] = {
    "advance": _advance,
    "finish": _finish,
    "fail": _fail,
    "rename": _rename,
    "publish": _publish(1),
    "block": _publish(2),
    "main": _main,
    "delete": _delete,
    "crop": _crop,
    "play": _play,
}


def route_pairs(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    """``(method, path)`` of each route (HEAD aside), path parameters as ``{name}``; a mount of
    static files is ``GET <mount>/{path}``. What the OpenAPI document lists for the console."""
    pairs: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Mount):
            pairs.append(("GET", f"{route.path}/{{path}}"))
        elif isinstance(route, Route):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            pairs.extend((m, path) for m in sorted(route.methods or ()) if m != "HEAD")
    return pairs
