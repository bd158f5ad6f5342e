"""A recording httpx.MockTransport for SDK tests: captures forms, answers envelopes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx

PARTNER_ID = 12345678
KEY = "test_partner_key_ABC123+/=="
BASE = "https://e12345678.at.baijiayun.com"

Reply = Callable[[httpx.Request], httpx.Response]


def envelope(
    data: Any = None, code: int = 0, msg: str = "", status: int = 200, **headers: str
) -> httpx.Response:
    body = {"code": code, "msg": msg, "data": data, "ts": 1700000000}
    return httpx.Response(status, json=body, headers=headers)


def independent_sign(form: dict[str, str], key: str = KEY) -> str:
    """The sign computed here, not with the SDK's code."""
    text = "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign") + f"&partner_key={key}"
    return hashlib.md5(text.encode()).hexdigest()


class Recorder:
    """Answers each request with the next reply (the last one repeats) and records the forms."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies) or [envelope()]
        self.requests: list[httpx.Request] = []

    @property
    def forms(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(r.content.decode(), keep_blank_values=True)) for r in self.requests]

    @property
    def form(self) -> dict[str, str]:
        return self.forms[-1]

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def _next(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        if isinstance(reply, httpx.Response):
            return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)
        return envelope(reply)

    def handler(self, request: httpx.Request) -> httpx.Response:
        return self._next(request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        return self._next(request)


def wire(form: dict[str, str]) -> dict[str, str]:
    """The form without the volatile fields, after checking them."""
    assert form["partner_id"] == str(PARTNER_ID)
    assert form["timestamp"].isdigit() and len(form["timestamp"]) == 10
    assert form["sign"] == independent_sign(form)
    return {k: v for k, v in form.items() if k not in ("partner_id", "timestamp", "sign")}


class FakeClock:
    """A monotonic clock that only moves when a client sleeps on it (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
