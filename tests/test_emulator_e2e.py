"""End to end: every endpoint through the SDK (sync and async) against the emulator's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from baijiayun import AsyncBaiJiaYunClient, BaiJiaYunClient, errors
from baijiayun.emulator import Emulator


@dataclass
class World:
    emulator: Emulator
    partner_id: int
    short: int
    long: int
    sessions: list[int]
    cropped: int


@pytest.fixture
def world(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> World:
    emu, pid = bjy_emulator, bjy_account["partner_id"]
    short = emu.create_room(pid, title="第1讲", product_type=1)["room_id"]
    emu.create_recording(short, status=100, create_time=1_700_000_000)
    long = emu.create_room(pid, title="长期班", product_type=2, long_term=True)["room_id"]
    sessions = [
        emu.create_recording(long, status=100, create_time=1_700_100_000 + i * 86400)["session_id"]
        for i in range(3)
    ]
    cropped = emu.create_room(pid, title="裁剪课", product_type=1)["room_id"]
    emu.create_recording(cropped, status=100, create_time=1_700_500_000)
    emu.create_crop(cropped)
    emu.create_crop(cropped)
    emu.add_ppt(long, sessions[0], name="a.pdf", date="2023-11-16")
    emu.add_ppt(long, sessions[1], name="b.pdf", date="2023-11-17")
    emu.add_ppt(short, name="c.pdf")
    return World(emu, pid, short, long, sessions, cropped)


def test_get_basic_info(bjy_client: BaiJiaYunClient, world: World) -> None:
    info = bjy_client.playback.get_basic_info(world.short)
    assert (info.status, info.name, info.publish_status, info.length) == (100, "第1讲", 1, 3600)
    assert int(info.create_time.timestamp()) == 1_700_000_000  # type: ignore[union-attr]
    first = bjy_client.playback.get_basic_info(world.long)
    assert (
        first.video_id == bjy_client.playback.get_basic_info(world.long, world.sessions[0]).video_id
    )


def test_not_generated_playback_reports_only_status(
    bjy_client: BaiJiaYunClient, world: World
) -> None:
    room = world.emulator.create_room(world.partner_id)["room_id"]
    world.emulator.create_recording(room)
    world.emulator.advance(room)
    info = bjy_client.playback.get_basic_info(room)
    assert info.status == 10 and info.video_id is None and info.name is None


def test_get_list_newest_first_totals_and_filters(
    bjy_client: BaiJiaYunClient, world: World
) -> None:
    page = bjy_client.playback.get_list(None, 1, 2)
    assert page.total == 5
    assert [i.room_id for i in page.items] == [world.cropped, world.long]
    rest = bjy_client.playback.get_list(None, 2, 2)
    assert [i.room_id for i in rest.items] == [world.long, world.long]
    assert bjy_client.playback.get_list(2, 1, 10).total == 3
    assert bjy_client.playback.get_list(None, 1, 10, room_id=world.short).total == 1
    with_crops = bjy_client.playback.get_list(None, 1, 10, crop_video=1)
    assert with_crops.total == 7
    assert sorted(i.version for i in with_crops.items if i.room_id == world.cropped) == [0, 1, 2]
    assert all(i.play_url and f"classid={i.room_id}" in i.play_url for i in with_crops.items)


def test_iter_list_walks_every_page(bjy_client: BaiJiaYunClient, world: World) -> None:
    assert len(list(bjy_client.playback.iter_list(page_size=2, crop_video=1))) == 7


def test_player_token_and_page(bjy_client: BaiJiaYunClient, world: World) -> None:
    from baijiayun.testing import EmulatorTransport

    token = bjy_client.playback.get_player_token(world.short, 3600).token
    page = EmulatorTransport(world.emulator)
    import httpx

    with httpx.Client(transport=page, base_url="http://e") as http:
        ok = http.get(bjy_client.playback.player_url(world.short, token))
        assert ok.status_code == 200 and "第1讲" in ok.text
        wrong_room = http.get(bjy_client.playback.player_url(world.cropped, token))
        assert wrong_room.status_code == 403
    assert bjy_client.playback.get_list(None, 1, 10, room_id=world.short).items[0].play_times == 1


def test_player_token_batch(bjy_client: BaiJiaYunClient, world: World) -> None:
    tokens = bjy_client.playback.get_player_token_batch(
        [world.short, (world.long, world.sessions[1])], 0
    )
    assert set(tokens) == {str(world.short), f"{world.long}-{world.sessions[1]}"}
    with pytest.raises(errors.APIError) as caught:
        bjy_client.playback.get_player_token_batch([world.short, (world.long, 1)], 0)
    assert caught.value.code == 1


def test_session_list(bjy_client: BaiJiaYunClient, world: World) -> None:
    sessions = bjy_client.playback.get_session_list(world.long).items
    assert [s.session_id for s in sessions] == world.sessions
    assert all(s.status == 100 for s in sessions)
    assert str(world.sessions[0]).startswith("2023111")
    assert bjy_client.playback.get_session_list(world.short).items == []


def test_publish_and_block(bjy_client: BaiJiaYunClient, world: World) -> None:
    assert bjy_client.playback.set_publish_status(world.short, 2).status == 2
    assert bjy_client.playback.get_basic_info(world.short).is_blocked
    assert (
        bjy_client.playback.get_list(None, 1, 10, room_id=world.short).items[0].publish_status == 2
    )
    bjy_client.playback.set_publish_status(world.long, 2, world.sessions[1])
    assert bjy_client.playback.get_basic_info(world.long, world.sessions[0]).publish_status == 1
    assert bjy_client.playback.get_basic_info(world.long, world.sessions[1]).publish_status == 2


def test_write_on_long_term_room_needs_session(bjy_client: BaiJiaYunClient, world: World) -> None:
    with pytest.raises(errors.ParameterError, match="session_id"):
        bjy_client.playback.update(world.long, "x")
    assert {r["name"] for r in world.emulator.playback_rows(world.long)} == {"长期班"}


def test_update_renames_every_version(bjy_client: BaiJiaYunClient, world: World) -> None:
    bjy_client.playback.update(world.cropped, "新名字")
    assert {r["name"] for r in world.emulator.playback_rows(world.cropped)} == {"新名字"}
    assert bjy_client.playback.get_basic_info(world.cropped).name == "新名字"


def test_crop_list_and_main_version(bjy_client: BaiJiaYunClient, world: World) -> None:
    crops = bjy_client.playback.get_crop_list(world.cropped)
    assert crops.total == 3
    assert [(c.version, c.is_main) for c in crops.items] == [(0, True), (1, False), (2, False)]
    bjy_client.playback.set_main_version(world.cropped, 2)
    crops = bjy_client.playback.get_crop_list(world.cropped)
    assert [c.version for c in crops.items if c.is_main] == [2]
    assert bjy_client.playback.get_basic_info(world.cropped).video_id == crops.items[2].video_id
    assert (
        bjy_client.playback.get_crop_list(world.cropped, page=2, page_size=2).items[0].version == 2
    )
    assert bjy_client.playback.get_crop_list(world.cropped, product_type=3).total == 0
    with pytest.raises(errors.APIError, match="version 9"):
        bjy_client.playback.set_main_version(world.cropped, 9)


def test_delete_version_then_playback(bjy_client: BaiJiaYunClient, world: World) -> None:
    bjy_client.playback.set_main_version(world.cropped, 1)
    bjy_client.playback.delete(world.cropped, version=1)
    crops = bjy_client.playback.get_crop_list(world.cropped)
    assert [(c.version, c.is_main) for c in crops.items] == [(0, True), (2, False)]
    bjy_client.playback.delete(world.cropped)
    for read in (
        lambda: bjy_client.playback.get_basic_info(world.cropped),
        lambda: bjy_client.playback.get_crop_list(world.cropped),
        lambda: bjy_client.playback.get_player_token(world.cropped, 0),
    ):
        with pytest.raises(errors.APIError) as caught:
            read()
        assert caught.value.code == 1
    assert bjy_client.playback.get_list(None, 1, 10, crop_video=1).total == 4
    rows = world.emulator.playback_rows(world.cropped, include_deleted=True)
    assert len(rows) == 3 and all(r["deleted"] for r in rows)


def test_ppt_urls(bjy_client: BaiJiaYunClient, world: World) -> None:
    every = bjy_client.playback.get_playback_ppt_url_list(world.long)
    assert [(f.session_id, f.name) for f in every.items] == [
        (world.sessions[0], "a.pdf"),
        (world.sessions[1], "b.pdf"),
    ]
    assert [
        f.name
        for f in bjy_client.playback.get_playback_ppt_url_list(world.long, "2023-11-17").items
    ] == ["b.pdf"]
    assert [
        f.name
        for f in bjy_client.playback.get_playback_ppt_url(world.long, world.sessions[1]).items
    ] == ["b.pdf"]
    assert [f.name for f in bjy_client.playback.get_playback_ppt_url(world.short).items] == [
        "c.pdf"
    ]
    assert all(f.url.endswith(".pdf") for f in every.items)


def test_replace_type_1_overwrites_target_media(bjy_client: BaiJiaYunClient, world: World) -> None:
    source = bjy_client.playback.get_basic_info(world.short)
    bjy_client.playback.replace_playback(1, world.short, world.cropped, target_version=1)
    crops = {c.version: c for c in bjy_client.playback.get_crop_list(world.cropped).items}
    assert crops[1].video_id == source.video_id and crops[1].length == source.length
    assert crops[0].is_main
    assert bjy_client.playback.get_basic_info(world.short).video_id == source.video_id


def test_replace_type_2_adds_a_main_version(bjy_client: BaiJiaYunClient, world: World) -> None:
    source = bjy_client.playback.get_basic_info(world.long, world.sessions[2])
    bjy_client.playback.replace_playback(
        2, world.long, world.cropped, source_session_id=world.sessions[2], is_replace_main=1
    )
    crops = bjy_client.playback.get_crop_list(world.cropped).items
    assert [(c.version, c.is_main) for c in crops] == [
        (0, False),
        (1, False),
        (2, False),
        (3, True),
    ]
    assert bjy_client.playback.get_basic_info(world.cropped).video_id == source.video_id


def test_replace_needs_a_generated_source(bjy_client: BaiJiaYunClient, world: World) -> None:
    room = world.emulator.create_room(world.partner_id)["room_id"]
    world.emulator.create_recording(room)
    with pytest.raises(errors.APIError, match="not generated"):
        bjy_client.playback.replace_playback(1, room, world.short)
    assert bjy_client.playback.get_basic_info(world.short).status == 100


def test_unknown_and_deleted_rooms(bjy_client: BaiJiaYunClient, world: World) -> None:
    with pytest.raises(errors.RoomNotFoundError):
        bjy_client.playback.get_basic_info(99999999999999)
    world.emulator.delete_room(world.short)
    with pytest.raises(errors.RoomDeletedError):
        bjy_client.playback.get_basic_info(world.short)
    assert bjy_client.playback.get_list(None, 1, 10).total == 4


def test_rooms_of_another_account_are_invisible(bjy_client: BaiJiaYunClient, world: World) -> None:
    other = world.emulator.create_account()
    room = world.emulator.create_room(other["partner_id"])["room_id"]
    world.emulator.create_recording(room, status=100)
    with pytest.raises(errors.RoomNotFoundError):
        bjy_client.playback.get_basic_info(room)
    assert bjy_client.playback.get_list(None, 1, 100).total == 5


def test_lifecycle_automatic(bjy_client: BaiJiaYunClient, world: World) -> None:
    room = world.emulator.create_room(world.partner_id)["room_id"]
    world.emulator.create_recording(room, auto=True)
    assert bjy_client.playback.get_basic_info(room).status == 0
    assert world.emulator.wait_idle(5)
    assert bjy_client.playback.get_basic_info(room).status == 100


def test_lifecycle_rejects_skipping_states(world: World) -> None:
    from baijiayun.emulator import EmulatorError

    room = world.emulator.create_room(world.partner_id)["room_id"]
    world.emulator.create_recording(room)
    with pytest.raises(EmulatorError, match="cannot go from status 0 to 100"):
        world.emulator.advance(room, status=100)


@pytest.mark.anyio
async def test_async_client_end_to_end(
    bjy_async_client: AsyncBaiJiaYunClient, world: World
) -> None:
    pb = bjy_async_client.playback
    assert (await pb.get_basic_info(world.short)).name == "第1讲"
    assert (await pb.get_list(None, 1, 10)).total == 5
    assert len(await pb.get_player_token_batch([world.short], 0)) == 1
    token = await pb.get_player_token(world.long, 60, world.sessions[0])
    assert token.token
    assert [s.session_id for s in (await pb.get_session_list(world.long)).items] == world.sessions
    await pb.set_publish_status(world.short, 2)
    await pb.update(world.short, "异步")
    await pb.set_main_version(world.cropped, 1)
    assert [c.version for c in (await pb.get_crop_list(world.cropped)).items if c.is_main] == [1]
    await pb.replace_playback(2, world.short, world.cropped)
    await pb.delete(world.cropped, version=3)
    assert len((await pb.get_playback_ppt_url_list(world.long)).items) == 2
    assert len((await pb.get_playback_ppt_url(world.short)).items) == 1
    info = await pb.get_basic_info(world.short)
    assert (info.name, info.publish_status) == ("异步", 2)
    rows = world.emulator.playback_rows(world.cropped, include_deleted=True)
    assert [(r["version"], r["deleted"]) for r in rows] == [
        (0, False),
        (1, False),
        (2, False),
        (3, True),
    ]
