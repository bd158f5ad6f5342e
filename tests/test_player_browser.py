"""The emulator's web player in a real Chromium: the video plays, and plays become records (docs/protocol.md#viewing-records)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from baijiayun import TokenCache
from baijiayun import _endpoints as ep
from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.server import BackgroundServer

from .browser_helpers import BrowserThread, LocalOnly, browser, screenshot

__all__ = ["browser"]  # the session's one Chromium (a fixture)

pytestmark = pytest.mark.server

REPORT_INTERVAL = 1.0
VIDEO = "document.getElementById('player')"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, BackgroundServer]]:
    config = EmulatorConfig(report_interval=REPORT_INTERVAL, rate_limit=None)
    with Emulator("sqlite://", config) as emulator, BackgroundServer(emulator) as server:
        yield emulator, server


@pytest.fixture
def viewer_url(served: tuple[Emulator, BackgroundServer]) -> tuple[Emulator, Any, int, str]:
    emulator, server = served
    account = emulator.create_account()
    room = emulator.create_room(account["partner_id"], title="高等数学 <b>第1讲</b>")["room_id"]
    emulator.create_recording(room, status=100, length=2700, name="高等数学 <b>第1讲</b>")
    with BaiJiaYunClient(
        account["partner_id"],
        account["partner_key"],
        base_url=server.base_url,
        token_cache=TokenCache(),
    ) as client:
        url = client.playback.cached_player_url(room, user_number=20260042, user_name="李小明")
        yield emulator, client, room, url


def _position(page: Any) -> float:
    return float(page.evaluate(f"{VIDEO}.currentTime"))


def _play_until(page: Any, seconds: float) -> None:
    page.evaluate(f"{VIDEO}.play()")
    page.wait_for_function(f"{VIDEO}.currentTime >= {seconds}", timeout=10_000)


def _records(client: BaiJiaYunClient, room: int) -> list[dict[str, Any]]:
    """getPlaybackPlayRecord for today (Beijing), as a signed request of the client."""
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    body = client.request(
        ep.GET_PLAYBACK_PLAY_RECORD,
        {"room_id": room, "start_time": f"{day} 00:00:00", "end_time": f"{day} 23:59:59"},
    )
    assert body["total"] == len(body["list"])
    return list(body["list"])


def test_a_viewer_plays_pauses_seeks_and_leaves(
    browser: BrowserThread, viewer_url: tuple[Emulator, BaiJiaYunClient, int, str]
) -> None:
    browser.run(_plays_pauses_seeks_and_leaves, *viewer_url)


def _plays_pauses_seeks_and_leaves(
    browser: Any, emulator: Emulator, client: BaiJiaYunClient, room: int, url: str
) -> None:
    context = browser.new_context(viewport={"width": 800, "height": 560})
    local = LocalOnly(context)
    page = context.new_page()
    page.goto(url)
    assert "高等数学 <b>第1讲</b>" in page.inner_text("h1")  # the name, escaped
    start = _position(page)
    _play_until(page, 1.5)
    page.evaluate(f"{VIDEO}.pause()")
    first_part = _position(page) - start
    time.sleep(1.6)  # paused: not watched (and shorter than the 3 intervals that end a play)
    assert _position(page) == pytest.approx(start + first_part, abs=0.05)
    page.evaluate(f"{VIDEO}.currentTime = 20")
    page.wait_for_function(f"!{VIDEO}.seeking && {VIDEO}.readyState >= 3")
    _play_until(page, 21.5)
    screenshot(page, "player")
    second_part = _position(page) - 20
    page.close(run_before_unload=True)  # pagehide: the "leave" beacon ends the play
    watched = first_part + second_part

    deadline = time.monotonic() + 5
    while not (rows := emulator.play_records(room)) or not rows[0]["ended"]:
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    [record] = _records(client, room)
    assert record["user_number"] == "20260042" and record["user_name"] == "李小明"
    assert record["client_type"] == 5 and record["user_ip"] == "127.0.0.1"
    assert record["area"] == "" and record["session_id"] == 0 and record["version"] == 0
    stored = emulator.play_records(room)[0]
    assert abs(record["play_length"] - watched) <= REPORT_INTERVAL, (stored, watched)

    # a second play, in a new page of the same browser: a second record, same client uuid
    page = context.new_page()
    page.goto(url)
    _play_until(page, 1.0)
    page.close(run_before_unload=True)
    deadline = time.monotonic() + 5
    while len(rows := emulator.play_records(room)) < 2 or not rows[1]["ended"]:
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    first, second = _records(client, room)
    assert first["guid"] == record["guid"] and second["guid"] != record["guid"]
    assert second["uuid"] == first["uuid"]
    assert second["play_length"] <= 1 + REPORT_INTERVAL
    context.close()
    assert local.refused == []  # the page asked for nothing beyond the emulator
