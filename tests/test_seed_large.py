"""The large catalog: what it creates is what the database holds and what the SDK reads."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from sqlalchemy import func, select

from baijiayun import BaiJiaYunClient
from baijiayun.cli.main import cli
from baijiayun.emulator import Emulator
from baijiayun.emulator import schema as t
from baijiayun.emulator.seed_large import LARGE_ACCOUNT
from baijiayun.emulator.server import free_port
from baijiayun.testing import client_for

N = 400


def _rows(emulator: Emulator) -> list[dict[str, Any]]:
    with emulator.db.read() as conn:
        found = conn.execute(select(t.playbacks).order_by(t.playbacks.c.id)).all()
    return [dict(r._mapping) for r in found]


def test_large_seed_counts_and_the_sdk_reads_them(bjy_emulator: Emulator) -> None:
    counts = bjy_emulator.seed_large(N)
    rows = _rows(bjy_emulator)
    originals = [r for r in rows if r["version"] == 0]
    assert counts["playbacks"] == len(originals) == N
    assert counts["versions"] == len(rows) > N  # some playbacks have crop versions
    with bjy_emulator.db.read() as conn:
        rooms = conn.execute(select(func.count()).select_from(t.rooms)).scalar_one()
        long_term = conn.execute(
            select(t.rooms.c.room_id).where(t.rooms.c.is_long_term.is_(True))
        ).all()
    assert counts["rooms"] == rooms and long_term
    assert len({(r["room_id"], r["session_id"]) for r in originals}) == N
    assert len({r["video_id"] for r in rows}) == len(rows)
    statuses = Counter(r["status"] for r in originals)
    assert statuses[100] > N * 0.8 and set(statuses) <= {10, 20, 30, 100}
    assert {r["publish_status"] for r in originals} == {1, 2}
    newest_first = sorted(originals, key=lambda r: r["create_time"])
    # only the newest recordings may still be recording or transcoding
    assert all(r["status"] in (30, 100) for r in newest_first[: N - max(1, N // 200)])

    with client_for(bjy_emulator, LARGE_ACCOUNT, rate_limit=None) as client:
        page = client.playback.get_list(None, 1, 1000, crop_video=1)
        assert page.total == len(rows)
        listed = {(i.room_id, i.session_id, i.version) for i in page.items}
        assert listed == {(r["room_id"], r["session_id"], r["version"]) for r in rows}
        assert client.playback.get_list(None, 1, 10).total == N
        room_id = int(long_term[0][0])
        sessions = client.playback.get_session_list(room_id).items
        held = sorted(r["session_id"] for r in originals if r["room_id"] == room_id)
        assert sorted(s.session_id for s in sessions) == held and len(held) >= 10
        # the backend's rules still hold after the bulk load: new ids follow the seeded ones
        made = bjy_emulator.create_room(LARGE_ACCOUNT["partner_id"])
        assert made["room_id"] > max(int(r[0]) for r in long_term)
        recording = bjy_emulator.create_recording(made["room_id"], status=100)
        assert recording["video_id"] > max(r["video_id"] for r in rows)


def test_large_seed_is_deterministic() -> None:
    snapshots = []
    for _ in range(2):
        with Emulator("sqlite://") as emulator:
            emulator.seed_large(150)
            snapshots.append(_rows(emulator))
    assert snapshots[0] == snapshots[1]


def test_large_seed_goes_beside_the_demo_data_set() -> None:
    # The CLI's default database file may hold the demo data set already.
    with Emulator("sqlite://") as emulator:
        emulator.seed_demo()
        emulator.seed_large(50)
        demo = emulator.playback_rows(26010100000001)
        assert demo and demo[0]["name"] == "高等数学 第1讲"
        ids = {r["video_id"] for r in _rows(emulator)}
        room = emulator.create_room(LARGE_ACCOUNT["partner_id"])
        assert room["room_id"] > 26010100000050  # after the demo's rooms and the large ones
        made = emulator.create_recording(room["room_id"], status=100)
        assert made["video_id"] > max(ids)


def test_serve_refuses_a_seed_size_below_one() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--seed", "large", "--seed-size", "0"])
    assert result.exit_code == 2 and "--seed-size" in result.output


def test_serve_seed_large_prints_the_account_it_loaded(tmp_path: Path) -> None:
    port = free_port()
    command = [str(Path(sys.executable).parent / "baijiayun"), "emulator", "serve"]
    command += ["--port", str(port), "--seed", "large", "--seed-size", "120"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        said = []
        while not said or "emulator on" not in said[-1]:  # printed just before serving
            said.append(process.stderr.readline())
            assert said[-1], "".join(said)
        assert "seeded large data: {'accounts': 1, 'rooms':" in "".join(said)
        printed = re.search(
            r"BAIJIAYUN_PARTNER_ID=(\d+) BAIJIAYUN_PARTNER_KEY='([^']+)' BAIJIAYUN_BASE_URL=(\S+)",
            "".join(said),
        )
        assert printed is not None and int(printed[1]) == LARGE_ACCOUNT["partner_id"]
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{printed[3]}/_emulator/faults")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        with BaiJiaYunClient(int(printed[1]), printed[2], base_url=printed[3]) as client:
            assert client.playback.get_list(None, 1, 10).total == 120
    finally:
        process.terminate()
        process.wait(10)
