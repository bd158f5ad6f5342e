"""The mirror under failing reads: only proof of absence deletes, and each run counts its own calls."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator
from baijiayun.mirror import Mirror, Progress
from baijiayun.testing import client_for

from .mirror_helpers import assert_converged, mirror_state, populate
from .test_mirror_views import just_after_midnight


@pytest.fixture
def mirror_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'mirror.db'}"


@pytest.fixture
def once(emu: Emulator, account: dict[str, Any]) -> Iterator[BaiJiaYunClient]:
    """A client that does not retry: one injected failure is the answer its caller gets."""
    with client_for(emu, account, rate_limit=None, max_retries=0) as client:
        yield client


def _alive(url: str, room_id: int) -> bool:
    row = mirror_state(url, include_deleted=True)[(room_id, 0, 0)]
    return row["deleted_at"] is None


# Answers that do not prove a playback gone: a generic code 1 (whatever its msg) from getCropList
# and from the room's getList listing asked next, an HTTP error, a broken body.
NOT_PROOF = {
    "code-1": [("getCropList", "error", 1), ("getList", "error", 1)],
    "http-502": [("getCropList", "http", 502)],
    "malformed": [("getCropList", "malformed", 0)],
}


@pytest.mark.parametrize("faults", NOT_PROOF.values(), ids=NOT_PROOF.keys())
def test_a_write_hook_refresh_that_fails_deletes_nothing(
    emu: Emulator,
    once: BaiJiaYunClient,
    mirror_url: str,
    caplog: pytest.LogCaptureFixture,
    faults: list[tuple[str, str, int]],
) -> None:
    rooms = [m["room_id"] for m in populate(emu, once.partner_id, 2)]
    emu.create_crop(rooms[0])
    with Mirror(once, mirror_url) as mirror:
        mirror.sync()
        for endpoint, kind, value in faults:
            emu.inject_fault(endpoint, kind, value, times=1)
        with caplog.at_level(logging.WARNING, logger="baijiayun.mirror"):
            mirror.writes().update(rooms[0], "改名")
        assert once.playback.get_basic_info(rooms[0]).name == "改名"  # the write happened
        held = mirror_state(mirror_url, include_deleted=True)
        assert held[(rooms[0], 0, 0)]["deleted_at"] is None
        assert held[(rooms[0], 0, 1)]["deleted_at"] is None
        assert f"could not refresh room {rooms[0]}" in caplog.text
        mirror.writes().update(rooms[0], "再改")  # the next refresh settles it
        assert mirror_state(mirror_url)[(rooms[0], 0, 0)]["name"] == "再改"
    assert_converged(once, mirror_url)


def test_a_code_1_from_get_crop_list_is_checked_against_the_room_listing(
    emu: Emulator, client: BaiJiaYunClient, mirror_url: str
) -> None:
    rooms = [m["room_id"] for m in populate(emu, client.partner_id, 2)]
    with Mirror(client, mirror_url) as mirror:
        mirror.sync()
        emu.inject_fault("getCropList", "error", 1, times=1)
        before = emu.calls(client.partner_id, "getList")
        mirror.writes().update(rooms[0], "改名")  # getCropList: code 1; getList lists it
        assert emu.calls(client.partner_id, "getList") - before == 1
        assert _alive(mirror_url, rooms[0])
        assert mirror_state(mirror_url)[(rooms[0], 0, 0)]["name"] == "改名"
        mirror.writes().delete(rooms[1])  # code 1 again, for real: getList no longer lists it
        assert not _alive(mirror_url, rooms[1])
    assert_converged(client, mirror_url)


def test_a_pending_re_read_answered_code_1_deletes_nothing(
    emu: Emulator, client: BaiJiaYunClient, mirror_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    populate(emu, client.partner_id, 12, start=int(time.time()) - 3600)
    room = emu.create_room(client.partner_id)["room_id"]
    # Transcoding, and older than the first page: only the pending re-read reaches it.
    emu.create_recording(room, status=20, create_time=int(time.time()) - 7200)
    with Mirror(client, mirror_url, page_size=5) as mirror:
        mirror.sync()
        emu.advance(room, status=100)
        emu.inject_fault("getCropList", "error", 1, times=1)
        run = mirror.sync(incremental=True)
        assert (run.deleted, run.error) == (0, None)
        # getList listed it: alive, and its new status read from there
        assert mirror_state(mirror_url)[(room, 0, 0)]["status"] == 100

        room2 = emu.create_room(client.partner_id)["room_id"]
        emu.create_recording(room2, status=20, create_time=int(time.time()) - 7100)
        mirror.sync()

        def both_fail(progress: Progress) -> None:  # after the walk: the re-read's two reads
            emu.inject_fault("getCropList", "error", 1, times=1)
            emu.inject_fault("getList", "error", 1, times=1)

        mirror.on_page = both_fail
        with caplog.at_level(logging.WARNING, logger="baijiayun.mirror"):
            run = mirror.sync(incremental=True)
        mirror.on_page = None
        assert (run.deleted, run.error) == (0, None)
        assert _alive(mirror_url, room2)
        assert f"room {room2} session 0" in caplog.text and "code 1" in caplog.text
    assert_converged(client, mirror_url)


def test_a_deletion_check_needs_proof_of_absence(
    emu: Emulator, client: BaiJiaYunClient, mirror_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    rooms = [m["room_id"] for m in populate(emu, client.partner_id, 6)]
    with Mirror(client, mirror_url, page_size=2) as mirror:
        mirror.sync()

        def delete_then_fail(progress: Progress) -> None:
            # While the sweep reads page 1, the oldest room is deleted: the sweep does not see
            # it, and its deletion check is the only word on it. After the walk's last page,
            # that check and the room listing asked next both answer code 1.
            if progress.pages == 1:
                emu.delete_room(rooms[0])
            if progress.rows >= progress.total:  # the walk's last page
                emu.inject_fault("getCropList", "error", 1, times=1)
                emu.inject_fault("getList", "error", 1, times=1)

        mirror.on_page = delete_then_fail
        with caplog.at_level(logging.WARNING, logger="baijiayun.mirror"):
            run = mirror.sync()
        mirror.on_page = None
        # code 1 proves nothing: the row stays ...
        assert run.deleted == 0 and run.error is None
        assert _alive(mirror_url, rooms[0])
        assert f"room {rooms[0]} session 0" in caplog.text
        # ... while 3002 (room deleted) is proof: the next sweep deletes it.
        assert mirror.sync().deleted == 1
        assert not _alive(mirror_url, rooms[0])
    assert_converged(client, mirror_url)


def test_a_refresh_in_another_thread_leaves_the_running_sweeps_count_alone(
    emu: Emulator, client: BaiJiaYunClient, mirror_url: str
) -> None:
    rooms = [m["room_id"] for m in populate(emu, client.partner_id, 10)]
    with Mirror(client, mirror_url, page_size=2) as mirror:
        mirror.sync()
        refreshed: list[Any] = []

        def write_meanwhile(progress: Progress) -> None:
            if progress.pages == 3 and not refreshed:
                worker = threading.Thread(target=lambda: refreshed.append(mirror.refresh(rooms[0])))
                worker.start()
                worker.join()

        mirror.on_page = write_meanwhile
        before = emu.calls(client.partner_id)
        sweep = mirror.sync()
        spent = emu.calls(client.partner_id) - before
    assert refreshed[0].calls == 1
    assert sweep.calls == 5  # five getList pages; the refresh's call is its own
    # today's last half hour (and yesterday's just after midnight): the first run read the month
    assert sweep.views_calls == 1 + just_after_midnight()
    assert spent == sweep.calls + sweep.views_calls + 1
