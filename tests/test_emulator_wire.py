"""The emulator's wire, driven with hand-built signed HTTP (no SDK): every endpoint and every refusal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from baijiayun._endpoints import GET_BASIC_INFO
from baijiayun._signing import sign
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.testing import EmulatorTransport

from .emulator_helpers import Raw


@pytest.fixture
def raw(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> Iterator[Raw]:
    client = Raw(bjy_emulator, bjy_account)
    yield client
    client.http.close()


@pytest.fixture
def rooms(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> dict[str, int]:
    pid = bjy_account["partner_id"]
    short = bjy_emulator.create_room(pid, room_id=17110879095169, title="第1讲")["room_id"]
    bjy_emulator.create_recording(short, status=100)
    bjy_emulator.create_crop(short)
    long = bjy_emulator.create_room(pid, room_id=17110879095170, long_term=True)["room_id"]
    session = bjy_emulator.create_recording(long, status=100)["session_id"]
    bjy_emulator.add_ppt(short, name="s.pdf", date="2026-11-25")
    return {"short": short, "long": long, "session": session}


def ok(body: dict[str, Any]) -> Any:
    assert (body["code"], body["msg"]) == (0, ""), body
    return body["data"]


def test_every_playback_endpoint_by_hand(
    raw: Raw, rooms: dict[str, int], bjy_emulator: Emulator
) -> None:
    short, long, session = rooms["short"], rooms["long"], rooms["session"]
    info = ok(raw.post("getBasicInfo", {"room_id": short}))
    assert (
        info["status"] == 100
        and isinstance(info["video_id"], int)
        and isinstance(info["create_time"], int)
    )
    listing = ok(raw.post("getList", {"product_type": 1, "page": 1, "page_size": 10}))
    assert listing["total"] == 2 and isinstance(listing["list"][0]["create_time"], str)
    assert set(listing["list"][0]) >= {
        "room_id",
        "session_id",
        "version",
        "video_id",
        "name",
        "status",
        "create_time",
        "length",
        "total_size",
        "total_transcode_size",
        "play_times",
        "play_url",
        "preface_url",
        "publish_status",
    }
    assert isinstance(
        ok(raw.post("getPlayerToken", {"room_id": short, "expires_in": 0}))["token"], str
    )
    batch = ok(
        raw.post("getPlayerTokenBatch", {"room_ids": f"{short},{long}-{session}", "expires_in": 0})
    )
    assert set(batch) == {str(short), f"{long}-{session}"}
    sessions = ok(raw.post("getSessionList", {"room_id": long}))["list"]
    assert [s["session_id"] for s in sessions] == [session]
    assert ok(raw.post("setPublishStatus", {"room_id": short, "status": 2})) == {"status": 2}
    assert ok(raw.post("update", {"room_id": short, "name": "改名 & 测试"})) is None
    crops = ok(raw.post("getCropList", {"room_id": short}))
    assert [(c["version"], c["is_main"]) for c in crops["list"]] == [(0, 1), (1, 0)]
    assert ok(raw.post("setMainVersion", {"room_id": short, "version": 1})) is None
    pdfs = ok(raw.post("getPlaybackPptUrlList", {"room_id": short, "date": "2026-11-25"}))["list"]
    assert [(p["name"], p["date"], p["session_id"]) for p in pdfs] == [("s.pdf", "2026-11-25", 0)]
    assert [p["name"] for p in ok(raw.post("getPlaybackPptUrl", {"room_id": short}))["list"]] == [
        "s.pdf"
    ]
    assert (
        ok(
            raw.post(
                "replacePlayback",
                {
                    "type": 2,
                    "source_room_id": long,
                    "source_session_id": session,
                    "target_room_id": short,
                    "is_replace_main": 1,
                },
            )
        )
        is None
    )
    assert ok(raw.post("delete", {"room_id": short, "version": 2})) is None
    rows = bjy_emulator.playback_rows(short, include_deleted=True)
    assert [
        (r["version"], r["name"], r["publish_status"], r["is_main"], r["deleted"]) for r in rows
    ] == [
        (0, "改名 & 测试", 2, True, False),
        (1, "改名 & 测试", 2, False, False),
        (2, "改名 & 测试", 2, False, True),
    ]
    # the main version was deleted: the lowest remaining version takes over
    assert ok(raw.post("getBasicInfo", {"room_id": short}))["video_id"] == rows[0]["video_id"]


def test_get_query_and_multipart_are_accepted(raw: Raw, rooms: dict[str, int]) -> None:
    params = raw.form({"room_id": rooms["short"]})
    assert raw.http.get("/openapi/playback/getBasicInfo", params=params).json()["code"] == 0
    multipart = raw.http.post(
        "/openapi/playback/getBasicInfo", files={k: (None, v) for k, v in params.items()}
    )
    assert multipart.json()["code"] == 0
    split = raw.form({"room_id": rooms["short"]})
    query = {"sign": split.pop("sign")}
    merged = raw.http.post("/openapi/playback/getBasicInfo", params=query, data=split)
    assert merged.json()["code"] == 0


def test_json_body_is_refused(raw: Raw, rooms: dict[str, int]) -> None:
    body = raw.http.post(
        "/openapi/playback/getBasicInfo", json=raw.form({"room_id": rooms["short"]})
    ).json()
    assert body["code"] == 1001 and "JSON" in body["msg"]


def test_empty_values_are_signed_as_received(raw: Raw, rooms: dict[str, int]) -> None:
    body = raw.post("getBasicInfo", {"room_id": rooms["short"], "session_id": ""})
    assert body["code"] == 0


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"sign": "0" * 32}, 1002, "签名错误"),
        ({"sign": ""}, 1002, "missing sign"),
        ({"partner_id": "999"}, 2001, "partner_id=999"),
        ({"partner_id": "abc"}, 1001, "partner_id"),
        ({"timestamp": "1700000000"}, 1001, "timestamp"),
        ({"timestamp": ""}, 1001, "missing parameter timestamp"),
        ({"partner_key": "leaked"}, 1002, "partner_key"),
    ],
)
def test_refusals(
    raw: Raw, rooms: dict[str, int], change: dict[str, str], code: int, words: str
) -> None:
    form = raw.form({"room_id": rooms["short"]})
    form.update(change)
    body = raw.http.post("/openapi/playback/getBasicInfo", data=form).json()
    assert (body["code"], body["data"]) == (code, None)
    assert words in body["msg"]


def test_stale_timestamp_names_the_skew(raw: Raw, rooms: dict[str, int]) -> None:
    body = raw.post("getBasicInfo", {"room_id": rooms["short"]}, ts=int(time.time()) - 301)
    assert body["code"] == 1001 and "timestamp" in body["msg"] and "off" in body["msg"]
    assert (
        raw.post("getBasicInfo", {"room_id": rooms["short"]}, ts=int(time.time()) - 250)["code"]
        == 0
    )


@pytest.mark.parametrize(
    ("action", "params", "words"),
    [
        ("getBasicInfo", {}, "missing parameter room_id"),
        ("getBasicInfo", {"room_id": "x1"}, "invalid room_id"),
        ("getList", {"page": 1}, "missing parameter page_size"),
        ("getList", {"page": 1, "page_size": 1001}, "invalid page_size"),
        ("getList", {"page": 0, "page_size": 10}, "invalid page"),
        ("getList", {"page": 1, "page_size": 10, "product_type": 0}, "invalid product_type"),
        ("setPublishStatus", {"room_id": 1, "status": 3}, "invalid status"),
        ("getPlayerToken", {"room_id": 1}, "missing parameter expires_in"),
        ("getPlayerToken", {"room_id": 1, "expires_in": -5}, "invalid expires_in"),
        ("getPlayerTokenBatch", {"room_ids": "1,,2", "expires_in": 0}, "invalid room_ids"),
        (
            "getPlayerTokenBatch",
            {"room_ids": ",".join(str(i) for i in range(1, 102)), "expires_in": 0},
            "at most 100",
        ),
        ("replacePlayback", {"type": 1, "source_room_id": 1}, "missing parameter target_room_id"),
        ("getPlaybackPptUrlList", {"room_id": 1, "date": "2026/11/25"}, "invalid date"),
        ("update", {"room_id": 1, "name": ""}, "invalid name"),
    ],
)
def test_bad_parameters_get_1001_naming_them(
    raw: Raw, action: str, params: dict[str, Any], words: str
) -> None:
    body = raw.post(action, params)
    assert body["code"] == 1001
    assert words in body["msg"]


def test_unknown_path_is_code_404(raw: Raw) -> None:
    body = raw.post("getNothing", {})
    assert body["code"] == 404 and "getNothing" in body["msg"]


def test_room_codes(raw: Raw, rooms: dict[str, int], bjy_emulator: Emulator) -> None:
    assert raw.post("getBasicInfo", {"room_id": 12345678901234})["code"] == 3001
    bjy_emulator.delete_room(rooms["short"])
    assert raw.post("getBasicInfo", {"room_id": rooms["short"]})["code"] == 3002
    assert raw.post("getBasicInfo", {"room_id": rooms["long"], "session_id": 1})["code"] == 1


def test_debug_mode_explains_a_bad_sign(bjy_account: dict[str, Any], database_url: str) -> None:
    with Emulator(database_url, EmulatorConfig(debug_signatures=True)) as emulator:
        emulator.reset()
        account = emulator.create_account()
        client = Raw(emulator, account)
        body = client.post("getBasicInfo", {"room_id": 5}, key="wrong")
        assert body["code"] == 1002
        assert "room_id=5&timestamp=" in body["msg"] and body["msg"].endswith("&partner_key=***")
        assert account["partner_key"] not in body["msg"]
        client.http.close()


def test_201st_call_in_10_s_is_refused_and_recovers(
    bjy_account: dict[str, Any], database_url: str
) -> None:
    now = [100.0]
    with Emulator(database_url, rate_clock=lambda: now[0]) as emulator:
        emulator.reset()
        account = emulator.create_account()
        other = emulator.create_account()
        client, neighbour = Raw(emulator, account), Raw(emulator, other)
        codes = [client.post("getBasicInfo", {"room_id": 1})["code"] for _ in range(200)]
        assert set(codes) == {3001}
        limited = client.post("getBasicInfo", {"room_id": 1})
        assert (limited["code"], limited["msg"]) == (429, "请求过于频繁")
        assert neighbour.post("getBasicInfo", {"room_id": 1})["code"] == 3001  # per partner_id
        now[0] += 9.9
        assert client.post("getBasicInfo", {"room_id": 1})["code"] == 429
        now[0] += 0.2
        assert client.post("getBasicInfo", {"room_id": 1})["code"] == 3001
        client.http.close()
        neighbour.http.close()


def test_createkey_rotation_invalidates_the_old_key(raw: Raw, rooms: dict[str, int]) -> None:
    old = raw.account["partner_key"]
    plain = {"partner_id": str(raw.account["partner_id"]), "timestamp": str(int(time.time()))}
    same = raw.http.post(
        "/openapi/partner/createkey", data={**plain, "secret_key": raw.account["secret_key"]}
    )
    assert same.json()["data"] == {"partner_key": old}
    wrong = raw.http.post("/openapi/partner/createkey", data={**plain, "secret_key": "nope"}).json()
    assert wrong["code"] == 1002
    unknown = raw.http.post(
        "/openapi/partner/createkey", data={**plain, "partner_id": "1", "secret_key": "x"}
    )
    assert unknown.json()["code"] == 2001
    rotated = raw.http.post(
        "/openapi/partner/createkey",
        data={**plain, "secret_key": raw.account["secret_key"], "regenerate": "1"},
    ).json()["data"]["partner_key"]
    assert rotated != old
    assert raw.post("getBasicInfo", {"room_id": rooms["short"]})["code"] == 1002
    assert raw.post("getBasicInfo", {"room_id": rooms["short"]}, key=rotated)["code"] == 0


def test_sdk_with_secret_key_recovers_from_rotation(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], rooms: dict[str, int]
) -> None:
    from baijiayun import BaiJiaYunClient

    http = httpx.Client(transport=EmulatorTransport(bjy_emulator))
    with BaiJiaYunClient(
        bjy_account["partner_id"],
        secret_key=bjy_account["secret_key"],
        base_url="http://e",
        http_client=http,
    ) as client:
        assert client.playback.get_basic_info(rooms["short"]).status == 100
        new_key = bjy_emulator.rotate_key(
            bjy_account["partner_id"], bjy_account["secret_key"], True
        )
        assert client.playback.get_basic_info(rooms["short"]).status == 100
        probe = client.build_request(GET_BASIC_INFO, {"room_id": 1})  # signed with the key held
        form = dict(httpx.QueryParams(probe.content.decode()))
        assert form.pop("sign") == sign(form, new_key)


def test_transcode_callback_url_endpoints(raw: Raw) -> None:
    assert ok(raw.post("getTranscodeCallbackUrl", {}, module="video_account")) == {"url": ""}
    assert (
        raw.post("setTranscodeCallbackUrl", {"url": "ftp://x"}, module="video_account")["code"]
        == 1001
    )
    assert ok(
        raw.post(
            "setTranscodeCallbackUrl", {"url": "http://127.0.0.1:9/cb"}, module="video_account"
        )
    ) == {"url": "http://127.0.0.1:9/cb"}
    assert ok(raw.post("getTranscodeCallbackUrl", {}, module="video_account")) == {
        "url": "http://127.0.0.1:9/cb"
    }


def test_player_page_token_rules(raw: Raw, rooms: dict[str, int], bjy_emulator: Emulator) -> None:
    short, long, session = rooms["short"], rooms["long"], rooms["session"]
    token = ok(raw.post("getPlayerToken", {"room_id": short, "expires_in": 2}))["token"]
    page = raw.http.get("/web/playback/index", params={"classid": short, "token": token})
    assert page.status_code == 200 and "第1讲" in page.text
    assert (
        raw.http.get("/web/playback/index", params={"classid": long, "token": token}).status_code
        == 403
    )
    assert (
        raw.http.get(
            "/web/playback/index", params={"classid": short, "token": "forged"}
        ).status_code
        == 403
    )
    assert raw.http.get("/web/playback/index", params={"classid": short}).status_code == 403
    long_token = ok(
        raw.post("getPlayerToken", {"room_id": long, "session_id": session, "expires_in": 0})
    )["token"]
    params = {"classid": long, "session_id": session, "token": long_token}
    assert raw.http.get("/web/playback/index", params=params).status_code == 200
    assert (
        raw.http.get("/web/playback/index", params={**params, "session_id": 1}).status_code == 403
    )
    bjy_emulator.clock = lambda: time.time() + 3
    expired = raw.http.get("/web/playback/index", params={"classid": short, "token": token})
    assert expired.status_code == 403 and "expired" in expired.text
    assert (
        raw.http.get("/web/playback/index", params=params).status_code == 200
    )  # expires_in=0 never expires


def test_admin_api_over_http(bjy_emulator: Emulator) -> None:
    with httpx.Client(transport=EmulatorTransport(bjy_emulator), base_url="http://e") as http:
        account = http.post("/_emulator/accounts", json={"partner_id": 555}).json()["result"]
        assert account["partner_id"] == 555
        room = http.post("/_emulator/rooms", json={"partner_id": 555, "long_term": True}).json()[
            "result"
        ]
        created = http.post("/_emulator/recordings", json={"room_id": room["room_id"]}).json()[
            "result"
        ]
        session = created["session_id"]
        for status in (10, 20, 100):
            step = http.post(
                "/_emulator/recordings/advance",
                json={"room_id": room["room_id"], "session_id": session, "status": status},
            )
            assert step.json()["result"]["status"] == status
        crop = http.post(
            "/_emulator/crops", json={"room_id": room["room_id"], "session_id": session}
        ).json()
        assert crop["result"]["version"] == 1
        rows = http.get(f"/_emulator/rooms/{room['room_id']}/playbacks").json()["result"]
        assert [r["version"] for r in rows] == [0, 1]
        bad = http.post(
            "/_emulator/recordings/advance",
            json={"room_id": room["room_id"], "session_id": session},
        )
        assert bad.status_code == 400 and "cannot go from status 100" in bad.json()["error"]
        assert http.post("/_emulator/rooms", content=b"[1]").status_code == 400
        fault = http.post(
            "/_emulator/faults",
            json={"endpoint": "getList", "kind": "error", "value": 1002, "times": 1},
        )
        assert fault.json()["result"]["kind"] == "error"
        assert len(http.get("/_emulator/faults").json()["result"]) == 1
        assert (
            http.post("/_emulator/faults", json={"endpoint": "x", "kind": "boom"}).status_code
            == 400
        )
        http.post("/_emulator/reset")
        assert http.get("/_emulator/accounts/555").json()["result"] is None
        assert http.get("/_emulator/faults").json()["result"] == []
