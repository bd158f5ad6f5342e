"""Transcode callbacks: build and sign the notification, record it, deliver it with retries."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, insert, select, update

from .. import _signing
from . import schema as t
from .backends import PartnerBackend
from .backends.playback import READY
from .db import Database
from .rows import Playback
from .worker import Scheduler

__all__ = ["Notifier"]


def _reply_ok(reply: str) -> bool:
    try:
        body = json.loads(reply)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("code") == 0


class Notifier:
    """Send each status change of a recording to the account's callback URL (docs/protocol.md#decisions).

    A delivery is retried ``retries`` times with a doubling ``backoff`` on ``jobs``; every
    attempt is recorded.
    """

    def __init__(
        self,
        db: Database,
        partner: PartnerBackend,
        jobs: Scheduler,
        clock: Callable[[], float],
        *,
        retries: int,
        backoff: float,
        timeout: float,
    ) -> None:
        self.db = db
        self.partner = partner
        self.jobs = jobs
        self.clock = clock
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self._http: httpx.Client | None = None

    def close(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            self._http.close()

    def notify(self, row: Playback) -> None:
        """Queue the callback for ``row``'s current status (nothing if no URL is set)."""
        account = self.partner.account(row.partner_id)
        if account is None or not account.transcode_callback_url:
            return
        payload = {
            "room_id": str(row.room_id),
            "video_id": str(row.video_id),
            "status": str(row.status),
            "total_size": str(row.total_size),
            "file_md5": row.file_md5,
            "qid": secrets.token_hex(12),
            "timestamp": str(int(self.clock())),
        }
        if row.session_id:
            payload["session_id"] = str(row.session_id)
        if row.version:
            payload["version"] = str(row.version)
        if row.status == READY:
            payload.update(
                preface_url=row.preface_url,
                total_transcode_size=str(row.total_transcode_size),
                length=str(row.length),
                now_definition="low,std,high",
                origin_definition="high",
            )
        payload["sign"] = _signing.sign(payload, account.partner_key)
        with self.db.tx() as conn:
            key = conn.execute(
                insert(t.deliveries).values(
                    partner_id=row.partner_id,
                    url=account.transcode_callback_url,
                    qid=payload["qid"],
                    payload=json.dumps(payload, ensure_ascii=False),
                    state="pending",
                    created_at=self.clock(),
                )
            ).inserted_primary_key
        assert key is not None
        delivery_id = int(key[0])
        self.jobs.schedule(0, lambda: self.deliver(delivery_id, 1))

    def redeliver(self, delivery_id: int) -> int:
        """Send a delivery once more, the same payload (same ``qid``, same sign), as BaijiaYun's
        own retries do (a receiver's de-duplication is exercised); the number of that attempt.
        KeyError if there is no such delivery."""
        with self.db.read() as conn:
            found = conn.execute(
                select(t.deliveries.c.id).where(t.deliveries.c.id == delivery_id)
            ).first()
            made = conn.execute(
                select(func.max(t.delivery_attempts.c.attempt)).where(
                    t.delivery_attempts.c.delivery_id == delivery_id
                )
            ).scalar()
        if found is None:
            raise KeyError(f"no callback delivery {delivery_id}")
        attempt = int(made or 0) + 1
        self.jobs.schedule(0, lambda: self.deliver(delivery_id, attempt, retry=False))
        return attempt

    def deliver(self, delivery_id: int, attempt: int, retry: bool = True) -> None:
        """Make one attempt; schedule the next one if it failed, ``retry`` allows it and
        retries are left."""
        with self.db.read() as conn:
            delivery = conn.execute(
                select(t.deliveries).where(t.deliveries.c.id == delivery_id)
            ).first()
        if delivery is None:
            return
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout)
        status: int | None = None
        reply = error = ""
        try:
            response = self._http.post(delivery.url, data=json.loads(delivery.payload))
            status, reply = response.status_code, response.text
            ok = 200 <= status < 300 and _reply_ok(reply)
            if not ok:
                error = f"HTTP {status}" if not 200 <= status < 300 else "reply code is not 0"
        except httpx.HTTPError as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        final = ok or not retry or attempt > self.retries
        self._record(delivery_id, attempt, status, reply, error, ok, final)
        if not final:
            delay = self.backoff * 2 ** (attempt - 1)
            self.jobs.schedule(delay, lambda: self.deliver(delivery_id, attempt + 1))

    def _record(
        self,
        delivery_id: int,
        attempt: int,
        http_status: int | None,
        reply: str,
        error: str,
        ok: bool,
        final: bool,
    ) -> None:
        with self.db.tx() as conn:
            conn.execute(
                insert(t.delivery_attempts).values(
                    delivery_id=delivery_id,
                    attempt=attempt,
                    at=self.clock(),
                    http_status=http_status,
                    reply=reply[:1000],
                    error=error[:1000],
                    ok=ok,
                )
            )
            state = "delivered" if ok else ("failed" if final else "retrying")
            conn.execute(
                update(t.deliveries).where(t.deliveries.c.id == delivery_id).values(state=state)
            )

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery with its attempts, oldest first."""
        with self.db.read() as conn:
            found = [
                dict(r._mapping)
                for r in conn.execute(select(t.deliveries).order_by(t.deliveries.c.id)).all()
            ]
            attempts = conn.execute(
                select(t.delivery_attempts).order_by(t.delivery_attempts.c.id)
            ).all()
        by_delivery: dict[int, list[dict[str, Any]]] = {}
        for a in attempts:
            by_delivery.setdefault(a.delivery_id, []).append(
                {k: v for k, v in a._mapping.items() if k not in ("id", "delivery_id")}
            )
        for d in found:
            d["payload"] = json.loads(d["payload"])
            d["attempts"] = by_delivery.get(d["id"], [])
        return found
