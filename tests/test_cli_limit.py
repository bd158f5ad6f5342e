"""The CLI under the account limit: one budget per machine, wait notes, ``playback bulk``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from baijiayun import FileRateGovernor, RedisRateGovernor
from baijiayun.cli.context import Settings
from baijiayun.cli.main import cli
from baijiayun.cli.progress import Status
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.server import BackgroundServer

BIN = Path(sys.executable).parent / "baijiayun"
CALLS, PERIOD = 20, 1.0


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, BackgroundServer]]:
    """A real server whose rate limit is short: 20 calls per 1 s."""
    emulator = Emulator("sqlite://", EmulatorConfig(rate_limit=CALLS, rate_period=PERIOD))
    with emulator, BackgroundServer(emulator) as server:
        yield emulator, server


@pytest.fixture
def world(served: tuple[Emulator, BackgroundServer], tmp_path: Path) -> dict[str, Any]:
    emulator, server = served
    emulator.reset()
    account = emulator.create_account()
    rooms = []
    for index in range(40):
        room = emulator.create_room(account["partner_id"], title=f"第{index}讲")["room_id"]
        emulator.create_recording(room, status=100)
        rooms.append(room)
    env = {
        "BAIJIAYUN_PARTNER_ID": str(account["partner_id"]),
        "BAIJIAYUN_PARTNER_KEY": account["partner_key"],
        "BAIJIAYUN_BASE_URL": server.base_url,
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
        "BAIJIAYUN_RATE_LIMIT": f"{CALLS}/{PERIOD:g}",
        "BAIJIAYUN_CACHE_DIR": str(tmp_path / "cache"),
        "BAIJIAYUN_REDIS_URL": "",
    }
    return {"emulator": emulator, "pid": account["partner_id"], "rooms": rooms, "env": env}


def run(world: dict[str, Any], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=world["env"], input=input)


def refused(world: dict[str, Any]) -> int:
    emulator: Emulator = world["emulator"]
    return emulator.calls(world["pid"], outcome="rate_limited")


# --- one budget per machine ----------------------------------------------------------------------


def test_two_cli_processes_at_once_share_one_budget(tmp_path: Path) -> None:
    # A service that allows 3 calls per 2 s, and two CLI processes with that budget making 4
    # calls each at once: had each its own budget, 6 calls would arrive in the first window and
    # 3 be refused. Sharing one, all 8 are served and somebody waits (about 2 s, so the note is
    # shown however slow the machine). A loaded machine only spreads the calls further.
    emulator = Emulator("sqlite://", EmulatorConfig(rate_limit=3, rate_period=2.0))
    with emulator, BackgroundServer(emulator) as server:
        account = emulator.create_account()
        rooms = []
        for index in range(40):
            room = emulator.create_room(account["partner_id"], title=f"第{index}讲")["room_id"]
            emulator.create_recording(room, status=100)
            rooms.append(room)
        env = {
            **os.environ,
            "BAIJIAYUN_PARTNER_ID": str(account["partner_id"]),
            "BAIJIAYUN_PARTNER_KEY": account["partner_key"],
            "BAIJIAYUN_BASE_URL": server.base_url,
            "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
            "BAIJIAYUN_RATE_LIMIT": "3/2",
            "BAIJIAYUN_CACHE_DIR": str(tmp_path / "cache"),
            "BAIJIAYUN_REDIS_URL": "",
        }
        command = [str(BIN), "playback", "list", "--all", "--page-size", "10", "--max-retries", "0"]
        children = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        outputs = [child.communicate(timeout=60) for child in children]
        assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
        for out, _ in outputs:
            assert sorted(item["room_id"] for item in json.loads(out)) == sorted(rooms)
        assert emulator.calls(account["partner_id"], "getList") == 2 * 4
        assert emulator.calls(account["partner_id"], outcome="rate_limited") == 0
        assert any(b"waiting for the account limit (" in err for _, err in outputs)


def test_a_governor_wait_is_shown(world: dict[str, Any], tmp_path: Path) -> None:
    # another process of this machine has two calls of the budget (2 a second) in flight: they
    # count for a whole period from now, at least
    book = tmp_path / "cache" / "ratelimit.sqlite3"
    other = FileRateGovernor(str(world["pid"]), path=book, calls=2, period=1.0)
    for _ in range(2):
        other.acquire(hold=0.3)
    result = run(world, "--rate-limit", "2/1", "playback", "info", str(world["rooms"][0]))
    assert result.exit_code == 0, result.output
    assert re.search(r"^waiting for the account limit \(1\.\d s\)$", result.stderr, re.M)
    assert json.loads(result.stdout)["status"] == 100


def test_the_cli_and_an_app_on_one_account_share_the_redis_budget(
    world: dict[str, Any], redis_url: str
) -> None:
    import redis

    from baijiayun.ratelimit import default_key

    redis.Redis.from_url(redis_url).delete(default_key(world["pid"]))
    # an app's governor, built with its defaults, has the whole budget (2 a second) in flight
    app = RedisRateGovernor(redis_url, partner_id=world["pid"], calls=2, period=1.0)
    for _ in range(2):
        app.acquire(hold=0.3)
    world["env"]["BAIJIAYUN_REDIS_URL"] = redis_url
    result = run(world, "--rate-limit", "2/1", "playback", "info", str(world["rooms"][0]))
    app.close()
    assert result.exit_code == 0, result.output
    assert re.search(r"^waiting for the account limit \(1\.\d s\)$", result.stderr, re.M)
    assert refused(world) == 0


def test_the_progress_bar_shows_waits() -> None:
    notes: list[str | None] = []
    status = Status(terminal=False)
    status._show = notes.append
    status.on_wait("backoff", 2.0)
    status.on_wait("governor", 3.24)
    status.on_wait("rate_limit", 10.0)
    assert notes == [
        "waiting for the account limit (3.2 s)",
        "waiting for the account limit (10.0 s)",
    ]


def test_the_budget_is_a_file_governor_or_redis_and_never_opened_early(tmp_path: Path) -> None:
    environ = {"BAIJIAYUN_PARTNER_ID": "42", "BAIJIAYUN_CACHE_DIR": str(tmp_path)}
    governor = Settings(environ=environ).resolve().governor()
    assert isinstance(governor, FileRateGovernor)
    assert (governor.key, governor.calls, governor.period) == ("42", 200, 10.0)
    assert list(tmp_path.iterdir()) == []  # no file until the first call
    environ |= {"BAIJIAYUN_REDIS_URL": "redis://127.0.0.1:1/0", "BAIJIAYUN_RATE_LIMIT": "50/5"}
    governor = Settings(environ=environ).resolve().governor()
    assert isinstance(governor, RedisRateGovernor)
    assert (governor.key, governor.calls, governor.period) == ("bjy:ratelimit:42", 50, 5.0)
    assert Settings(typed={"rate_limit": "off"}, environ=environ).resolve().governor() is None


def test_a_bad_budget_names_the_option(world: dict[str, Any]) -> None:
    result = run(world, "--rate-limit", "lots", "playback", "info", "1")
    assert result.exit_code == 2
    assert "'--rate-limit'" in result.stderr and "CALLS/SECONDS" in result.stderr


# --- playback bulk -------------------------------------------------------------------------------


def _names(world: dict[str, Any], rooms: list[int]) -> list[str]:
    emulator: Emulator = world["emulator"]
    return [emulator.playback_rows(room)[0]["name"] for room in rooms]


def _writes(world: dict[str, Any], action: str = "update") -> int:
    emulator: Emulator = world["emulator"]
    return emulator.calls(world["pid"], action)


def test_bad_rows_are_all_reported_and_nothing_is_sent(
    world: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "renames.csv"
    source.write_text(
        f"room_id,name\n{world['rooms'][0]},ok\nabc,x\n{world['rooms'][1]},\n", encoding="utf-8"
    )
    result = run(world, "playback", "bulk", "rename", "--from", str(source))
    assert result.exit_code == 2
    assert "2 bad row(s), nothing sent" in result.stderr
    assert (
        "line 3: room_id must be an integer from 1 to 9223372036854775807, got 'abc'"
        in result.stderr
    )
    assert "line 4: name is required for rename" in result.stderr
    assert _writes(world) == 0
    assert not (tmp_path / "renames.csv.journal.sqlite3").exists()


def test_stdin_needs_a_journal_and_json_lines_work(world: dict[str, Any], tmp_path: Path) -> None:
    rooms = world["rooms"][:3]
    lines = "".join(json.dumps({"room_id": r}) + "\n" for r in rooms)
    result = run(world, "playback", "bulk", "block", "--from", "-", "--yes", input=lines)
    assert result.exit_code == 2 and "--journal is required" in result.stderr
    journal = tmp_path / "blocks.sqlite3"
    args = ["playback", "bulk", "block", "--from", "-", "--journal", str(journal)]
    dry = run(world, *args, "--dry-run", input=lines)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == {"dry_run": True, "total": 3, "to_send": 3, "skipped": 0}
    assert _writes(world, "setPublishStatus") == 0
    result = run(world, *args, "--yes", input=lines)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (3, 0, 0)
    emulator: Emulator = world["emulator"]
    assert all(emulator.playback_rows(r)[0]["publish_status"] == 2 for r in rooms)
    # that job was finished: the same rows again are a new job, sent again
    again = run(world, *args, "-o", "table", "--yes", input=lines)
    assert again.stdout.strip() == "3 done, 0 skipped, 0 failed"
    assert _writes(world, "setPublishStatus") == 6


def test_failed_rows_are_listed_with_reasons(world: dict[str, Any], tmp_path: Path) -> None:
    source = tmp_path / "main.csv"
    room = world["rooms"][0]
    source.write_text(f"room_id,version\n{room},0\n{room},7\n", encoding="utf-8")
    result = run(world, "playback", "bulk", "set-main", "--from", str(source), "-o", "table")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "1 done, 0 skipped, 1 failed"
    assert lines[1].startswith(f"  line 3: set-main room_id={room} version=7: ")
    assert "1 row(s) failed" in result.stderr


def test_a_killed_run_started_again_renames_each_row_exactly_once(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rooms = world["rooms"]
    emulator: Emulator = world["emulator"]
    emulator.inject_fault("/openapi/playback/update", "latency", 0.05)
    source = tmp_path / "renames.csv"
    names = [f"高等数学 {room} 修订" for room in rooms]
    rows = "".join(f"{room},{name}\n" for room, name in zip(rooms, names, strict=True))
    source.write_text("room_id,name\n" + rows, encoding="utf-8")
    env = {**os.environ, **world["env"]}
    command = [str(BIN), "playback", "bulk", "rename", "--from", str(source)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while _writes(world) < len(rooms) // 2 and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    killed_after = _writes(world)
    assert 0 < killed_after < len(rooms)
    again = subprocess.run(command, env=env, capture_output=True, timeout=60)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["done"] + summary["skipped"] == len(rooms)
    assert _writes(world) == len(rooms)  # each row once: the in-flight ones were read back
    assert refused(world) == 0
    assert _names(world, rooms) == names


def test_a_bulk_delete_asks_first_and_a_missing_file_is_usage(
    world: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "gone.csv"
    source.write_text(f"room_id\n{world['rooms'][0]}\n", encoding="utf-8")
    result = run(world, "playback", "bulk", "delete", "--from", str(source))
    assert result.exit_code == 2 and "add --yes" in result.stderr
    piped = run(world, "playback", "bulk", "delete", "--from", str(source), input="y\n")
    assert piped.exit_code == 2 and "add --yes" in piped.stderr  # piped input is no answer
    missing = run(world, "playback", "bulk", "delete", "--from", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2 and "'--from'" in missing.stderr
    assert _writes(world, "delete") == 0
    done = run(world, "playback", "bulk", "delete", "--from", str(source), "--yes")
    assert done.exit_code == 0 and json.loads(done.stdout)["done"] == 1
    emulator: Emulator = world["emulator"]
    assert emulator.playback_rows(world["rooms"][0]) == []


def _renames(world: dict[str, Any], tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    rooms = world["rooms"][:count]
    names = [f"线性代数 {room} 修订" for room in rooms]
    source = tmp_path / "renames.csv"
    rows = "".join(f"{room},{name}\n" for room, name in zip(rooms, names, strict=True))
    source.write_text("room_id,name\n" + rows, encoding="utf-8")
    return source, names


def test_bulk_prints_real_json_lines_and_csv(world: dict[str, Any], tmp_path: Path) -> None:
    source, _ = _renames(world, tmp_path, 2)
    args = ["playback", "bulk", "rename", "--from", str(source)]
    dry = run(world, *args, "--dry-run", "-o", "jsonl")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == ['{"dry_run": true, "total": 2, "to_send": 2, "skipped": 0}']
    lines = run(world, *args, "-o", "jsonl")
    assert lines.exit_code == 0, lines.output
    assert lines.stdout.splitlines() == [
        '{"total": 2, "done": 2, "skipped": 0, "failed": 0, "sent": 2, "checked": 0, '
        '"failures": []}'
    ]
    table = run(world, *args, "-o", "csv")  # the job was done: a new one, sent again
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines() == [
        "total,done,skipped,failed,sent,checked,failures",
        "2,2,0,0,2,0,[]",
    ]


def test_ctrl_c_in_bulk_exits_130_and_says_how_to_resume(
    world: dict[str, Any], tmp_path: Path
) -> None:
    emulator: Emulator = world["emulator"]
    emulator.inject_fault("update", "latency", 1.0)
    source, names = _renames(world, tmp_path, 6)
    args = ["playback", "bulk", "rename", "--from", str(source), "--workers", "2"]
    timer = threading.Timer(0.4, os.kill, (os.getpid(), signal.SIGINT))  # Ctrl-C
    timer.start()
    result = CliRunner().invoke(cli, args, env=world["env"])
    timer.join()
    assert result.exit_code == 130
    assert result.stdout == ""
    journal = tmp_path / "renames.csv.journal.sqlite3"
    assert result.stderr.strip() == (
        f"Interrupted: 2 of 6 rows finished, every outcome so far is in the journal {journal}. "
        f"To resume, run the same command again:\n  baijiayun playback bulk rename --from {source}"
    )
    assert _writes(world) == 2  # the two in flight ended; no new row was sent
    emulator.clear_faults()
    again = run(world, *args)
    assert again.exit_code == 0, again.output
    assert (json.loads(again.stdout)["done"], json.loads(again.stdout)["skipped"]) == (4, 2)
    assert _writes(world) == 6
    assert _names(world, world["rooms"][:6]) == names
