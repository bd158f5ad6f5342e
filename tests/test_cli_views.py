"""``baijiayun views list|export`` against a stand-in of the two video-data endpoints (docs/protocol.md#viewing-records).

The emulator's endpoints come with the player work; until then a loopback stand-in answers by
the rules of docs/protocol.md#viewing-records and checks every sign, so the exact calls of each command are asserted here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from baijiayun._days import beijing_today
from baijiayun.cli.main import cli

from .sdk_helpers import KEY, PARTNER_ID
from .views_helpers import EXPORT, PLAY_RECORD, FakeVideoData, record

ROOM = 26010100000001
OTHER = 26010100000002


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeVideoData, dict[str, str]]]:
    today = beijing_today().isoformat()
    service = FakeVideoData(
        [
            record(1, "2026-11-30 23:45:00"),
            record(2, "2026-12-01 10:00:00", user_name="张三", user_number=20001),
            record(3, "2026-12-01 11:00:00", room_id=OTHER),
            record(4, "2026-12-02 00:05:00", session_id=202612021),
            record(5, f"{today} 00:00:01"),
            record(6, "2026-12-01 12:00:00", room_id=None),  # a VOD play
        ]
    )
    with service.serve() as base_url:
        env = {
            "BAIJIAYUN_PARTNER_ID": str(PARTNER_ID),
            "BAIJIAYUN_PARTNER_KEY": KEY,
            "BAIJIAYUN_BASE_URL": base_url,
            "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
            "BAIJIAYUN_RATE_LIMIT": "off",
            "COLUMNS": "160",
        }
        yield service, env


@pytest.fixture
def fake(served: tuple[FakeVideoData, dict[str, str]]) -> tuple[FakeVideoData, dict[str, str]]:
    served[0].forms.clear()
    return served


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def guid(n: int) -> str:
    return f"{n:032x}"


def test_list_json_walks_each_beijing_day_with_times_at_plus_8(
    fake: tuple[FakeVideoData, dict[str, str]],
) -> None:
    service, env = fake
    args = ("views", "list", str(ROOM), "--since", "2026-11-30 23:30:00", "--until", "2026-12-02")
    rows = json.loads(ok(run(env, *args)).stdout)
    assert [r["guid"] for r in rows] == [guid(1), guid(2), guid(4)]
    assert rows[1]["play_begin_time"] == "2026-12-01T10:00:00+08:00"
    assert (rows[1]["user_name"], rows[1]["user_number"], rows[1]["client_type"]) == (
        "张三",
        "20001",
        5,
    )
    assert service.windows == [
        ("2026-11-30 23:30:00", "2026-11-30 23:59:59"),
        ("2026-12-01 00:00:00", "2026-12-01 23:59:59"),
        ("2026-12-02 00:00:00", "2026-12-02 23:59:59"),
    ]
    assert {path for path, _ in service.forms} == {PLAY_RECORD}
    assert all(
        (form["room_id"], form["page"], form["page_size"]) == (str(ROOM), "1", "1000")
        and "session_id" not in form
        for _, form in service.forms
    )


def test_list_defaults_to_today_and_passes_the_session(
    fake: tuple[FakeVideoData, dict[str, str]],
) -> None:
    service, env = fake
    today = beijing_today().isoformat()
    rows = json.loads(ok(run(env, "views", "list", str(ROOM))).stdout)
    assert [r["guid"] for r in rows] == [guid(5)]
    assert service.windows == [(f"{today} 00:00:00", f"{today} 23:59:59")]
    rows = json.loads(
        ok(
            run(
                env,
                "views",
                "list",
                str(ROOM),
                "--since",
                "2026-12-02",
                "--until",
                "2026-12-02",
                "--session-id",
                "202612021",
            )
        ).stdout
    )
    assert [r["guid"] for r in rows] == [guid(4)]
    assert service.forms[-1][1]["session_id"] == "202612021"
    assert service.windows[-1] == ("2026-12-02 00:00:00", "2026-12-02 23:59:59")
    # --since alone runs until today
    service.forms.clear()
    yesterday = (beijing_today() - dt.timedelta(days=1)).isoformat()
    ok(run(env, "views", "list", str(ROOM), "--since", yesterday))
    assert service.windows == [
        (f"{yesterday} 00:00:00", f"{yesterday} 23:59:59"),
        (f"{today} 00:00:00", f"{today} 23:59:59"),
    ]


def test_list_csv_and_table(fake: tuple[FakeVideoData, dict[str, str]]) -> None:
    _, env = fake
    span = ("--since", "2026-12-01", "--until", "2026-12-01")
    out = ok(run(env, "-o", "csv", "views", "list", str(ROOM), *span)).stdout
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["guid"] == guid(2)
    assert row["play_begin_time"] == "2026-12-01T10:00:00+08:00"
    assert (row["room_id"], row["user_number"], row["play_length"]) == (str(ROOM), "20001", "62")
    table = ok(run(env, "-o", "table", "views", "list", str(ROOM), *span)).stdout
    header, _, line, caption = table.splitlines()[:4]
    assert header.split()[:3] == ["began", "(UTC+8)", "room_id"]
    for column in ("user", "viewer", "watched (s)", "client"):
        assert column in header
    assert line.startswith("2026-12-01 10:00:00")
    assert "张三" in line and "20001" in line and "pc web (5)" in line
    assert caption == f"1 play of room {ROOM}, 2026-12-01 (UTC+8)"


def test_export_writes_every_play_of_the_account_to_a_file(
    fake: tuple[FakeVideoData, dict[str, str]], tmp_path: Path
) -> None:
    service, env = fake
    target = tmp_path / "plays.csv"
    span = ("--since", "2026-12-01", "--until", "2026-12-01 23:59:59")
    result = ok(run(env, "views", "export", *span, "--to", str(target)))
    assert result.stdout == ""
    assert (
        f"3 plays of the account, 2026-12-01 .. 2026-12-01 23:59:59 (UTC+8): written to {target} (csv)"
        in result.stderr
    )
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [r["guid"] for r in rows] == [guid(2), guid(3), guid(6)]
    assert rows[2]["room_id"] == ""  # the VOD play has no room
    assert service.forms[-1] == (
        EXPORT,
        {
            **service.forms[-1][1],
            "start_time": "2026-12-01 00:00:00",
            "end_time": "2026-12-01 23:59:59",
        },
    )
    assert "product_type" not in service.forms[-1][1]
    # -o wins over the suffix; --product-type is sent
    ok(
        run(
            env, "-o", "jsonl", "views", "export", *span, "--product-type", "1", "--to", str(target)
        )
    )
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["guid"] for line in lines] == [guid(2), guid(3), guid(6)]
    assert service.forms[-1][1]["product_type"] == "1"


def test_export_to_stdout_as_json(fake: tuple[FakeVideoData, dict[str, str]]) -> None:
    service, env = fake
    rows = json.loads(
        ok(
            run(
                env,
                "views",
                "export",
                "--since",
                "2026-11-30 23:00:00",
                "--until",
                "2026-12-01 10:00:00",
            )
        ).stdout
    )
    assert [r["guid"] for r in rows] == [guid(1), guid(2)]
    assert len(service.forms) == 2


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["views", "export", "--until", "2026-12-01"], "Missing option '--since'"),
        (
            ["views", "list", str(ROOM), "--since", "2026-12-02", "--until", "2026-12-01"],
            "'--until'",
        ),
        (["views", "list", str(ROOM), "--since", "1.12.2026"], "'--since'"),
        (["views", "list", "１２３"], "ASCII digits"),
        (
            [
                "-o",
                "table",
                "views",
                "export",
                "--since",
                "2026-12-01",
                "--until",
                "2026-12-01",
                "--to",
                "x.txt",
            ],
            "not a table",
        ),
        (
            [
                "views",
                "export",
                "--since",
                "2026-12-01",
                "--until",
                "2026-12-01",
                "--product-type",
                "6",
            ],
            "'--product-type'",
        ),
    ],
)
def test_bad_usage_exits_2_naming_the_option_and_sends_nothing(
    fake: tuple[FakeVideoData, dict[str, str]], args: list[str], said: str
) -> None:
    service, env = fake
    result = run(env, *args)
    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert service.forms == []


def test_dry_run_prints_the_first_call_and_sends_nothing(
    fake: tuple[FakeVideoData, dict[str, str]],
) -> None:
    service, env = fake
    args = (
        "--dry-run",
        "views",
        "list",
        str(ROOM),
        "--since",
        "2026-12-01",
        "--until",
        "2026-12-03",
    )
    shown = json.loads(ok(run(env, *args)).stdout)
    assert shown["url"].endswith(PLAY_RECORD)
    assert (shown["form"]["start_time"], shown["form"]["end_time"]) == (
        "2026-12-01 00:00:00",
        "2026-12-01 23:59:59",
    )
    assert shown["form"]["sign"] == "***"
    assert service.forms == []


def test_an_api_error_exits_1(fake: tuple[FakeVideoData, dict[str, str]]) -> None:
    _, env = fake
    result = run({**env, "BAIJIAYUN_PARTNER_KEY": "wrong"}, "views", "list", str(ROOM))
    assert result.exit_code == 1
    assert "1002" in result.stderr and "签名错误" in result.stderr
