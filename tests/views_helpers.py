"""A stand-in for the service's two video-data endpoints (docs/protocol.md#viewing-records) over a fixed list of
records: as an httpx MockTransport handler, or as a loopback HTTP server for the CLI."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx

from .sdk_helpers import PARTNER_ID, independent_sign

PLAY_RECORD = "/openapi/video_data/getPlaybackPlayRecord"
EXPORT = "/openapi/video_data/exportVideoReportBatch"


def record(
    n: int, begin: str, room_id: int | None = 26010100000001, **fields: Any
) -> dict[str, Any]:
    """One play record as docs/protocol.md#viewing-records writes it (``room_id=None``: a VOD record, no playback fields)."""
    row: dict[str, Any] = {
        "guid": f"{n:032x}",
        "uuid": f"uuid-{n}",
        "video_id": 9000 + n,
        "user_name": f"学生{n}",
        "user_number": 1000 + n,
        "play_begin_time": begin,
        "play_end_time": begin,
        "client_type": 5,
        "play_length": 60 + n,
        "user_ip": "10.0.0.1",
        "area": "",
    }
    if room_id is not None:
        row.update(room_id=room_id, session_id=0, version=0)
    row.update(fields)
    return row


def _time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


class FakeVideoData:
    """Answers both endpoints by the rules of docs/protocol.md#viewing-records: signed forms only, one-day windows, records whose
    ``play_begin_time`` is in the window, ordered by (play_begin_time, guid), paged."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.forms: list[tuple[str, dict[str, str]]] = []

    def answer(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        """The envelope for one request."""
        self.forms.append((path, form))
        if form.get("partner_id") != str(PARTNER_ID) or form.get("sign") != independent_sign(form):
            return {"code": 1002, "msg": "签名错误", "data": None}
        start, end = _time(form["start_time"]), _time(form["end_time"])
        if start.date() != end.date() or start > end:
            return {"code": 1001, "msg": "end_time: 查询时间不能跨天", "data": None}
        rows = [r for r in self.records if start <= _time(r["play_begin_time"]) <= end]
        if path == PLAY_RECORD:
            rows = [r for r in rows if str(r.get("room_id")) == form["room_id"]]
            if "session_id" in form:
                rows = [r for r in rows if str(r.get("session_id")) == form["session_id"]]
        elif path != EXPORT:
            return {"code": 404, "msg": "not found", "data": None}
        rows.sort(key=lambda r: (r["play_begin_time"], r["guid"]))
        page, size = int(form.get("page", "1")), int(form.get("page_size", "100"))
        chunk = rows[(page - 1) * size : page * size]
        return {"code": 0, "msg": "", "data": {"total": len(rows), "list": chunk}}

    def handler(self, request: httpx.Request) -> httpx.Response:
        """An httpx MockTransport handler."""
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        return httpx.Response(200, json=self.answer(request.url.path, form))

    @property
    def windows(self) -> list[tuple[str, str]]:
        """The (start_time, end_time) of every request, in order."""
        return [(form["start_time"], form["end_time"]) for _, form in self.forms]

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on a free loopback port; yields the base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                form = dict(parse_qsl(body, keep_blank_values=True))
                raw = json.dumps(fake.answer(self.path, form), ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
