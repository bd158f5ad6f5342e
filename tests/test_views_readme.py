"""The README's "Who watched" examples run: the Python block and every CLI line.

They run against a loopback stand-in of §12's two endpoints (tests/views_helpers.py), which checks
every sign and window; the emulator's own endpoints arrive with the player work.
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

from baijiayun.cli.main import cli

from .sdk_helpers import KEY, PARTNER_ID
from .views_helpers import FakeVideoData, record

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
ROOM = 26010100000001


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language} views\n(.*?)```", README, flags=re.S)


TODAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
RECORDS = [
    record(1, f"{TODAY - dt.timedelta(days=3)} 20:00:00"),
    record(2, f"{TODAY} 00:00:05"),
    record(3, f"{TODAY} 00:00:06", user_number=1002),  # the same viewer again
    record(4, f"{TODAY} 00:00:07", room_id=ROOM + 1),
    record(5, f"{TODAY} 00:00:08", room_id=None),  # a VOD play
    record(6, "2026-11-28 09:00:00"),
    record(7, "2026-12-01 23:59:59", room_id=ROOM + 1),
]


def played(first: dt.date, last: dt.date, room: int | None = ROOM) -> list[dict[str, Any]]:
    """The records of ``room`` (None: every one) that began on those days, in §12's order."""
    rows = [
        r
        for r in RECORDS
        if first <= dt.date.fromisoformat(r["play_begin_time"][:10]) <= last
        and (room is None or r.get("room_id") == room)
    ]
    return sorted(rows, key=lambda r: (r["play_begin_time"], r["guid"]))


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    with FakeVideoData(RECORDS).serve() as base_url:
        env = {
            "BAIJIAYUN_PARTNER_ID": str(PARTNER_ID),
            "BAIJIAYUN_PARTNER_KEY": KEY,
            "BAIJIAYUN_BASE_URL": base_url,
            "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
            "BAIJIAYUN_RATE_LIMIT": "off",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(tmp_path)
        yield env


def test_readme_views_python_example_runs(
    service: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    (code,) = blocks("python")
    exec(compile(code, "README views block", "exec"), {"__name__": "readme"})
    lines = capsys.readouterr().out.splitlines()
    week = played(TODAY - dt.timedelta(days=6), TODAY)
    assert len(week) >= 3
    assert [line.split()[-3:] for line in lines[: len(week)]] == [
        [str(r["user_number"]), r["user_name"], str(r["play_length"])] for r in week
    ]
    assert lines[0].split()[1].endswith("+08:00")
    viewers = {r["user_number"] for r in played(TODAY, TODAY, None)}
    assert lines[len(week) :] == [
        f"{len(viewers)} viewers today",
        f"{len(played(TODAY, TODAY))} plays today",
        "end_time",
    ]


def test_readme_views_cli_lines_run(service: dict[str, str], tmp_path: Path) -> None:
    (block,) = blocks("bash")
    outputs = []
    for line in block.splitlines():
        args = shlex.split(line.split("  #")[0])
        assert args[0] == "baijiayun"
        result = CliRunner().invoke(cli, args[1:], env=service, catch_exceptions=False)
        assert result.exit_code == 0, (line, result.output)
        outputs.append(result)
    guids = [r["guid"] for r in played(TODAY, TODAY)]
    assert [row["guid"] for row in json.loads(outputs[0].stdout)] == guids
    span = dt.date(2026, 11, 25), dt.date(2026, 12, 1)
    listed = list(csv.DictReader(outputs[1].stdout.splitlines()))
    assert [r["guid"] for r in listed] == [r["guid"] for r in played(*span)]
    assert listed[0]["play_begin_time"] == "2026-11-28T09:00:00+08:00"
    with (tmp_path / "plays.csv").open(encoding="utf-8") as file:
        exported = list(csv.DictReader(file))
    assert [r["guid"] for r in exported] == [r["guid"] for r in played(*span, None)]
    assert {r["room_id"] for r in exported} >= {str(ROOM), str(ROOM + 1)}
