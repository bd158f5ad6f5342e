"""Viewing records end to end on the demo emulator, served on a loopback port: the CLI's
``views list`` / ``views export``, long-term rooms with and without a session, the SDK's two
endpoints and walkers (sync and async), and the window rules the SDK and the emulator share."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from baijiayun import AsyncBaiJiaYunClient, BaiJiaYunClient, InvalidArgumentError
from baijiayun import _endpoints as ep
from baijiayun.cli.main import cli
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS
from baijiayun.emulator.server import BackgroundServer

from .emulator_helpers import Raw
from .test_views_emulator import WINDOW_CASES

ACCOUNT = DEMO_ACCOUNTS[0]
PARTNER = int(ACCOUNT["partner_id"])
LONG_ROOM = 26010100000021

pytestmark = pytest.mark.server


def today() -> dt.date:
    return dt.datetime.now(ep.BEIJING).date()


MONTH = (today() - dt.timedelta(days=30), today())


def wire(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, ep.BEIJING).isoformat()


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Emulator, str]]:
    with Emulator("sqlite://", EmulatorConfig(rate_limit=None)) as emu:
        emu.reset()
        emu.seed_demo()
        with BackgroundServer(emu) as server:
            yield emu, server.base_url


def records(emu: Emulator, room: int | None = None, session: int | None = None) -> list[Any]:
    """The demo account's records over the last 31 days, in the order of docs/protocol.md#viewing-records."""
    first, last = MONTH
    return [
        r
        for r in emu.play_records(room)
        if r["partner_id"] == PARTNER
        and first <= dt.datetime.fromtimestamp(r["play_begin_time"], ep.BEIJING).date() <= last
        and (session is None or r["session_id"] == session)
    ]


@pytest.fixture
def env(demo: tuple[Emulator, str]) -> dict[str, str]:
    return {
        "BAIJIAYUN_PARTNER_ID": str(PARTNER),
        "BAIJIAYUN_PARTNER_KEY": ACCOUNT["partner_key"],
        "BAIJIAYUN_BASE_URL": demo[1],
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
        "BAIJIAYUN_RATE_LIMIT": "off",
    }


def run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


SPAN = ("--since", str(MONTH[0]), "--until", str(MONTH[1]))


def test_cli_list_and_export_the_demo_views(
    demo: tuple[Emulator, str], env: dict[str, str], tmp_path: Path
) -> None:
    emu = demo[0]
    watched = Counter(r["room_id"] for r in records(emu) if r["session_id"] == 0)
    room, count = watched.most_common(1)[0]
    listed = run(env, "-o", "json", "views", "list", str(room), *SPAN)
    assert listed.exit_code == 0, listed.output
    expected = records(emu, room)
    assert len(expected) == count
    assert [
        (r["guid"], r["user_number"], r["play_length"], r["play_begin_time"])
        for r in json.loads(listed.stdout)
    ] == [
        (r["guid"], r["user_number"] or None, r["play_length"], wire(r["play_begin_time"]))
        for r in expected
    ]
    exported = run(env, "views", "export", *SPAN, "--to", str(tmp_path / "plays.csv"))
    assert exported.exit_code == 0, exported.output
    every = records(emu)
    assert f"{len(every)} plays of the account" in exported.stderr
    with (tmp_path / "plays.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [r["guid"] for r in rows] == [r["guid"] for r in every]
    # every room watched, and more than one (how many depends on the day's seed: 7 on some)
    assert {int(r["room_id"]) for r in rows} == {r["room_id"] for r in every}
    assert len({r["room_id"] for r in every}) > 1


def test_cli_list_of_a_long_term_room_with_and_without_session(
    demo: tuple[Emulator, str], env: dict[str, str]
) -> None:
    emu = demo[0]
    every = records(emu, LONG_ROOM)
    session = Counter(r["session_id"] for r in every).most_common(1)[0][0]
    assert len({r["session_id"] for r in every}) > 1
    whole = run(env, "-o", "json", "views", "list", str(LONG_ROOM), *SPAN)
    assert [r["guid"] for r in json.loads(whole.stdout)] == [r["guid"] for r in every]
    one = run(
        env, "-o", "json", "views", "list", str(LONG_ROOM), *SPAN, "--session-id", str(session)
    )
    assert [r["guid"] for r in json.loads(one.stdout)] == [
        r["guid"] for r in records(emu, LONG_ROOM, session)
    ]
    assert {r["session_id"] for r in json.loads(one.stdout)} == {session}
    none = run(env, "views", "list", str(LONG_ROOM), "--session-id", "202001011")
    assert none.exit_code == 1 and "202001011" in none.output


def test_sdk_both_endpoints_and_walkers(demo: tuple[Emulator, str]) -> None:
    emu, base_url = demo
    with BaiJiaYunClient(PARTNER, ACCOUNT["partner_key"], base_url=base_url) as client:
        vd = client.video_data
        every = records(emu)
        assert [r.guid for r in vd.iter_play_records(*MONTH)] == [r["guid"] for r in every]
        lines = vd.iter_play_records(*MONTH, product_type=2)
        assert [r.guid for r in lines] == [r["guid"] for r in every if r["product_type"] == 2]
        room = records(emu, LONG_ROOM)
        walked = list(vd.iter_playback_play_records(LONG_ROOM, *MONTH))
        assert [(r.guid, r.session_id, r.play_length) for r in walked] == [
            (r["guid"], r["session_id"], r["play_length"]) for r in room
        ]
        busiest = Counter(
            dt.datetime.fromtimestamp(r["play_begin_time"], ep.BEIJING).date() for r in every
        ).most_common(1)[0][0]
        day = [
            r
            for r in every
            if dt.datetime.fromtimestamp(r["play_begin_time"], ep.BEIJING).date() == busiest
        ]
        page = vd.export_video_report_batch(f"{busiest} 00:00:00", f"{busiest} 23:59:59", 0, 2, 3)
        assert page.total == len(day) and [r.guid for r in page.items] == [
            r["guid"] for r in day[3:6]
        ]
        first = room[0]
        begin = dt.datetime.fromtimestamp(first["play_begin_time"], ep.BEIJING)
        one = vd.get_playback_play_record(
            LONG_ROOM, begin, begin.replace(hour=23, minute=59, second=59), first["session_id"]
        )
        assert one.items[0].guid == first["guid"] and one.items[0].play_begin_time == begin
        assert one.items[0].user_number == (first["user_number"] or None)


@pytest.mark.anyio
async def test_async_sdk_both_endpoints_and_walkers(demo: tuple[Emulator, str]) -> None:
    emu, base_url = demo
    async with AsyncBaiJiaYunClient(PARTNER, ACCOUNT["partner_key"], base_url=base_url) as client:
        vd = client.video_data
        assert [r.guid async for r in vd.iter_play_records(*MONTH)] == [
            r["guid"] for r in records(emu)
        ]
        walked = [r.guid async for r in vd.iter_playback_play_records(LONG_ROOM, *MONTH)]
        assert walked == [r["guid"] for r in records(emu, LONG_ROOM)]
        day = MONTH[1] - dt.timedelta(days=1)
        page = await vd.get_playback_play_record(
            LONG_ROOM, f"{day} 00:00:00", f"{day} 23:59:59", page_size=1000
        )
        assert [r.guid for r in page.items] == [
            r["guid"]
            for r in records(emu, LONG_ROOM)
            if dt.datetime.fromtimestamp(r["play_begin_time"], ep.BEIJING).date() == day
        ]


@pytest.mark.parametrize(("window", "param"), [c for c in WINDOW_CASES if len(c[0]) > 1])
@pytest.mark.parametrize("action", ["getPlaybackPlayRecord", "exportVideoReportBatch"])
def test_the_sdk_refuses_what_the_emulator_answers_1001_naming_the_same_parameter(
    demo: tuple[Emulator, str], action: str, window: dict[str, Any], param: str
) -> None:
    emu = demo[0]
    extra = {"room_id": LONG_ROOM} if action == "getPlaybackPlayRecord" else {}
    raw = Raw(emu, ACCOUNT)
    try:
        body = raw.post(action, {**extra, **window}, module="video_data")
    finally:
        raw.http.close()
    assert body["code"] == 1001 and param in body["msg"], body
    before = emu.calls(PARTNER)
    with BaiJiaYunClient(PARTNER, ACCOUNT["partner_key"], base_url=demo[1]) as client:
        vd = client.video_data
        call = vd.get_playback_play_record if extra else vd.export_video_report_batch
        with pytest.raises(InvalidArgumentError) as refused:
            call(**extra, **window)
    assert refused.value.argument == param
    assert emu.calls(PARTNER) == before  # refused before sending
