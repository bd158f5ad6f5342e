"""Who watched, from the mirror (issue 15, item 6): exact figures per playback and per viewer, the
main version's length, anonymous viewers, a roster, and the CLI's table, JSON and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from baijiayun import _endpoints as ep
from baijiayun.cli.main import cli
from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator
from baijiayun.mirror import Mirror, PlaybackViews, ViewerViews, read_roster

B = ep.BEIJING
DAY = dt.datetime.now(B).date() - dt.timedelta(days=3)


def at(days: int, clock: str) -> dt.datetime:
    """``days`` after DAY at ``clock`` (Beijing)."""
    return dt.datetime.combine(DAY + dt.timedelta(days=days), dt.time.fromisoformat(clock), B)


def play(room: int, begin: dt.datetime, length: int, **fields: Any) -> dict[str, Any]:
    return {
        "room_id": room,
        "play_begin_time": begin.strftime("%Y-%m-%d %H:%M:%S"),
        "play_length": length,
        **fields,
    }


class World:
    """A short-term room whose main version is a 1000 s crop, a long-term room of two 600 s
    sessions, and another account's plays; all mirrored."""

    def __init__(self, emu: Emulator, client: BaiJiaYunClient, url: str) -> None:
        partner = client.partner_id
        self.short = int(emu.create_room(partner, title="高数")["room_id"])
        emu.create_recording(self.short, status=100, length=3000, name="高数 第1讲")
        emu.create_crop(self.short, length=1000, name="高数 第1讲 (精简)")
        client.playback.set_main_version(self.short, 1)
        self.long = int(emu.create_room(partner, long_term=True)["room_id"])
        sessions = [emu.create_recording(self.long, status=100, length=600) for _ in range(2)]
        self.s1, self.s2 = (int(r["session_id"]) for r in sessions)
        self.names = [str(r["name"]) for r in sessions]
        other = emu.create_account()
        foreign = int(emu.create_room(other["partner_id"])["room_id"])
        emu.create_recording(foreign, status=100, length=100)
        emu.add_views(
            [
                play(self.short, at(0, "09:00:00"), 300, user_number="1001", user_name="张三"),
                play(self.short, at(2, "10:00:00"), 400, user_number="1001", user_name="张三丰"),
                play(self.short, at(1, "20:00:00"), 1500, user_number="1002", user_name="李四"),
                play(self.short, at(1, "21:00:00"), 100, uuid="anon-x"),
                play(self.short, at(1, "21:30:00"), 50, uuid="anon-x", user_name="访客"),
                play(self.short, at(2, "08:00:00"), 200, uuid="anon-y"),
                play(self.long, at(0, "12:00:00"), 300, session_id=self.s1, user_number="1001"),
                play(self.long, at(1, "12:00:00"), 600, session_id=self.s2, user_number="1003"),
                play(self.long, at(1, "13:00:00"), 60, session_id=self.s2, user_number="1001"),
                play(foreign, at(1, "13:00:00"), 60, user_number="1004"),
            ]
        )
        with Mirror(client, url) as mirror:
            mirror.sync()


@pytest.fixture
def world(emu: Emulator, client: BaiJiaYunClient, tmp_path: Path) -> World:
    return World(emu, client, f"sqlite:///{tmp_path / 'mirror.db'}")


def test_per_playback_viewers_plays_watched_and_average_completion(
    world: World, client: BaiJiaYunClient, tmp_path: Path
) -> None:
    with Mirror(client, f"sqlite:///{tmp_path / 'mirror.db'}") as mirror:
        rows = mirror.views_report()
    assert rows == [
        # completion per viewer: 700/1000, 1500/1000 → 1, 150/1000, 200/1000
        PlaybackViews(world.short, 0, "高数 第1讲 (精简)", 1000, 4, 6, 2550, 0.5125),
        PlaybackViews(world.long, world.s1, world.names[0], 600, 1, 1, 300, 0.5),
        PlaybackViews(world.long, world.s2, world.names[1], 600, 2, 2, 660, 0.55),
    ]


def test_per_viewer_with_anonymous_clients_counted_once_each(
    world: World, client: BaiJiaYunClient, tmp_path: Path
) -> None:
    with Mirror(client, f"sqlite:///{tmp_path / 'mirror.db'}") as mirror:
        rows = mirror.views_report(world.short)
        # once getCropList said which version is main, the figures are the same
        mirror.refresh(world.short)
        assert mirror.views_report(world.short) == rows
    s = world.short
    assert rows == [
        ViewerViews(
            s, 0, "1001", "张三丰", None, 2, 700, 0.7, at(0, "09:00:00"), at(2, "10:06:40")
        ),
        ViewerViews(s, 0, "1002", "李四", None, 1, 1500, 1.0, at(1, "20:00:00"), at(1, "20:25:00")),
        ViewerViews(
            s, 0, None, "访客", "anon-x", 2, 150, 0.15, at(1, "21:00:00"), at(1, "21:30:50")
        ),
        ViewerViews(s, 0, None, None, "anon-y", 1, 200, 0.2, at(2, "08:00:00"), at(2, "08:03:20")),
    ]
    assert rows[0].first_watch is not None and rows[0].first_watch.utcoffset() == dt.timedelta(
        hours=8
    )


def test_a_long_term_room_per_session_and_one_session(
    world: World, client: BaiJiaYunClient, tmp_path: Path
) -> None:
    with Mirror(client, f"sqlite:///{tmp_path / 'mirror.db'}") as mirror:
        every = mirror.views_report(world.long)
        one = mirror.views_report(world.long, world.s2)
    assert [(r.session_id, r.user_number, r.watched, r.completion) for r in every] == [
        (world.s1, "1001", 300, 0.5),
        (world.s2, "1001", 60, 0.1),
        (world.s2, "1003", 600, 1.0),
    ]
    assert one == every[1:]


def test_not_started_lists_the_roster_without_plays(
    world: World, client: BaiJiaYunClient, tmp_path: Path
) -> None:
    roster = ["1001", "1002", "1003", "1004", "1001"]
    with Mirror(client, f"sqlite:///{tmp_path / 'mirror.db'}") as mirror:
        assert mirror.not_started(roster, world.short) == ["1003", "1004"]
        assert mirror.not_started(roster, world.long, world.s1) == ["1002", "1003", "1004"]
        assert mirror.not_started(roster) == ["1004"]  # 1004 watched in another account only


def test_read_roster_takes_lines_or_a_csv_with_a_user_number_column(tmp_path: Path) -> None:
    lines = tmp_path / "roster.txt"
    lines.write_text("1001\n\n 1002 \n", encoding="utf-8")
    assert read_roster(lines) == ["1001", "1002"]
    table = tmp_path / "roster.csv"
    table.write_text("\ufeffname,user_number\n张三,1001\n李四,1005\n", encoding="utf-8")
    assert read_roster(table) == ["1001", "1005"]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,number\n张三,1001\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no 'user_number' column"):
        read_roster(bad)


def _report(tmp_path: Path, *args: str) -> Any:
    env = {
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
        "BAIJIAYUN_BASE_URL": "http://127.0.0.1:9",  # nothing listens: no API call is made
        "BAIJIAYUN_MIRROR_DATABASE": f"sqlite:///{tmp_path / 'mirror.db'}",
    }
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_cli_report_json_csv_and_table_from_the_mirror_alone(world: World, tmp_path: Path) -> None:
    shown = _report(tmp_path, "-o", "json", "views", "report")
    assert shown.exit_code == 0, shown.output
    assert [(r["room_id"], r["viewers"], r["completion"]) for r in json.loads(shown.stdout)] == [
        (world.short, 4, 0.5125),
        (world.long, 1, 0.5),
        (world.long, 2, 0.55),
    ]
    listed = _report(tmp_path, "-o", "csv", "views", "report", "--room", str(world.short))
    rows = list(csv.DictReader(listed.stdout.splitlines()))
    assert [(r["user_number"], r["plays"], r["watched"], r["completion"]) for r in rows] == [
        ("1001", "2", "700", "0.7"),
        ("1002", "1", "1500", "1.0"),
        ("", "2", "150", "0.15"),
        ("", "1", "200", "0.2"),
    ]
    assert rows[0]["first_watch"] == f"{DAY}T09:00:00+08:00"
    table = _report(tmp_path, "-o", "table", "views", "report", "--room", str(world.short))
    assert table.exit_code == 0, table.output
    assert "███████░░░  70.0%" in table.stdout and "██████████ 100.0%" in table.stdout
    assert "(anonymous)" in table.stdout and "4 viewers of room" in table.stdout
    session = _report(
        tmp_path,
        *("-o", "json", "views", "report", "--room", str(world.long)),
        *("--session-id", str(world.s1)),
    )
    assert [r["user_number"] for r in json.loads(session.stdout)] == ["1001"]


def test_cli_report_not_started_and_bad_usage(world: World, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("user_number,name\n1001,张三\n1003,王五\n1009,赵六\n", encoding="utf-8")
    shown = _report(
        tmp_path, "-o", "json", "views", "report", "--room", str(world.short), "--not-started",
        str(roster),
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == [{"user_number": "1003"}, {"user_number": "1009"}]
    table = _report(tmp_path, "-o", "table", "views", "report", "--not-started", str(roster))
    assert "1 of 3 on the roster have not started" in table.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("name,number\n张三,1001\n", encoding="utf-8")
    refused = _report(tmp_path, "views", "report", "--not-started", str(bad))
    assert refused.exit_code == 2 and "user_number" in refused.output
    alone = _report(tmp_path, "views", "report", "--session-id", "3")
    assert alone.exit_code == 2 and "--session-id needs --room" in alone.output
    missing = _report(tmp_path, "views", "report", "--database", "sqlite:///nowhere/m.db")
    assert missing.exit_code == 2 and "no mirror database" in missing.output
