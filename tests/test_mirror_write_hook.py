"""The mirror's write hook: writes sent through ``Mirror.writes()`` show in the mirror at once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from baijiayun import bulk
from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.errors import InvalidArgumentError
from baijiayun.mirror import Mirror
from baijiayun.testing import client_for

from .mirror_helpers import assert_converged, mirror_state, populate


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator("sqlite://", EmulatorConfig()) as emulator:
        emulator.reset()
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[BaiJiaYunClient]:
    with client_for(emu, emu.create_account(), rate_limit=None) as client:
        yield client


@pytest.fixture
def mirror(client: BaiJiaYunClient, tmp_path: Any) -> Iterator[Mirror]:
    with Mirror(client, f"sqlite:///{tmp_path / 'mirror.db'}") as mirror:
        yield mirror


def _row(mirror: Mirror, room_id: int, version: int = 0) -> dict[str, Any]:
    return mirror_state(
        mirror.engine().url.render_as_string(hide_password=False), include_deleted=True
    )[(room_id, 0, version)]


def test_each_write_is_in_the_mirror_before_the_next_sweep(
    emu: Emulator, client: BaiJiaYunClient, mirror: Mirror
) -> None:
    made = populate(emu, client.partner_id, 4)
    rooms = [m["room_id"] for m in made]
    emu.create_crop(rooms[3])
    mirror.sync()
    before = emu.calls(client.partner_id)
    pb = mirror.writes()

    pb.update(rooms[0], "改名")
    assert _row(mirror, rooms[0])["name"] == "改名"
    assert pb.set_publish_status(rooms[1], 2).status == 2
    assert _row(mirror, rooms[1])["publish_status"] == 2
    pb.delete(rooms[2])
    assert _row(mirror, rooms[2])["deleted_at"] is not None
    pb.set_main_version(rooms[3], 1)
    # each write cost itself plus one getCropList for the playback it touched
    # (the delete's getCropList answers code 1, and the room's getList proves it gone)
    assert emu.calls(client.partner_id) - before == 9
    assert_converged(client, mirror.engine().url.render_as_string(hide_password=False))
    assert [r["mode"] for r in _runs(mirror)][-4:] == ["refresh"] * 4


def _runs(mirror: Mirror) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from baijiayun.mirror import schema as s

    with mirror.engine().connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(select(s.sync_runs).order_by(s.sync_runs.c.id))
        ]


def test_a_failed_write_changes_nothing_and_reads_pass_through(
    emu: Emulator, client: BaiJiaYunClient, mirror: Mirror
) -> None:
    room = populate(emu, client.partner_id, 1)[0]["room_id"]
    mirror.sync()
    pb = mirror.writes()
    with pytest.raises(InvalidArgumentError):
        pb.set_publish_status(room, 3)
    assert _row(mirror, room)["publish_status"] == 1
    assert pb.get_basic_info(room).status == 100  # reads are the wrapped PlayBack's


def test_a_write_to_a_playback_not_yet_mirrored_adds_it(
    emu: Emulator, client: BaiJiaYunClient, mirror: Mirror
) -> None:
    room = populate(emu, client.partner_id, 1)[0]["room_id"]
    mirror.writes().update(room, "新名")
    assert _row(mirror, room)["name"] == "新名"


def test_a_failed_refresh_is_logged_not_raised(
    emu: Emulator,
    client: BaiJiaYunClient,
    mirror: Mirror,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = populate(emu, client.partner_id, 1)[0]["room_id"]
    mirror.sync()

    def broken(*_: object) -> None:
        raise RuntimeError("mirror database unreachable")

    monkeypatch.setattr(mirror, "refresh", broken)
    with caplog.at_level(logging.WARNING, logger="baijiayun.mirror"):
        mirror.writes().update(room, "改了")  # the write happened: it must not look failed
    assert client.playback.get_basic_info(room).name == "改了"
    assert "could not refresh" in caplog.text


def test_bulk_writes_through_the_hook_keep_the_mirror_current(
    emu: Emulator, client: BaiJiaYunClient, mirror: Mirror, tmp_path: Any
) -> None:
    rooms = [m["room_id"] for m in populate(emu, client.partner_id, 3)]
    mirror.sync()
    source = tmp_path / "rename.csv"
    source.write_text(
        "room_id,name\n" + "".join(f"{r},批量{i}\n" for i, r in enumerate(rooms)), "utf-8"
    )
    summary = bulk.bulk(mirror.writes(), "rename", str(source))
    assert (summary.done, summary.failed) == (3, [])
    assert [_row(mirror, r)["name"] for r in rooms] == ["批量0", "批量1", "批量2"]


def test_main_versions_are_read_from_get_crop_list_and_changes_logged(
    emu: Emulator, client: BaiJiaYunClient, mirror: Mirror
) -> None:
    from sqlalchemy import select

    from baijiayun.mirror import schema as s

    room = populate(emu, client.partner_id, 1)[0]["room_id"]
    emu.create_crop(room)
    mirror.sync()
    assert _row(mirror, room)["is_main"] is None  # getList does not say which version is main
    pb = mirror.writes()
    pb.update(room, "裁剪版")  # the refresh reads getCropList: the original is main
    assert (_row(mirror, room)["is_main"], _row(mirror, room, 1)["is_main"]) == (1, 0)
    pb.set_main_version(room, 1)
    assert (_row(mirror, room)["is_main"], _row(mirror, room, 1)["is_main"]) == (0, 1)
    with mirror.engine().connect() as conn:
        logged = conn.execute(
            select(s.changes.c.version, s.changes.c.old, s.changes.c.new).where(
                s.changes.c.field == "is_main"
            )
        ).all()
    assert sorted(tuple(r) for r in logged) == [(0, "1", "0"), (1, "0", "1")]
    mirror.sync()  # a sweep leaves what it cannot see alone
    assert _row(mirror, room, 1)["is_main"] == 1


def test_watch_goes_on_after_a_database_error(client: BaiJiaYunClient, tmp_path: Any) -> None:
    import threading

    from sqlalchemy.exc import OperationalError

    class FlakyDatabase(Mirror):
        """The mirror's database is down for the first run (a restart, a busy file)."""

        runs = 0

        def sync(self, *, incremental: bool = False, stop: Any = None) -> Any:
            self.runs += 1
            if self.runs == 1:
                raise OperationalError("SELECT 1", None, Exception("server closed the connection"))
            stop.set()
            return super().sync(incremental=incremental, stop=None)

    errors: list[Exception] = []
    results: list[Any] = []
    with FlakyDatabase(client, f"sqlite:///{tmp_path / 'm.db'}") as mirror:
        mirror.watch(
            every=0, stop=threading.Event(), on_error=errors.append, on_result=results.append
        )
    assert [type(e).__name__ for e in errors] == ["OperationalError"]
    assert len(results) == 1 and results[0].error is None
