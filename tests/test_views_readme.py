"""The viewing records page's examples (docs/views.md) run against the demo emulator (``--seed demo``: a few hundred
plays over the last 30 days), served on a loopback port: the SDK block, the CLI lines, the report.

Every figure is checked exactly against the emulator's own records and playbacks, computed here
independently of the mirror.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from baijiayun import _endpoints as ep
from baijiayun.cli.main import cli
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS
from baijiayun.emulator.server import BackgroundServer

PAGE = (Path(__file__).parent.parent / "docs" / "views.md").read_text(encoding="utf-8")
ROOM = 26010100000001
LONG_ROOM = 26010100000021
PARTNER = int(DEMO_ACCOUNTS[0]["partner_id"])
SPAN = dt.date(2026, 11, 25), dt.date(2026, 12, 1)
"""The days of the page's CLI lines."""

pytestmark = pytest.mark.server


def blocks(language: str, tag: str = "views") -> list[str]:
    return re.findall(rf"```{language} {tag}\n(.*?)```", PAGE, flags=re.S)


def today() -> dt.date:
    return dt.datetime.now(ep.BEIJING).date()


def began(record: dict[str, Any]) -> dt.date:
    return dt.datetime.fromtimestamp(record["play_begin_time"], ep.BEIJING).date()


def played(
    emu: Emulator, first: dt.date, last: dt.date, room: int | None = ROOM
) -> list[dict[str, Any]]:
    """The demo account's records (of ``room``; None: every room) that began on those days, in
    the order of docs/protocol.md#viewing-records."""
    return [
        r
        for r in emu.play_records()
        if r["partner_id"] == PARTNER
        and first <= began(r) <= last
        and (room is None or r["room_id"] == room)
    ]


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Emulator, str]]:
    """The demo emulator, plus a play on each end of the page's span, served."""
    with Emulator("sqlite://", EmulatorConfig(rate_limit=None)) as emu:
        emu.reset()
        emu.seed_demo()
        emu.add_views(
            [
                {"room_id": ROOM, "play_begin_time": "2026-11-28 09:00:00", "play_length": 61},
                {"room_id": ROOM + 1, "play_begin_time": "2026-12-01 23:59:59", "user_number": 9},
            ]
        )
        with BackgroundServer(emu) as server:
            yield emu, server.base_url


@pytest.fixture
def service(
    demo: tuple[Emulator, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    env = {
        "BAIJIAYUN_PARTNER_ID": str(PARTNER),
        "BAIJIAYUN_PARTNER_KEY": DEMO_ACCOUNTS[0]["partner_key"],
        "BAIJIAYUN_BASE_URL": demo[1],
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
        "BAIJIAYUN_RATE_LIMIT": "off",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return env


def test_readme_views_python_example_runs(
    demo: tuple[Emulator, str], service: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    emu = demo[0]
    (code,) = blocks("python")
    exec(compile(code, "docs/views.md views block", "exec"), {"__name__": "readme"})
    lines = capsys.readouterr().out.splitlines()
    month = today() - dt.timedelta(days=30), today()
    room = played(emu, *month, LONG_ROOM)
    assert len(room) >= 10  # the demo's long-term room is watched
    expected = [
        " ".join(
            str(v)
            for v in (
                dt.datetime.fromtimestamp(r["play_begin_time"], ep.BEIJING),
                r["user_number"] or None,
                r["user_name"],
                r["play_length"],
            )
        )
        for r in room
    ]
    assert lines[: len(room)] == expected
    viewers = {r["user_number"] or None for r in played(emu, *month, None)}
    assert lines[len(room) :] == [
        f"{len(viewers)} viewers in 31 days",
        f"{len(played(emu, today(), today()))} plays today",
        "end_time",
    ]


def _run(env: dict[str, str], line: str) -> Any:
    args = shlex.split(line.split("  #")[0])
    assert args[0] == "baijiayun"
    result = CliRunner().invoke(cli, args[1:], env=env, catch_exceptions=False)
    assert result.exit_code == 0, (line, result.output)
    return result


def test_readme_views_cli_lines_run(
    demo: tuple[Emulator, str], service: dict[str, str], tmp_path: Path
) -> None:
    emu = demo[0]
    (block,) = blocks("bash")
    outputs = [_run(service, line) for line in block.splitlines()]
    guids = [r["guid"] for r in played(emu, today(), today())]
    assert [row["guid"] for row in json.loads(outputs[0].stdout)] == guids
    listed = list(csv.DictReader(outputs[1].stdout.splitlines()))
    assert [r["guid"] for r in listed] == [r["guid"] for r in played(emu, *SPAN)]
    assert {"room_id": str(ROOM), "play_begin_time": "2026-11-28T09:00:00+08:00"}.items() <= (
        next(r for r in listed if r["play_length"] == "61").items()
    )
    with (tmp_path / "plays.csv").open(encoding="utf-8") as file:
        exported = list(csv.DictReader(file))
    assert [r["guid"] for r in exported] == [r["guid"] for r in played(emu, *SPAN, None)]
    assert {r["room_id"] for r in exported} >= {str(ROOM), str(ROOM + 1)}


# -- the report --------------------------------------------------------------------------------


def mains(emu: Emulator, room: int) -> dict[int, dict[str, Any]]:
    """The main version of each session of a room, as the emulator holds it."""
    return {
        r["session_id"]: r
        for r in emu.playback_rows(room)
        if r["is_main"] and not r["deleted"]
    }  # fmt: skip


def expected_viewers(emu: Emulator, room: int) -> list[dict[str, Any]]:
    """Per (session, viewer) of ``room`` over the mirror's 31 days, from the emulator's rows."""
    month = today() - dt.timedelta(days=30), today()
    groups: dict[tuple[int, str | None, str | None], list[dict[str, Any]]] = {}
    for r in played(emu, *month, room):
        number = r["user_number"] or None
        key = (r["session_id"], number, None if number else r["uuid"])
        groups.setdefault(key, []).append(r)
    length = {s: m["length"] for s, m in mains(emu, room).items()}
    rows = []
    for (session, number, uuid), group in sorted(
        groups.items(), key=lambda g: (g[0][0], g[0][1] is None, g[0][1] or "", g[0][2] or "")
    ):
        watched = sum(r["play_length"] for r in group)
        rows.append(
            {
                "session_id": session,
                "user_number": number,
                "uuid": uuid,
                "plays": len(group),
                "watched": watched,
                "completion": min(1.0, watched / length[session]),
            }
        )
    return rows


def expected_playbacks(emu: Emulator) -> list[dict[str, Any]]:
    month = today() - dt.timedelta(days=30), today()
    rooms = sorted({r["room_id"] for r in played(emu, *month, None)})
    out = []
    for room in rooms:
        names = {s: m["name"] for s, m in mains(emu, room).items()}
        by_session: dict[int, list[dict[str, Any]]] = {}
        for viewer in expected_viewers(emu, room):
            by_session.setdefault(viewer["session_id"], []).append(viewer)
        for session, viewers in sorted(by_session.items()):
            out.append(
                {
                    "room_id": room,
                    "session_id": session,
                    "name": names[session],
                    "viewers": len(viewers),
                    "plays": sum(v["plays"] for v in viewers),
                    "watched": sum(v["watched"] for v in viewers),
                    "completion": round(sum(v["completion"] for v in viewers) / len(viewers), 4),
                }
            )
    return out


def test_readme_report_examples_run(
    demo: tuple[Emulator, str],
    service: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = demo[0]
    viewers = expected_viewers(emu, LONG_ROOM)
    numbers = [v["user_number"] for v in viewers if v["user_number"]]
    roster = [numbers[0], "29999991", numbers[-1], "29999992"]
    (tmp_path / "roster.csv").write_text(
        "name,user_number\n" + "".join(f"学生,{n}\n" for n in roster), encoding="utf-8"
    )
    (code,) = blocks("python", "views-report")
    exec(compile(code, "docs/views.md report block", "exec"), {"__name__": "readme"})
    lines = capsys.readouterr().out.splitlines()
    month = today() - dt.timedelta(days=30), today()
    account = played(emu, *month, None)
    assert len(account) >= 100
    assert lines[0] == f"{len(account)} plays read with 31 calls"
    playbacks = expected_playbacks(emu)
    top = max(playbacks, key=lambda p: p["viewers"])
    assert lines[1] == (
        f"{top['room_id']} {top['session_id']} {top['name']} {top['viewers']} viewers "
        f"{top['completion']}"
    )
    assert lines[2:-1] == [
        f"{v['session_id']} {v['user_number'] or 'anonymous'} {v['plays']} {v['watched']} "
        f"{round(v['completion'], 4)}"
        for v in viewers
    ]
    assert lines[-1] == str(["29999991", "29999992"])

    (block,) = blocks("bash", "views-report")
    outputs = [_run(service, line) for line in block.splitlines()]
    reported = json.loads(outputs[1].stdout)
    assert [{k: r[k] for k in playbacks[0]} for r in reported] == playbacks
    per_viewer = list(csv.DictReader(outputs[2].stdout.splitlines()))
    assert [
        (int(r["session_id"]), r["user_number"] or None, int(r["watched"]), float(r["completion"]))
        for r in per_viewer
    ] == [
        (v["session_id"], v["user_number"], v["watched"], round(v["completion"], 4))
        for v in viewers
    ]
    assert all(r["first_watch"].endswith("+08:00") for r in per_viewer)
    assert json.loads(outputs[3].stdout) == [
        {"user_number": "29999991"},
        {"user_number": "29999992"},
    ]
