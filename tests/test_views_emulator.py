"""Viewing records in the emulator (docs/protocol.md#viewing-records): window rules, reads, beacons, bulk adds, seeds."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from baijiayun import _endpoints as ep
from baijiayun.cli.main import cli
from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.player import VIDEO_FILE
from baijiayun.emulator.seed_large import LARGE_ACCOUNT
from baijiayun.emulator.server import BackgroundServer, free_port

from .emulator_helpers import Raw

DAY = "2026-11-20"
RECORD_FIELDS = {
    "guid", "uuid", "room_id", "session_id", "version", "video_id", "user_name", "user_number",
    "play_begin_time", "play_end_time", "client_type", "play_length", "user_ip", "area",
}  # fmt: skip


class Clock:
    """The emulator's wall clock, moved by hand (starting now: signed timestamps stay valid)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class World:
    """An emulator with a short-term room, a long-term room of two sessions, another account."""

    def __init__(self, database_url: str, rate_limit: int | None = None) -> None:
        self.clock = Clock()
        config = EmulatorConfig(report_interval=1.0, rate_limit=rate_limit)
        self.emulator = Emulator(database_url, config, clock=self.clock)
        self.emulator.reset()
        emu = self.emulator
        self.account = emu.create_account()
        partner = self.account["partner_id"]
        self.short = emu.create_room(partner, product_type=2)["room_id"]
        emu.create_recording(self.short, status=100, length=1800)
        self.long = emu.create_room(partner, long_term=True, product_type=1)["room_id"]
        self.sessions = [
            emu.create_recording(self.long, status=100, length=600)["session_id"] for _ in range(2)
        ]
        other = emu.create_account()
        self.foreign = emu.create_room(other["partner_id"])["room_id"]
        emu.create_recording(self.foreign, status=100)
        self.raw = Raw(emu, self.account)

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        """A signed form post, timestamped by the emulator's (moved) clock."""
        form = self.raw.form(params, ts=int(self.clock.now))
        response = self.raw.http.post(f"/openapi/video_data/{action}", data=form)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        assert set(body) == {"code", "msg", "data", "ts"}
        return body

    def token(self, room_id: int, session_id: int | None = None) -> str:
        params: dict[str, Any] = {"room_id": room_id, "expires_in": 0}
        if session_id:
            params["session_id"] = session_id
        body = self.raw.post("getPlayerToken", params)
        assert body["code"] == 0, body
        return str(body["data"]["token"])

    def beacon(self, token: str, room_id: int, **fields: Any) -> httpx.Response:
        form = {
            "guid": "a" * 32,
            "uuid": "client-1",
            "classid": str(room_id),
            "token": token,
            "event": "heartbeat",
            "duration": "0",
            "position": "0",
            "user_number": "7",
            "user_name": "小明",
        }
        form.update({k: str(v) for k, v in fields.items()})
        return self.raw.http.post("/web/playback/beacon", data=form)


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    made = World(database_url)
    try:
        yield made
    finally:
        made.raw.http.close()
        made.emulator.close()


def _today(world: World) -> str:
    return dt.datetime.fromtimestamp(world.clock.now, ep.BEIJING).strftime("%Y-%m-%d")


# -- window rules ----------------------------------------------------------------------------


WINDOW_CASES: list[tuple[dict[str, Any], str]] = [
    ({"start_time": f"{DAY} 00:00:00", "end_time": "2026-11-21 00:00:00"}, "end_time"),
    ({"start_time": f"{DAY} 23:00:00", "end_time": "2026-11-21 01:00:00"}, "end_time"),
    ({"start_time": f"{DAY} 10:00:01", "end_time": f"{DAY} 10:00:00"}, "end_time"),
    ({"start_time": f"{DAY}T00:00:00", "end_time": f"{DAY} 10:00:00"}, "start_time"),
    ({"start_time": f"{DAY} 00:00", "end_time": f"{DAY} 10:00:00"}, "start_time"),
    ({"start_time": f"{DAY} 00:00:00", "end_time": f"{DAY} 24:00:00"}, "end_time"),
    ({"start_time": f"{DAY} 00:00:00"}, "end_time"),
    ({"end_time": f"{DAY} 00:00:00"}, "start_time"),
    ({"start_time": f"{DAY} 00:00:00", "end_time": DAY}, "end_time"),
    (
        {"start_time": f"{DAY} 00:00:00", "end_time": f"{DAY} 10:00:00", "page_size": 1001},
        "page_size",
    ),
    (
        {"start_time": f"{DAY} 00:00:00", "end_time": f"{DAY} 10:00:00", "page_size": 0},
        "page_size",
    ),
    ({"start_time": f"{DAY} 00:00:00", "end_time": f"{DAY} 10:00:00", "page": 0}, "page"),
]
"""Each window that breaks the rules of docs/protocol.md#viewing-records, and the parameter the 1001 must name."""


@pytest.mark.parametrize("action", ["getPlaybackPlayRecord", "exportVideoReportBatch"])
def test_window_rules_answer_1001_naming_the_parameter(world: World, action: str) -> None:
    extra = {"room_id": world.short} if action == "getPlaybackPlayRecord" else {}
    for window, param in WINDOW_CASES:
        body = world.call(action, **extra, **window)
        assert body["code"] == 1001 and body["data"] is None, (window, body)
        assert param in body["msg"], (window, body)


def test_a_whole_day_and_1000_a_page_are_accepted(world: World) -> None:
    for action, extra in (
        ("getPlaybackPlayRecord", {"room_id": world.short}),
        ("exportVideoReportBatch", {}),
    ):
        body = world.call(
            action,
            **extra,
            start_time=f"{DAY} 00:00:00",
            end_time=f"{DAY} 23:59:59",
            page_size=1000,
        )
        assert body["code"] == 0 and body["data"] == {"total": 0, "list": []}, body


def test_faults_and_the_rate_limit_reach_the_video_data_endpoints(database_url: str) -> None:
    world = World(database_url, rate_limit=2)
    try:
        world.emulator.inject_fault("exportVideoReportBatch", "error", 500, times=1)
        window = {"start_time": f"{DAY} 00:00:00", "end_time": f"{DAY} 23:59:59"}
        assert world.call("exportVideoReportBatch", **window)["code"] == 500
        assert world.call("exportVideoReportBatch", **window)["code"] == 0
        assert world.call("getPlaybackPlayRecord", room_id=world.short, **window)["code"] == 0
        limited = world.call("getPlaybackPlayRecord", room_id=world.short, **window)
        assert limited["code"] == 429
        partner = world.account["partner_id"]
        assert world.emulator.calls(partner, "exportVideoReportBatch", "fault") == 1
        assert world.emulator.calls(partner, "getPlaybackPlayRecord", "rate_limited") == 1
    finally:
        world.raw.http.close()
        world.emulator.close()


def test_the_sdk_core_and_the_emulator_read_one_rule() -> None:
    for endpoint in ep.VIDEO_DATA_ENDPOINTS:
        with pytest.raises(ep.RuleError) as refused:
            endpoint.check_rules(
                {"start_time": f"{DAY} 23:59:59", "end_time": "2026-11-21 00:00:00"}
            )
        assert refused.value.param == "end_time" and "跨天" in str(refused.value)
        assert endpoint.retry_safe and endpoint.by_name["page_size"].maximum == 1000
    assert ep.beijing_wire_time(dt.datetime(2026, 11, 20, 16, 30, tzinfo=dt.timezone.utc)) == (
        "2026-11-21 00:30:00"
    )
    assert ep.beijing_wire_time(dt.datetime(2026, 11, 20, 16, 30)) == "2026-11-20 16:30:00"


# -- reads ---------------------------------------------------------------------------------


def _add(world: World, *records: dict[str, Any]) -> list[dict[str, Any]]:
    return world.emulator.add_views(list(records))


def test_a_window_lists_plays_that_began_in_it_in_time_then_guid_order(world: World) -> None:
    _add(
        world,
        {"room_id": world.short, "guid": "b" * 32, "play_begin_time": f"{DAY} 10:00:00"},
        {"room_id": world.short, "guid": "a" * 32, "play_begin_time": f"{DAY} 10:00:00"},
        {"room_id": world.short, "guid": "c" * 32, "play_begin_time": f"{DAY} 23:59:59"},
        {"room_id": world.short, "guid": "d" * 32, "play_begin_time": "2026-11-21 00:00:00"},
        {"room_id": world.short, "guid": "e" * 32, "play_begin_time": f"{DAY} 09:59:59"},
        {
            "room_id": world.short,
            "guid": "f" * 32,
            "play_begin_time": f"{DAY} 12:00:00",
            "play_length": 95,
            "user_number": 20260001,
            "user_name": "王芳",
            "uuid": "device-9",
            "client_type": 3,
            "user_ip": "10.0.0.9",
            "area": "北京 北京",
        },
    )
    window = {"start_time": f"{DAY} 10:00:00", "end_time": f"{DAY} 23:59:59"}
    body = world.call("getPlaybackPlayRecord", room_id=world.short, **window)
    assert body["code"] == 0, body
    assert body["data"]["total"] == 4
    assert [r["guid"][0] for r in body["data"]["list"]] == ["a", "b", "f", "c"]
    played = body["data"]["list"][2]
    assert set(played) == RECORD_FIELDS
    assert played == {
        "guid": "f" * 32,
        "uuid": "device-9",
        "room_id": world.short,
        "session_id": 0,
        "version": 0,
        "video_id": played["video_id"],
        "user_name": "王芳",
        "user_number": "20260001",
        "play_begin_time": f"{DAY} 12:00:00",
        "play_end_time": f"{DAY} 12:01:35",
        "client_type": 3,
        "play_length": 95,
        "user_ip": "10.0.0.9",
        "area": "北京 北京",
    }
    assert played["video_id"] == world.emulator.playback_rows(world.short)[0]["video_id"]
    page = world.call("getPlaybackPlayRecord", room_id=world.short, page=2, page_size=3, **window)[
        "data"
    ]
    assert page["total"] == 4 and [r["guid"][0] for r in page["list"]] == ["c"]
    beyond = world.call("getPlaybackPlayRecord", room_id=world.short, page=3, page_size=3, **window)
    assert beyond["data"] == {"total": 4, "list": []}
    next_day = world.call(
        "getPlaybackPlayRecord",
        room_id=world.short,
        start_time="2026-11-21 00:00:00",
        end_time="2026-11-21 00:00:00",
    )
    assert [r["guid"][0] for r in next_day["data"]["list"]] == ["d"]


def test_sessions_rooms_and_the_account_wide_export(world: World) -> None:
    first, second = world.sessions
    _add(
        world,
        {"room_id": world.long, "session_id": first, "play_begin_time": f"{DAY} 08:00:00"},
        {"room_id": world.long, "session_id": second, "play_begin_time": f"{DAY} 09:00:00"},
        {"room_id": world.short, "play_begin_time": f"{DAY} 10:00:00"},
        {"room_id": world.foreign, "play_begin_time": f"{DAY} 11:00:00"},
    )
    window = {"start_time": f"{DAY} 00:00:00", "end_time": f"{DAY} 23:59:59"}

    def sessions(**params: Any) -> Any:
        body = world.call("getPlaybackPlayRecord", **params, **window)
        return body["code"] if body["code"] else [r["session_id"] for r in body["data"]["list"]]

    assert sessions(room_id=world.long) == [first, second]  # absent: every session
    assert sessions(room_id=world.long, session_id=second) == [second]
    assert sessions(room_id=world.long, session_id=second + 7) == 1  # no playback there
    assert sessions(room_id=world.short, session_id=5) == 1  # short-term: no sessions
    assert sessions(room_id=world.short, session_id=0) == [0]
    assert sessions(room_id=world.foreign) == 3001  # another account's room
    assert sessions(room_id=99) == 3001

    def rooms(**params: Any) -> Any:
        body = world.call("exportVideoReportBatch", **params, **window)
        return body["code"] if body["code"] else [r["room_id"] for r in body["data"]["list"]]

    assert rooms() == [world.long, world.long, world.short]  # never the other account's
    assert rooms(product_type=2) == [world.short]
    assert rooms(product_type=1) == [world.long, world.long]
    assert rooms(product_type=5) == []  # VOD: none in the emulator
    assert rooms(product_type=6) == 1001
    assert rooms(product_type=0) == 1001
    # counted like every endpoint (refused parameters too: they passed sign and rate checks)
    assert world.emulator.calls(world.account["partner_id"], "exportVideoReportBatch") == 6
    assert world.emulator.calls(world.account["partner_id"], "getPlaybackPlayRecord") == 7


# -- beacons -------------------------------------------------------------------------------


def test_beacons_make_one_record_per_play_that_grows_until_it_ends(world: World) -> None:
    token = world.token(world.short)
    started = world.clock.now
    assert world.beacon(token, world.short, event="play", duration=0).status_code == 204
    world.clock.now += 0.9
    assert world.beacon(token, world.short, duration=900, position=900).status_code == 204
    world.clock.now += 0.5  # a late beacon with less played (a lost one in between): no loss
    assert world.beacon(token, world.short, duration=400, position=400).status_code == 204
    world.clock.now += 0.6
    assert world.beacon(token, world.short, event="pause", duration=2400).status_code == 204
    world.clock.now += 2.5  # paused less than 3 report intervals: the play goes on
    assert world.beacon(token, world.short, event="play", duration=2400).status_code == 204
    world.clock.now += 1.0
    assert world.beacon(token, world.short, event="leave", duration=3600).status_code == 204
    world.clock.now += 1.0
    assert world.beacon(token, world.short, duration=9000).status_code == 204  # after its end
    [stored] = world.emulator.play_records(world.short)
    assert stored["ended"] and stored["duration_ms"] == 3600 and stored["play_length"] == 4
    day = _today(world)
    body = world.call(
        "getPlaybackPlayRecord",
        room_id=world.short,
        start_time=f"{day} 00:00:00",
        end_time=f"{day} 23:59:59",
    )
    [record] = body["data"]["list"]
    begin = dt.datetime.fromtimestamp(int(started), ep.BEIJING).strftime(ep.TIME_FORMAT)
    end = dt.datetime.fromtimestamp(int(started + 5.5), ep.BEIJING).strftime(ep.TIME_FORMAT)
    assert record["play_begin_time"] == begin and record["play_end_time"] == end
    assert record["play_length"] == 4 and record["client_type"] == 5 and record["area"] == ""
    assert (record["user_number"], record["user_name"], record["uuid"]) == ("7", "小明", "client-1")

    # a second play (a new guid) is a second record
    world.beacon(token, world.short, guid="b" * 32, event="play", duration=0)
    assert [r["guid"] for r in world.emulator.play_records(world.short)] == ["a" * 32, "b" * 32]


def test_three_silent_report_intervals_end_a_play(world: World) -> None:
    token = world.token(world.short)
    world.beacon(token, world.short, event="play", duration=1000)
    world.clock.now += 3.2  # more than 3 x report_interval (1 s) without a beacon
    assert world.beacon(token, world.short, duration=5000).status_code == 204
    [stored] = world.emulator.play_records(world.short)
    assert stored["play_length"] == 1 and stored["duration_ms"] == 1000


def test_a_token_for_another_room_or_session_gets_403_and_no_record(world: World) -> None:
    other_room = world.token(world.long, world.sessions[0])
    refused = world.beacon(other_room, world.short, event="play")
    assert refused.status_code == 403 and "not valid for this room" in refused.text
    page = world.raw.http.get(
        "/web/playback/index", params={"classid": world.short, "token": other_room}
    )
    assert page.status_code == 403
    other_session = world.beacon(other_room, world.long, session_id=world.sessions[1], event="play")
    assert other_session.status_code == 403 and "another session" in other_session.text
    assert world.beacon("no-such-token", world.short).status_code == 403
    assert world.emulator.play_records() == []


BAD_BEACONS: list[tuple[dict[str, str], str]] = [
    ({"guid": "short"}, "guid"),
    ({"event": "rewind"}, "event"),
    ({"duration": "-1"}, "duration"),
    ({"duration": "1.5"}, "duration"),
    ({"uuid": ""}, "uuid"),
    ({"user_name": "x" * 101}, "user_name"),
]


def test_a_bad_beacon_is_400_naming_the_field(world: World) -> None:
    token = world.token(world.short)
    for fields, said in BAD_BEACONS:
        answer = world.beacon(token, world.short, **fields)
        assert answer.status_code == 400 and said in answer.text, (fields, answer.text)
    assert world.emulator.play_records() == []


def test_a_beacon_may_come_as_a_get_query(world: World) -> None:
    token = world.token(world.short)
    query = {"guid": "c" * 32, "uuid": "u", "classid": world.short, "token": token}
    answer = world.raw.http.get(
        "/web/playback/beacon", params={**query, "event": "play", "duration": 1500}
    )
    assert answer.status_code == 204
    assert world.emulator.play_records()[0]["play_length"] == 2


# -- the page and its video ----------------------------------------------------------------


def test_the_page_plays_the_local_video_with_ranges_and_names_the_playback(world: World) -> None:
    world.emulator.create_recording(
        world.long, status=100, name="</script><script>alert(1)</script>"
    )
    session = world.emulator.playback_rows(world.long)[-1]["session_id"]
    token = world.token(world.long, session)
    page = world.raw.http.get(
        "/web/playback/index",
        params={"classid": world.long, "session_id": session, "token": token, "user_name": "</"},
    )
    assert page.status_code == 200
    assert "<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page.text
    assert "<script>alert" not in page.text and "://" not in page.text  # nothing from outside
    config = re.search(r'<script id="config" type="application/json">(.*?)</script>', page.text)
    assert config is not None
    settings = json.loads(config[1])
    assert settings["report_interval"] == 1.0 and settings["user_name"] == "</"
    assert settings["classid"] == str(world.long) and settings["session_id"] == str(session)

    size = VIDEO_FILE.stat().st_size
    assert 30_000 < size < 1_000_000
    whole = world.raw.http.get("/web/playback/video.webm")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/webm"
    assert whole.headers["accept-ranges"] == "bytes" and len(whole.content) == size
    assert whole.content[:4] == b"\x1a\x45\xdf\xa3"  # EBML: Matroska/WebM
    part = world.raw.http.get("/web/playback/video.webm", headers={"range": "bytes=1000-1099"})
    assert part.status_code == 206 and part.content == whole.content[1000:1100]
    assert part.headers["content-range"] == f"bytes 1000-1099/{size}"


# -- bulk adds and seeds -------------------------------------------------------------------


def test_admin_views_adds_records_in_bulk(world: World) -> None:
    http = world.raw.http
    posted = [
        {"room_id": world.short, "play_begin_time": f"{DAY} 08:00:00", "play_length": 60},
        {"room_id": world.short, "guid": "9" * 32, "play_begin_time": 1_790_000_000},
    ]
    answer = http.post("/_emulator/views", json=posted)
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert result["added"] == 2 and result["guids"][1] == "9" * 32
    assert re.fullmatch(r"[0-9a-f]{32}", result["guids"][0])
    stored = {r["guid"]: r for r in world.emulator.play_records()}
    assert stored[result["guids"][0]]["play_length"] == 60

    bad = http.post(
        "/_emulator/views",
        json=[{"room_id": world.short, "play_begin_time": f"{DAY} 08:00:00"}, {"room_id": 1}],
    )
    assert bad.status_code == 400 and bad.json()["field"] == "[1].room_id"
    late = http.post(
        "/_emulator/views", json=[{"room_id": world.short, "play_begin_time": "2026-11-20"}]
    )
    assert late.status_code == 400 and late.json()["field"] == "[0].play_begin_time"
    again = http.post("/_emulator/views", json=[posted[1]])
    assert again.status_code == 400 and "guid" in again.json()["error"]
    assert http.post("/_emulator/views", json={"room_id": 1}).status_code == 400
    assert http.post("/_emulator/views", content=b"[").status_code == 400
    assert len(world.emulator.play_records()) == 2  # all or none


def test_admin_views_is_guarded_like_every_admin_route() -> None:
    with Emulator() as emulator, BackgroundServer(emulator) as server:
        foreign = httpx.post(
            f"{server.base_url}/_emulator/views",
            json=[],
            headers={"origin": "https://evil.example"},
        )
        assert foreign.status_code == 403 and "cross-origin" in foreign.json()["error"]
        assert httpx.post(f"{server.base_url}/_emulator/views", json=[]).status_code == 200


def _views_snapshot(database_url: str, clock: Clock) -> list[dict[str, Any]]:
    with Emulator(database_url, clock=clock) as emulator:
        emulator.reset()
        counts = emulator.seed_large(40, views=700)
        assert counts["views"] == 700
        return emulator.play_records()


def test_seed_large_views_are_the_same_on_one_day_and_lie_in_its_last_30_days(
    database_url: str,
) -> None:
    clock = Clock()
    # noon in Beijing, so the minute later is the same day whenever the test runs (from 23:59
    # it was the next day, whose views differ)
    today_noon = dt.datetime.fromtimestamp(clock.now, ep.BEIJING).replace(hour=12, minute=0)
    clock.now = today_noon.timestamp()
    first = _views_snapshot(database_url, clock)
    clock.now += 60
    assert _views_snapshot(database_url, clock) == first
    today = dt.datetime.fromtimestamp(clock.now, ep.BEIJING).date()
    days = {dt.datetime.fromtimestamp(r["play_begin_time"], ep.BEIJING).date() for r in first}
    assert min(days) == today - dt.timedelta(days=30) and max(days) == today - dt.timedelta(1)
    assert len(days) == 30
    assert {r["partner_id"] for r in first} == {LARGE_ACCOUNT["partner_id"]}
    assert len({r["guid"] for r in first}) == 700
    assert any(r["user_number"] == "" for r in first)  # some anonymous plays


def test_demo_includes_a_few_hundred_views(bjy_emulator: Emulator) -> None:
    counts = bjy_emulator.seed_demo()
    assert counts["views"] == 400 and len(bjy_emulator.play_records()) == 400


def test_serve_takes_views_and_report_interval(tmp_path: Path) -> None:
    port = free_port()
    command = [str(Path(sys.executable).parent / "baijiayun"), "emulator", "serve"]
    command += ["--port", str(port), "--seed", "large", "--seed-size", "30", "--views", "90"]
    command += ["--report-interval", "2.5", "--database", "sqlite://"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        said = []
        while not said or "emulator on" not in said[-1]:
            said.append(process.stderr.readline())
            assert said[-1], "".join(said)
        assert "'views': 90" in "".join(said)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/_emulator/faults")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        key = LARGE_ACCOUNT["partner_key"]
        with BaiJiaYunClient(LARGE_ACCOUNT["partner_id"], key, base_url=base) as client:
            room = client.playback.get_list(None, 1, 1).items[0].room_id
            token = client.playback.get_player_token(room, 0).token
        page = httpx.get(f"{base}/web/playback/index", params={"classid": room, "token": token})
        assert '"report_interval": 2.5' in page.text
    finally:
        process.terminate()
        process.wait(10)


def test_serve_refuses_a_report_interval_of_zero() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--report-interval", "0"])
    assert result.exit_code == 2 and "--report-interval" in result.output


# -- hostile input -------------------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.sampled_from(["", "0", "-1", "１", "1e3", "9" * 30, "\x00", "a" * 32, "é" * 200, "play"]),
    st.text(max_size=40),
)
BEACON_FIELDS = (
    "guid", "uuid", "classid", "session_id", "token", "event", "duration", "position",
    "user_number", "user_name",
)  # fmt: skip


@given(data=st.data())
def test_hostile_beacons_and_bulk_adds_are_refused_never_500(
    world: World, data: st.DataObject
) -> None:
    fields = data.draw(st.dictionaries(st.sampled_from(BEACON_FIELDS), HOSTILE_TEXT))
    as_get = data.draw(st.booleans())
    http = world.raw.http
    if as_get:
        answer = http.get("/web/playback/beacon", params=fields)
    else:
        answer = http.post("/web/playback/beacon", data=fields)
    assert answer.status_code in (204, 400, 403), answer.text
    record = data.draw(
        st.dictionaries(
            st.sampled_from(["room_id", "session_id", "guid", "play_begin_time", "play_length",
                             "user_number", "client_type", "colour"]),
            st.one_of(HOSTILE_TEXT, st.integers(-(2**70), 2**70), st.none(), st.floats()),
        )
    )  # fmt: skip
    added = http.post("/_emulator/views", content=json.dumps([record]).encode())
    assert added.status_code in (200, 400), added.text


def test_serve_refuses_views_without_the_large_seed() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--seed", "demo", "--views", "10"])
    assert result.exit_code == 2 and "--views" in result.output and "--seed large" in result.output
