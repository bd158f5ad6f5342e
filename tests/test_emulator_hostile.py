"""Hostile and mistaken input get clear answers; body limit, public URL and the admin API's guard."""

from __future__ import annotations

import html
import http.client
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from baijiayun.emulator import Emulator, EmulatorConfig, create_app
from baijiayun.emulator.admin import AdminGuard
from baijiayun.emulator.server import BackgroundServer, ExposedWithoutToken, check_exposure
from baijiayun.testing import EmulatorTransport

from .emulator_helpers import Raw


@pytest.fixture
def raw(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> Iterator[Raw]:
    client = Raw(bjy_emulator, bjy_account)
    yield client
    client.http.close()


@pytest.fixture
def room(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> int:
    room_id = int(bjy_emulator.create_room(bjy_account["partner_id"])["room_id"])
    bjy_emulator.create_recording(room_id, status=100)
    return room_id


@pytest.mark.parametrize(
    ("action", "extra", "named"),
    [
        ("getBasicInfo", {"room_id": "９"}, "room_id"),  # a full-width digit
        ("getBasicInfo", {"room_id": "١٠"}, "room_id"),  # Arabic-Indic digits
        ("getBasicInfo", {"room_id": str(2**63)}, "room_id"),
        ("getBasicInfo", {"room_id": "1" * 5000}, "room_id"),
        ("getBasicInfo", {"room_id": "1\n"}, "room_id"),
        ("getBasicInfo", {"room_id": "7", "session_id": "-1"}, "session_id"),
        ("update", {"room_id": "7", "name": "a\x00b"}, "name"),
        ("getPlaybackPptUrlList", {"room_id": "7", "date": "2026-01-01\n"}, "date"),
        ("getPlaybackPptUrlList", {"room_id": "7", "date": "2026-02-30"}, "date"),
        ("getPlayerTokenBatch", {"room_ids": f"{2**63}", "expires_in": "0"}, "room_ids"),
        ("getList", {"page": "1", "page_size": "1001"}, "page_size"),
    ],
)
def test_bad_input_is_1001_naming_the_parameter(
    raw: Raw, action: str, extra: dict[str, str], named: str
) -> None:
    body = raw.post(action, extra)
    assert body["code"] == 1001 and named in body["msg"], body


def test_non_ascii_partner_id_does_not_authenticate(raw: Raw) -> None:
    form = raw.form({"room_id": "7"})
    form["partner_id"] = "".join(chr(0x0660 + int(d)) for d in form["partner_id"])
    body = raw.http.post("/openapi/playback/getBasicInfo", data=form).json()
    assert body["code"] == 1001 and "partner_id" in body["msg"]


def test_other_methods_get_the_envelope_too(raw: Raw) -> None:
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
        reply = raw.http.request(method, "/openapi/playback/getBasicInfo")
        assert reply.status_code == 200 and reply.json()["code"] == 405


def test_unknown_extra_parameters_are_ignored(raw: Raw, room: int) -> None:
    body = raw.post("getBasicInfo", {"room_id": room, "colour": "\x00blue"})
    assert body["code"] == 0 and body["data"]["status"] == 100


def test_a_page_far_beyond_the_end_is_empty(raw: Raw, room: int) -> None:
    body = raw.post("getList", {"page": str(2**63 - 1), "page_size": "1000"})
    assert body["code"] == 0 and body["data"] == {"total": 1, "list": []}


INT64 = "9223372036854775807"


def test_an_out_of_range_integer_is_1001_saying_the_range(raw: Raw) -> None:
    body = raw.post("getBasicInfo", {"room_id": str(2**63)})
    assert body["code"] == 1001
    assert f"room_id={str(2**63)!r}; expected an integer from 1 to {INT64}" in body["msg"]
    body = raw.post("getBasicInfo", {"room_id": "7", "session_id": "-1"})
    assert f"session_id='-1'; expected an integer from 0 to {INT64}" in body["msg"]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ({"classid": "²", "token": "x"}, f"classid must be an integer from 1 to {INT64}"),
        ({"classid": "1" * 20, "token": "x"}, f"from 1 to {INT64}, got '{'1' * 20}'"),
        ({"classid": str(2**63), "token": "x"}, f"from 1 to {INT64}, got '{2**63}'"),
        ({"classid": "0", "token": "x"}, f"classid must be an integer from 1 to {INT64}"),
        ({"token": "x"}, f"classid is required: an integer from 1 to {INT64}"),
        ({"classid": "7"}, "token is required"),
        ({"classid": "7", "token": "a\x00b"}, "token must be a non-empty string"),
        ({"classid": "7", "session_id": "٣", "token": "x"}, "session_id must be an integer from 0"),
        ({"classid": "7", "token": "x" * 5000}, "token must be a non-empty string of at most 128"),
    ],
)
def test_player_page_refuses_bad_input_with_403_naming_it(
    raw: Raw, query: dict[str, str], why: str
) -> None:
    reply = raw.http.get("/web/playback/index", params=query)
    assert reply.status_code == 403
    assert html.escape(why) in reply.text


def test_play_url_comes_from_the_configured_public_url(database_url: str) -> None:
    config = EmulatorConfig(public_url="https://emu.example/")
    with Emulator(database_url, config) as emulator:
        emulator.reset()
        account = emulator.create_account()
        room_id = emulator.create_room(account["partner_id"])["room_id"]
        emulator.create_recording(room_id, status=100)
        client = Raw(emulator, account)
        client.http.headers["host"] = "evil.example"
        item = client.post("getList", {"page": 1, "page_size": 10})["data"]["list"][0]
        client.http.close()
    assert item["play_url"] == f"https://emu.example/web/playback/index?classid={room_id}"


def test_play_url_never_reflects_the_host_header(raw: Raw, room: int) -> None:
    raw.http.headers["host"] = "evil.example"
    item = raw.post("getList", {"page": 1, "page_size": 10})["data"]["list"][0]
    assert "evil" not in item["play_url"]


def test_version_numbers_are_never_reused(raw: Raw, room: int, bjy_emulator: Emulator) -> None:
    assert bjy_emulator.create_crop(room)["version"] == 1
    assert bjy_emulator.create_crop(room)["version"] == 2
    assert raw.post("delete", {"room_id": room, "version": 2})["code"] == 0
    assert bjy_emulator.create_crop(room)["version"] == 3
    assert (
        raw.post("replacePlayback", {"type": 2, "source_room_id": room, "target_room_id": room})[
            "code"
        ]
        == 0
    )
    versions = [r["version"] for r in bjy_emulator.playback_rows(room, include_deleted=True)]
    assert versions == [0, 1, 2, 3, 4]


# -- the admin API ---------------------------------------------------------------------------


@pytest.fixture
def admin(bjy_emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=EmulatorTransport(bjy_emulator), base_url="http://e") as http:
        yield http


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/_emulator/faults", b'{"endpoint": "getList", "kind": "latency", "value": NaN}', None),
        (
            "/_emulator/faults",
            b'{"endpoint": "getList", "kind": "latency", "value": 1e999}',
            "value",
        ),
        ("/_emulator/rooms", b'{"partner_id": 1, "title": ["a"]}', "title"),
        ("/_emulator/rooms", b'{"partner_id": {"a": 1}}', "partner_id"),
        ("/_emulator/rooms", json.dumps({"partner_id": 1, "title": "x" * 201}).encode(), "title"),
        ("/_emulator/rooms", b'{"partner_id": 9223372036854775808}', "partner_id"),
        ("/_emulator/rooms", b'{"partner_id": 1, "colour": "blue"}', "colour"),
        ("/_emulator/rooms", b"[" * 100_000, None),
        ("/_emulator/recordings", b'{"room_id": 1, "name": "a\\u0000b"}', "name"),
    ],
)
def test_admin_api_refuses_bad_fields_with_400(
    admin: httpx.Client, bjy_emulator: Emulator, path: str, body: bytes, field: str | None
) -> None:
    response = admin.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json().get("field") == field
    assert admin.get("/_emulator/faults").json()["result"] == []


def test_admin_flags_from_the_query_string(
    admin: httpx.Client, bjy_emulator: Emulator, room: int, raw: Raw
) -> None:
    assert raw.post("delete", {"room_id": room})["code"] == 0
    path = f"/_emulator/rooms/{room}/playbacks"
    assert admin.get(path).json()["result"] == []
    for flag in ("1", "true"):
        assert len(admin.get(path, params={"include_deleted": flag}).json()["result"]) == 1
    assert admin.get(path, params={"include_deleted": "maybe"}).json()["field"] == "include_deleted"


def test_admin_path_parameters_win_over_the_body(
    admin: httpx.Client, bjy_emulator: Emulator, bjy_account: dict[str, Any]
) -> None:
    a = bjy_emulator.create_room(bjy_account["partner_id"])["room_id"]
    b = bjy_emulator.create_room(bjy_account["partner_id"])["room_id"]
    assert admin.post(f"/_emulator/rooms/{a}/delete", json={"room_id": b}).status_code == 200
    client = Raw(bjy_emulator, bjy_account)
    assert client.post("getBasicInfo", {"room_id": a})["code"] == 3002
    assert client.post("getBasicInfo", {"room_id": b})["code"] == 1  # exists, no playback
    client.http.close()


def _guarded(
    emulator: Emulator, token: str | None = None, allowed: tuple[str, ...] = ("emulator",)
) -> httpx.AsyncClient:
    guard = AdminGuard.for_server("127.0.0.1", 8000, allowed, token)
    transport = httpx.ASGITransport(app=create_app(emulator, admin_guard=guard))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


@pytest.mark.anyio
async def test_admin_api_refuses_foreign_hosts_and_origins(bjy_emulator: Emulator) -> None:
    async with _guarded(bjy_emulator) as http:
        assert (await http.post("/_emulator/accounts", json={})).status_code == 200
        for host in ("localhost:8000", "emulator:8000", "[::1]:8000"):
            assert (await http.get("/_emulator/faults", headers={"host": host})).status_code == 200
        rebinding = await http.get("/_emulator/accounts/1", headers={"host": "attacker.example"})
        assert rebinding.status_code == 403 and "Host" in rebinding.json()["error"]
        page = await http.post(
            "/_emulator/reset",
            content=b"x",
            headers={"origin": "https://attacker.example", "content-type": "text/plain"},
        )
        assert page.status_code == 403
        assert (await http.post("/_emulator/reset", headers={"origin": "null"})).status_code == 403
        assert bjy_emulator.account(30000001) is not None  # nothing was reset
        # the OpenAPI is not the admin API: a foreign Host gets the envelope as usual
        reply = await http.post("/openapi/playback/getBasicInfo", headers={"host": "x.example"})
        assert reply.json()["code"] == 1001


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"origin": "http://127.0.0.1:8000"}, 200),  # the served origin
        ({"origin": "http://localhost:8000"}, 200),
        ({"origin": "http://[::1]:8000"}, 200),
        ({"origin": "http://emulator:8000"}, 200),  # --allowed-host emulator, served port
        ({"origin": "http://localhost:1234"}, 403),  # same host, another port: another page
        ({"origin": "http://127.0.0.1"}, 403),  # port 80
        ({"origin": "https://localhost:8000"}, 403),  # another scheme
        ({"origin": "http://emulator:9000"}, 403),
        ({"origin": "null"}, 403),  # a sandboxed frame or a file:// page
        ({"origin": ""}, 403),
        ({"origin": "http://[::1"}, 403),
        ({"sec-fetch-site": "cross-site"}, 403),  # a page's no-cors request without Origin
        ({"sec-fetch-site": "same-site"}, 403),  # e.g. from localhost:1234
        ({"sec-fetch-site": "same-origin"}, 200),
        ({"sec-fetch-site": "none"}, 200),  # typed into the address bar
        ({}, 200),  # curl, the SDK
    ],
)
async def test_admin_api_compares_the_whole_origin(
    bjy_emulator: Emulator, headers: dict[str, str], status: int
) -> None:
    async with _guarded(bjy_emulator) as http:
        reply = await http.get("/_emulator/faults", headers=headers)
        assert reply.status_code == status, reply.text
        if status == 403:
            assert "Origin" in reply.json()["error"] or "cross-site" in reply.json()["error"]


@pytest.mark.anyio
async def test_allowed_host_with_a_port_allows_pages_there(bjy_emulator: Emulator) -> None:
    allowed = ("emu:9000", "https://ui.example", "emu:no-port")  # the last is ignored, not fatal
    async with _guarded(bjy_emulator, allowed=allowed) as http:
        for origin, status in [
            ("http://emu:9000", 200),  # a published port: docker run -p 9000:8000
            ("http://emu:8000", 200),
            ("http://emu:9001", 403),
            ("https://ui.example", 200),
            ("https://ui.example:8443", 403),
            ("http://ui.example", 403),
        ]:
            reply = await http.get("/_emulator/faults", headers={"origin": origin})
            assert reply.status_code == status, origin
        for host, status in [("emu:9000", 200), ("emu", 200), ("ui.example", 200), ("x", 403)]:
            reply = await http.get("/_emulator/faults", headers={"host": host})
            assert reply.status_code == status, host


@pytest.mark.anyio
async def test_admin_token_when_set(bjy_emulator: Emulator) -> None:
    async with _guarded(bjy_emulator, "s3cret") as http:
        assert (await http.get("/_emulator/faults")).status_code == 403
        wrong = {"authorization": "Bearer nope"}
        assert (await http.get("/_emulator/faults", headers=wrong)).status_code == 403
        right = {"authorization": "Bearer s3cret"}
        assert (await http.get("/_emulator/faults", headers=right)).status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        ("Bearer s3cret", 200),
        ("bearer s3cret", 200),  # the scheme is case-insensitive (RFC 9110)
        ("s3cret", 403),  # the bare token, without the scheme
        ("Basic s3cret", 403),
        ("Bearers3cret", 403),
        ("Bearer", 403),
    ],
)
async def test_admin_token_wants_the_bearer_scheme(
    bjy_emulator: Emulator, authorization: str, status: int
) -> None:
    async with _guarded(bjy_emulator, "s3cret") as http:
        reply = await http.get("/_emulator/faults", headers={"authorization": authorization})
        assert reply.status_code == status, authorization


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host",
    [
        "localhost#fragment",
        "127.0.0.1:8000#x",
        "localhost/path",
        "localhost?q=1",
        "user@localhost",
        "local host",
        "localhost:80:80",
        "[::1]x",
        "localhost:99999",
        "",
    ],
)
async def test_admin_api_refuses_a_host_with_junk(bjy_emulator: Emulator, host: str) -> None:
    async with _guarded(bjy_emulator) as http:
        reply = await http.get("/_emulator/faults", headers={"host": host})
        assert reply.status_code == 403 and "Host" in reply.json()["error"], host


@pytest.mark.parametrize("token", ["", "   ", "\t\n", " s3cret", "s3cret\n"])
def test_an_admin_token_no_request_could_send_is_refused_at_start(
    tmp_path: Any, token: str
) -> None:
    from click.testing import CliRunner

    from baijiayun.cli.main import cli

    with pytest.raises(ValueError, match="admin token"):
        EmulatorConfig(admin_token=token)
    database = f"sqlite:///{tmp_path / 'e.sqlite3'}"
    args = ["emulator", "serve", "--admin-token", token, "--database", database]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "--admin-token" in result.output and "admin token" in result.output
    assert not (tmp_path / "e.sqlite3").exists()  # refused before anything was opened


def test_binding_beyond_loopback_needs_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    check_exposure("127.0.0.1", None)
    with pytest.raises(ExposedWithoutToken, match="--admin-token"):
        check_exposure("0.0.0.0", None)
    check_exposure("0.0.0.0", "s3cret")
    assert "WARNING" in capsys.readouterr().err


def test_serve_refuses_a_public_bind_without_a_token(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from baijiayun.cli.main import cli

    database = f"sqlite:///{tmp_path / 'e.sqlite3'}"
    args = ["emulator", "serve", "--host", "0.0.0.0", "--database", database]
    result = CliRunner().invoke(cli, args, env={"BAIJIAYUN_EMULATOR_ADMIN_TOKEN": ""})
    assert result.exit_code == 2 and "--admin-token" in result.output
    assert not (tmp_path / "e.sqlite3").exists()  # refused before anything was opened


# -- a real port: body limit, unexpected errors, keep-alive -----------------------------------


def _post(
    conn: http.client.HTTPConnection, path: str, body: bytes, status: int = 200
) -> dict[str, Any]:
    conn.request(
        "POST", path, body=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    response = conn.getresponse()
    assert response.status == status
    loaded: dict[str, Any] = json.loads(response.read())
    return loaded


def test_oversize_body_and_internal_errors_keep_the_connection(
    database_url: str,
) -> None:
    config = EmulatorConfig(max_body=1024)
    with Emulator(database_url, config) as emulator:
        emulator.reset()
        account = emulator.create_account()
        form = Raw(emulator, account)
        with BackgroundServer(emulator) as server:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
            big = _post(conn, "/openapi/playback/getBasicInfo", b"room_id=" + b"1" * 4096, 413)
            assert big["code"] == 1001 and "请求体过大" in big["msg"] and big["data"] is None
            signed = httpx.QueryParams(form.form({"room_id": "7"})).__str__().encode()
            assert _post(conn, "/openapi/playback/getBasicInfo", signed)["code"] == 3001
            with emulator.db.tx() as db:  # break the database behind the emulator's back
                db.execute(text("DROP TABLE bjy_rooms"))
            broken = _post(
                conn, "/openapi/playback/getBasicInfo", signed, 500
            )  # docs/protocol.md#decisions
            assert broken["code"] == 1 and "服务器内部错误" in broken["msg"]
            assert _post(conn, "/openapi/playback/nothing", b"")["code"] == 404  # still alive
            conn.close()
        form.http.close()


def test_a_page_on_another_port_cannot_use_the_admin_api() -> None:
    # a real port: the guard learns the served port from the server, as `emulator serve` runs it
    with Emulator("sqlite://", EmulatorConfig(rate_limit=None)) as emulator:
        emulator.reset()
        partner_id = emulator.create_account()["partner_id"]
        with BackgroundServer(emulator) as server, httpx.Client(base_url=server.base_url) as http:
            foreign = {"origin": f"http://127.0.0.1:{server.port + 1}"}
            reset = http.post("/_emulator/reset", headers=foreign)
            assert reset.status_code == 403 and "Origin" in reset.json()["error"]
            assert emulator.account(partner_id) is not None  # nothing was wiped
            # what a <form enctype=text/plain> or a no-preflight fetch from localhost:3000 sends
            page = {"origin": "http://localhost:3000", "content-type": "text/plain"}
            made = http.post("/_emulator/accounts", content=b'{"partner_id": 42}', headers=page)
            assert made.status_code == 403 and emulator.account(42) is None
            same = {"origin": f"http://127.0.0.1:{server.port}"}
            made = http.post("/_emulator/accounts", json={"partner_id": 42}, headers=same)
            assert made.status_code == 200 and emulator.account(42) is not None
            assert http.post("/_emulator/reset").status_code == 200  # no Origin: curl, scripts
            assert emulator.account(42) is None


MALFORMED_MULTIPART = [
    ("multipart/form-data", b"junk", "boundary"),
    ("multipart/form-data; boundary=", b"junk", "boundary"),
    ('multipart/form-data; boundary=""', b"junk", "boundary"),
    ("multipart/form-data; boundary=abc", b"junk", "malformed multipart"),
    ("multipart/form-data; boundary=abc", b"--abc\r\nX: y\r\n\r\nv\r\n--abc--\r\n", "name"),
]


def test_a_malformed_multipart_body_is_1001_naming_it(caplog: pytest.LogCaptureFixture) -> None:
    # the body parser is the same whatever the database; a real port takes the same path
    path = "/openapi/playback/getBasicInfo"
    with (
        Emulator("sqlite://") as emulator,
        BackgroundServer(emulator) as server,
        httpx.Client(base_url=server.base_url) as served,
        httpx.Client(transport=EmulatorTransport(emulator), base_url="http://e") as in_process,
    ):
        for http in (served, in_process):
            for content_type, body, words in MALFORMED_MULTIPART:
                headers = {"content-type": content_type}
                reply = http.post(path, content=body, headers=headers)
                assert reply.status_code == 200, (content_type, body)
                answer = reply.json()
                assert answer["code"] == 1001 and words in answer["msg"], answer
    assert not [r for r in caplog.records if r.name == "baijiayun.emulator"]  # nothing logged


def test_the_sdk_refuses_what_the_emulator_refuses(bjy_emulator: Emulator) -> None:
    from baijiayun import BaiJiaYunClient, InvalidArgumentError

    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    with BaiJiaYunClient(
        1, "key", base_url="http://e", http_client=httpx.Client(transport=transport)
    ) as client:
        with pytest.raises(InvalidArgumentError) as caught:
            client.playback.get_basic_info(2**63)
        assert caught.value.argument == "room_id"
        with pytest.raises(InvalidArgumentError):
            client.playback.update(7, "a\x00b")
    assert sent == []


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/openapi/playback/getBasicInfo", "/_emulator/rooms"])
async def test_an_endless_body_is_refused_after_the_limit_unread(
    bjy_emulator: Emulator, path: str
) -> None:
    produced = [0]

    async def endless() -> Any:
        while produced[0] < 2000:  # 128 MB if it were all read
            produced[0] += 1
            yield b"x" * 65536

    transport = httpx.ASGITransport(app=create_app(bjy_emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://e") as http:
        response = await http.post(path, content=endless())
    if path.startswith("/openapi"):
        assert response.status_code == 413 and response.json()["code"] == 1001
    else:
        assert response.status_code == 413
    assert produced[0] <= 1024 * 1024 // 65536 + 2  # read up to the 1 MiB limit, not beyond


def test_fault_rules_refuse_numbers_that_cannot_be_answered(bjy_emulator: Emulator) -> None:
    for value in (float("nan"), float("inf"), 2**40):
        with pytest.raises(ValueError, match=r"value|code"):
            bjy_emulator.inject_fault("getList", "error", value)
    with pytest.raises(ValueError, match="probability"):
        bjy_emulator.inject_fault("getList", "error", 1, probability=float("nan"))
    assert bjy_emulator.fault_rules() == []


def test_a_client_gone_mid_body_is_not_logged_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging
    import socket
    import time

    with Emulator("sqlite://") as emulator, BackgroundServer(emulator) as server:
        with caplog.at_level(logging.ERROR, logger="baijiayun.emulator"):
            sock = socket.create_connection((server.host, server.port))
            sock.sendall(
                b"POST /openapi/playback/getBasicInfo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
                b"room_id=1"
            )
            sock.close()  # gone before the body ends
            time.sleep(0.3)
            answer = httpx.post(f"{server.base_url}/openapi/playback/nothing")
        assert answer.json()["code"] == 404  # the server is fine
    assert "unexpected error" not in caplog.text
