"""Transcode callbacks applied to the mirror: over real HTTP from the emulator, and in Django."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
import types
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from baijiayun import _endpoints as ep
from baijiayun import _signing
from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator
from baijiayun.mirror import Mirror, callback_app, django_view

from .conftest import SERVER_URL
from .mirror_helpers import drop_schema, mirror_state, postgres_schema_url

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}/"


def _callback(partner_key: str, **fields: Any) -> dict[str, str]:
    body = {k: str(v) for k, v in fields.items()}
    body.setdefault("qid", f"q{time.monotonic_ns()}")
    body.setdefault("timestamp", str(int(time.time())))
    body["sign"] = _signing.sign(body, partner_key)
    return body


def test_the_emulator_delivers_callbacks_over_http_and_they_apply_once(
    emu: Emulator, client: BaiJiaYunClient, account: dict[str, Any], tmp_path: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    app = callback_app(
        partner_key=account["partner_key"], database_url=url, partner_id=account["partner_id"]
    )
    server, thread, address = _serve(app)
    try:
        client.request(ep.SET_TRANSCODE_CALLBACK_URL, {"url": address})
        room = emu.create_room(client.partner_id)
        emu.create_recording(room["room_id"])
        emu.finish_recording(room["room_id"])  # posts status 20, then 100
        deadline = time.monotonic() + 10
        while [d["state"] for d in emu.deliveries()] != ["delivered", "delivered"]:
            assert time.monotonic() < deadline, emu.deliveries()
            time.sleep(0.02)
        key = (room["room_id"], 0, 0)
        row = mirror_state(url)[key]
        assert (row["status"], row["length"]) == (100, 3600)
        with Mirror(client, url) as mirror:  # the account's own views show the row at once
            assert [r["room_id"] for r in mirror.ls()] == [room["room_id"]]

        # A late "uploaded" (20) never moves the row back; a repeated qid changes nothing.
        late = _callback(account["partner_key"], room_id=room["room_id"], video_id=1, status=20)
        assert httpx.post(address, data=late).json() == {"code": 0}
        assert httpx.post(address, data=late).json() == {"code": 0}
        assert mirror_state(url)[key]["status"] == 100

        forged = {**late, "qid": "other", "status": "30"}
        refused = httpx.post(address, data=forged)
        assert refused.status_code == 400 and refused.json()["code"] == 1
        assert mirror_state(url)[key]["status"] == 100

        # A sweep fills in what callbacks do not carry (the name) and keeps the status.
        with Mirror(client, url) as mirror:
            mirror.sync()
        row = mirror_state(url)[key]
        assert (row["status"], row["name"]) == (100, room["title"])
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.handler.close()


def test_django_view_applies_a_callback(account: dict[str, Any], tmp_path: Any) -> None:
    import django
    from django.conf import settings

    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    view = django_view(
        partner_key=account["partner_key"], partner_id=account["partner_id"], database_url=url
    )
    small = django_view(
        partner_key=account["partner_key"],
        partner_id=account["partner_id"],
        database_url=url,
        max_body=64,
    )
    urls = types.ModuleType("bjy_mirror_test_urls")
    if not settings.configured:
        settings.configure(ROOT_URLCONF=urls.__name__, ALLOWED_HOSTS=["testserver"], DEBUG=False)
        django.setup()
    from django.test import Client
    from django.urls import clear_url_caches, path

    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("bjy/callback", view),
        path("bjy/small", small),
    ]
    sys.modules[urls.__name__] = urls
    settings.ROOT_URLCONF = urls.__name__
    clear_url_caches()
    try:
        web = Client()
        body = _callback(
            account["partner_key"], room_id=26000000000001, video_id=7, status=100, length=60
        )
        answer = web.post("/bjy/callback", body)
        assert (answer.status_code, answer.json()) == (200, {"code": 0})
        assert web.get("/bjy/callback").status_code == 405
        refused = web.post("/bjy/callback", {**body, "sign": "0" * 32})
        assert refused.status_code == 400
        row = mirror_state(url)[(26000000000001, 0, 0)]
        assert (row["status"], row["length"], row["video_id"]) == (100, 60, 7)
        too_big = web.post("/bjy/small", body)
        assert too_big.status_code == 413 and too_big.json()["code"] == 1
        broken = web.post(
            "/bjy/callback", b"qid=1", content_type="multipart/form-data; boundary=\u00e9"
        )
        assert broken.status_code == 400 and "multipart" in broken.json()["msg"]
    finally:
        sys.modules.pop(urls.__name__, None)
        view.handler.close()  # type: ignore[attr-defined]
        small.handler.close()  # type: ignore[attr-defined]


def test_the_receiver_refuses_a_body_over_1_mib_without_reading_it_whole(
    account: dict[str, Any], tmp_path: Any
) -> None:
    import anyio

    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    app = callback_app(
        partner_key=account["partner_key"], database_url=url, partner_id=account["partner_id"]
    )
    pulled = 0

    async def endless() -> Any:  # 4 MiB in 64 KiB chunks, no Content-Length
        nonlocal pulled
        for _ in range(64):
            pulled += 1
            yield b"x" * 65536

    async def post_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as web:
            declared = await web.post("/", content=b"a=" + b"x" * (2 * 1024 * 1024))
            streamed = await web.post("/", content=endless())
            body = _callback(account["partner_key"], room_id=26000000000002, video_id=8, status=100)
            multipart = await web.post("/", files={k: (None, v) for k, v in body.items()})
            return [declared, streamed, multipart]

    try:
        declared, streamed, multipart = anyio.run(post_all)
    finally:
        app.state.handler.close()
    for refused in (declared, streamed):
        assert refused.status_code == 413
        assert refused.json() == {"code": 1, "msg": "callback body over 1048576 bytes"}
    assert pulled <= 17  # it stopped reading just past 1 MiB
    assert (multipart.status_code, multipart.json()) == (200, {"code": 0})
    assert mirror_state(url)[(26000000000002, 0, 0)]["status"] == 100


@pytest.fixture(params=["sqlite", "postgresql"])
def receiver_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """The receiver's database: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (locally) or fails (CI) when unreachable
    schema = f"bjy_mirror_{uuid.uuid4().hex[:12]}"
    yield postgres_schema_url(SERVER_URL, schema)
    drop_schema(SERVER_URL, schema)


def test_both_backends_refuse_the_same_bad_callbacks_with_a_json_400(
    account: dict[str, Any], receiver_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import anyio

    key = account["partner_key"]
    app = callback_app(partner_key=key, database_url=receiver_url, partner_id=1)
    long_qid = "q" * 65 + "TAIL-OF-THE-QID"
    room = 26000000000003
    refused = [
        _callback(key, qid=long_qid, room_id=room, video_id=8, status=100),
        _callback(key, room_id="26_000_000_000_003", video_id=8, status=100),
        _callback(key, room_id=room, video_id=" 8 ", status=100),
        _callback(key, room_id=room, video_id=8, status="1_00"),
        _callback(key, room_id=room, video_id=8, status=100, length="+5"),
    ]

    async def post_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as web:
            answers = [await web.post("/", data=body) for body in refused]
            broken = await web.post(
                "/",
                content=b"--xyz\r\nContent-Disposition: form-data; name=\r\n\r\nnot closed",
                headers={"content-type": "multipart/form-data; boundary=xyz"},
            )
            no_boundary = await web.post(
                "/", content=b"qid=1", headers={"content-type": "multipart/form-data"}
            )
            fine = await web.post("/", data=_callback(key, room_id=room, video_id=8, status=100))
            return [*answers, broken, no_boundary, fine]

    try:
        with caplog.at_level(logging.INFO, logger="baijiayun.mirror"):
            *answers, fine = anyio.run(post_all)
    finally:
        app.state.handler.close()
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["code"] == 1 and answer.json()["msg"]
    assert "qid" in answers[0].json()["msg"] and "64" in answers[0].json()["msg"]
    assert "TAIL-OF-THE-QID" not in caplog.text
    assert (fine.status_code, fine.json()) == (200, {"code": 0})
    assert mirror_state(receiver_url)[(room, 0, 0)]["status"] == 100
