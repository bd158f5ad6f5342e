"""Hand-built signed requests to the emulator, shared by its wire, hostile-input and fuzz tests."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx

from baijiayun.emulator import Emulator
from baijiayun.testing import EmulatorTransport

__all__ = ["Raw", "md5_sign"]


def md5_sign(params: dict[str, str], key: str) -> str:
    text = "&".join(f"{k}={params[k]}" for k in sorted(params)) + f"&partner_key={key}"
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class Raw:
    """Signed form posts built by hand."""

    def __init__(self, emulator: Emulator, account: dict[str, Any]) -> None:
        self.emulator = emulator
        self.account = account
        self.http = httpx.Client(
            transport=EmulatorTransport(emulator), base_url="http://emulator.local"
        )

    def form(
        self, extra: dict[str, Any], *, key: str | None = None, ts: int | None = None
    ) -> dict[str, str]:
        params = {k: str(v) for k, v in extra.items()}
        params["partner_id"] = str(self.account["partner_id"])
        params["timestamp"] = str(int(time.time()) if ts is None else ts)
        params["sign"] = md5_sign(params, key or self.account["partner_key"])
        return params

    def post(
        self, action: str, extra: dict[str, Any], module: str = "playback", **kw: Any
    ) -> dict[str, Any]:
        response = self.http.post(f"/openapi/{module}/{action}", data=self.form(extra, **kw))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        assert set(body) == {"code", "msg", "data", "ts"}
        assert abs(body["ts"] - time.time()) < 5
        return body
