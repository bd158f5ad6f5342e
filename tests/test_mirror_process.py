"""The mirror as a real process: SIGKILL anywhere then re-run converges; watch stops on SIGTERM."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from baijiayun import _endpoints as ep
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.mirror import Mirror, make_engine
from baijiayun.mirror import schema as s
from baijiayun.testing import client_for

from .conftest import SERVER_URL
from .mirror_helpers import assert_converged, drop_schema, populate, postgres_schema_url

pytestmark = pytest.mark.server


@pytest.fixture
def bjy_emulator() -> Iterator[Emulator]:
    """The served emulator on SQLite only: these tests are about the mirror's process."""
    config = EmulatorConfig(lifecycle_delays=(0.05, 0.05, 0.05), rate_limit=None)
    with Emulator("sqlite://", config) as emulator:
        emulator.reset()
        yield emulator


def _start(
    server: Any,
    account: dict[str, Any],
    url: str,
    *args: str,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "BAIJIAYUN_PARTNER_ID": str(account["partner_id"]),
        "BAIJIAYUN_PARTNER_KEY": account["partner_key"],
        "BAIJIAYUN_BASE_URL": server.base_url,
    }
    command = [sys.executable, "-m", "baijiayun.cli.mirror", "--database", url, "-o", "json"]
    return subprocess.Popen(
        [*command, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.communicate()}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _count(url: str, table: Any, *where: Any) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())
    except Exception:  # the tables may not exist yet
        return 0
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def mirror_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A SQLite file, or a fresh schema on the PostgreSQL server (its advisory lock dies with
    the killed process's session)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.db'}"
        return
    request.getfixturevalue("postgres_url")
    schema = f"bjy_mirror_{uuid.uuid4().hex[:12]}"
    yield postgres_schema_url(SERVER_URL, schema)
    drop_schema(SERVER_URL, schema)


def test_killed_anywhere_then_rerun_converges_exactly(
    bjy_emulator: Emulator, bjy_server: Any, bjy_account: dict[str, Any], mirror_url: str
) -> None:
    emu, account, url = bjy_emulator, bjy_account, mirror_url
    made = populate(emu, account["partner_id"], 30)
    emu.inject_fault("getList", "latency", 0.03)
    emu.inject_fault("getCropList", "latency", 0.15)
    with client_for(emu, account, rate_limit=None) as client:
        # Kill in the first page, in the middle of the walk, and while confirming deletions.
        points: list[Callable[[], bool]] = [
            lambda: _count(url, s.playbacks) >= 1,
            lambda: _count(url, s.playbacks) >= 15,
            lambda: _count(url, s.changes, s.changes.c.kind == "delete") >= 1,
        ]
        for step, reached in enumerate(points):
            client.playback.update(made[step]["room_id"], f"改名 {step}")
            client.playback.delete(made[-1 - step]["room_id"])
            proc = _start(bjy_server, account, url, "sync", "--page-size", "5")
            _wait_for(reached, proc)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        with Mirror(client, url, page_size=5) as mirror:
            result = mirror.sync()
        assert result.error is None
        assert_converged(client, url)
    assert _count(url, s.sync_runs, s.sync_runs.c.error == "interrupted") == 3


def test_watch_runs_until_sigterm_then_stops_cleanly(
    bjy_emulator: Emulator, bjy_server: Any, bjy_account: dict[str, Any], tmp_path: Any
) -> None:
    populate(bjy_emulator, bjy_account["partner_id"], 6)
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    proc = _start(bjy_server, bjy_account, url, "watch", "--every", "0.05")
    try:
        ended = s.sync_runs.c.ended_at.is_not(None)
        _wait_for(lambda: _count(url, s.sync_runs, ended) >= 3, proc)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:  # a watch left running would outlive the test run
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "full run 1: 1 call(s), +6 new ~0 updated -0 deleted" in err
    assert "incremental run 2" in err and "stopped" in err
    assert _count(url, s.sync_runs, s.sync_runs.c.ended_at.is_(None)) == 0
    assert _count(url, s.playbacks) == 6


def test_a_full_disk_mid_sweep_says_so_and_exits_4(
    bjy_emulator: Emulator, bjy_server: Any, bjy_account: dict[str, Any], tmp_path: Any
) -> None:
    import resource

    rooms = 400
    for n in range(rooms):
        room = bjy_emulator.create_room(bjy_account["partner_id"], title=f"课程 {n}")
        bjy_emulator.create_recording(room["room_id"], status=100, name=f"第{n}讲 " + "长" * 300)
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    room_for = 256 * 1024  # bytes any one file of the process may grow to: a disk that fills up

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (room_for, room_for))

    proc = _start(bjy_server, bjy_account, url, "sync", "--page-size", "20", preexec_fn=small_disk)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert "Invalid value" not in err and "Traceback" not in err and out == ""
    assert err.startswith("Error: the mirror database failed mid-run: ")
    assert "disk I/O error" in err or "database or disk is full" in err  # SQLite's words
    assert 0 < _count(url, s.playbacks) < rooms  # it did fail mid-sweep


def test_views_sync_killed_anywhere_then_rerun_converges_exactly(
    bjy_emulator: Emulator, bjy_server: Any, bjy_account: dict[str, Any], mirror_url: str
) -> None:
    from .test_mirror_views import final_days, mirrored_records, plays, service_records, today

    emu, account, url = bjy_emulator, bjy_account, mirror_url
    room = emu.create_room(account["partner_id"])["room_id"]
    emu.create_recording(room, status=100, length=900)
    day = today()
    records = plays(room, day - dt.timedelta(days=20), 2500)  # three pages of one day
    for back in range(31):
        records += plays(room, day - dt.timedelta(days=back), 3, first=5000)
    emu.add_views(records)
    emu.inject_fault("exportVideoReportBatch", "latency", 0.08)
    # Kill while the first days are read, in the middle of the 3-page day (pages 1 and 2
    # written, the day not recorded), and after most days are final.
    points: list[Callable[[], bool]] = [
        lambda: _count(url, s.view_days) >= 3,
        lambda: _count(url, s.play_records) >= 1200,
        lambda: _count(url, s.view_days) >= 25,
    ]
    for reached in points:
        proc = _start(bjy_server, account, url, "sync")
        _wait_for(reached, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    killed_days = final_days(url)
    assert 25 <= len(killed_days) < 31
    # a killed process's last request may still be served: let the count settle first
    before, settled = -1, emu.calls(account["partner_id"], "exportVideoReportBatch")
    while settled != before:
        time.sleep(0.3)
        before, settled = settled, emu.calls(account["partner_id"], "exportVideoReportBatch")
    with client_for(emu, account, rate_limit=None) as client, Mirror(client, url) as mirror:
        result = mirror.sync()
        spent = emu.calls(account["partner_id"], "exportVideoReportBatch") - before
    assert result.error is None and result.views_error is None
    # only the days the killed runs did not finish are read again (the 3-page day in three
    # calls), and of today (yesterday too just after midnight) the last half hour
    unread = [day - dt.timedelta(days=back) for back in range(31)]
    unread = [d for d in unread if str(d) not in killed_days]
    big = day - dt.timedelta(days=20)
    yesterday = str(day - dt.timedelta(days=1))
    expected = sum(3 if d == big else 1 for d in unread) + (str(day) in killed_days)
    expected += yesterday in killed_days and dt.datetime.now(ep.BEIJING).time() < dt.time(0, 30)
    assert spent == result.views_calls == expected
    assert mirrored_records(url) == service_records(emu, account["partner_id"])
    assert len(mirrored_records(url)) == 2500 + 93
    days = final_days(url)
    assert len(days) == 31 and sum(days.values()) == 29
    assert _count(url, s.sync_runs, s.sync_runs.c.error == "interrupted") == 3
