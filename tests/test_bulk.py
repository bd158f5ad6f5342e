"""Bulk writes: every row validated first, a journal for exactly-once, reads for lost outcomes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from baijiayun import BaiJiaYunClient
from baijiayun.bulk import BulkInputError, BulkProgress, bulk, load_rows, run_bulk
from baijiayun.emulator import Emulator, create_app
from baijiayun.emulator.server import free_port
from baijiayun.errors import InvalidArgumentError
from baijiayun.testing import IN_PROCESS_URL, EmulatorTransport

ROOT = Path(__file__).parent.parent

# --- input ---------------------------------------------------------------------------------------


def test_csv_and_json_lines_give_the_same_rows(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        "room_id,session_id,name,extra\n100,,第1讲,x\n\n200,7,第2讲,y\n", encoding="utf-8"
    )
    (tmp_path / "a.jsonl").write_text(
        '{"room_id": 100, "name": "第1讲"}\n\n{"room_id": "200", "session_id": 7, "name": "第2讲"}\n',
        encoding="utf-8",
    )
    from_csv = load_rows("rename", tmp_path / "a.csv")
    from_json = load_rows("rename", tmp_path / "a.jsonl")
    assert [r.arguments for r in from_csv] == [
        {"room_id": 100, "name": "第1讲"},
        {"room_id": 200, "session_id": 7, "name": "第2讲"},
    ]
    assert [r.key for r in from_csv] == [r.key for r in from_json]
    assert [r.line for r in from_csv] == [2, 4]


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_returned() -> None:
    text = (
        "room_id,version,session_id\n"
        "100,1,\n"
        "abc,1,\n"  # line 3
        ",2,\n"  # line 4
        "5,-1,0\n"  # line 5
        "6,,\n"  # line 6
    )
    with pytest.raises(BulkInputError) as raised:
        load_rows("set-main", io.StringIO(text), format="csv")
    assert [str(p) for p in raised.value.problems] == [
        "line 3: room_id must be an integer from 1 to 9223372036854775807, got 'abc'",
        "line 4: room_id is required for set-main",
        "line 5: version must be an integer from 0 to 9223372036854775807, got '-1'",
        "line 6: version is required for set-main",
    ]
    assert "4 bad row(s), nothing sent" in str(raised.value)


def test_json_lines_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    text = '{"room_id": 1}\n[1]\n{"room_id": true}\nnot json\n{"room_id": 2, "name": ""}\n'
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    with pytest.raises(BulkInputError) as raised:
        load_rows("rename", "-")
    assert [(p.line, p.message.split(",")[0]) for p in raised.value.problems] == [
        (1, "name is required for rename"),
        (2, "not a JSON object"),
        (3, "room_id must be an integer from 1 to 9223372036854775807"),
        (3, "name is required for rename"),
        (4, "not valid JSON: Expecting value"),
        (5, "name is required for rename"),
    ]


def test_unknown_op_and_stdin_without_journal() -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        load_rows("rename-all", io.StringIO(""))
    assert raised.value.argument == "op"
    with pytest.raises(InvalidArgumentError) as raised:
        bulk(object(), "rename", "-")  # type: ignore[arg-type]
    assert raised.value.argument == "journal"


# --- against the emulator ------------------------------------------------------------------------


class CountingTransport(httpx.BaseTransport):
    """Counts the requests per path; can lose the answer of chosen calls (before or after)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.counts: Counter[str] = Counter()
        self.lose: dict[str, list[str]] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        action = request.url.path.rsplit("/", 1)[-1]
        self.counts[action] += 1
        plan = self.lose.get(action)
        mode = plan.pop(0) if plan else None
        if mode == "before":
            raise httpx.ReadTimeout("lost before it arrived", request=request)
        response = self.inner.handle_request(request)
        if mode == "after":
            response.read()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def world(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pid = bjy_account["partner_id"]
    rooms = []
    for index in range(6):
        room = bjy_emulator.create_room(pid, title=f"Lecture {index}")["room_id"]
        bjy_emulator.create_recording(room, status=100)
        rooms.append(room)
    bjy_emulator.create_crop(rooms[0])
    counting = CountingTransport(EmulatorTransport(bjy_emulator))
    http = httpx.Client(transport=counting, base_url=IN_PROCESS_URL)
    client = BaiJiaYunClient(
        pid,
        bjy_account["partner_key"],
        base_url=IN_PROCESS_URL,
        http_client=http,
        max_retries=0,
        rate_limit=None,
    )
    # EmulatorTransport starts its event-loop thread lazily, and not thread-safely: start it here.
    client.playback.get_basic_info(rooms[0])
    counting.counts.clear()
    yield {"rooms": rooms, "client": client, "counts": counting, "emulator": bjy_emulator}
    client.close()
    http.close()


def _names(emulator: Emulator, rooms: list[int]) -> list[str]:
    return [emulator.playback_rows(room)[0]["name"] for room in rooms]


def _csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_rerun_on_an_edited_file_sends_only_what_is_not_done(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rooms, counts = world["rooms"], world["counts"].counts
    source = _csv(tmp_path / "names.csv", "room_id,name", [f"{r},New {r}" for r in rooms[:4]])
    progress: list[BulkProgress] = []
    first = bulk(world["client"].playback, "rename", source, on_progress=progress.append)
    assert (first.done, first.skipped, first.failed, first.sent) == (4, 0, [], 4)
    assert [p.finished for p in progress] == [1, 2, 3, 4] and progress[-1].eta == 0
    assert (tmp_path / "names.csv.journal.sqlite3").exists()
    # edited: one name changed, one row added, one duplicated
    _csv(
        source,
        "room_id,name",
        [f"{r},New {r}" for r in rooms[:3]]
        + [f"{rooms[3]},Newer", f"{rooms[4]},New", f"{rooms[0]},New {rooms[0]}"],
    )
    second = bulk(world["client"].playback, "rename", source)
    assert (second.done, second.skipped, second.sent) == (2, 4, 2)
    assert counts["update"] == 6
    assert _names(world["emulator"], rooms[:5]) == [
        *(f"New {r}" for r in rooms[:3]),
        "Newer",
        "New",
    ]


def test_dry_run_sends_nothing_and_creates_no_journal(
    world: dict[str, Any], tmp_path: Path
) -> None:
    source = _csv(tmp_path / "b.csv", "room_id", [str(r) for r in world["rooms"]])
    summary = bulk(world["client"].playback, "block", source, dry_run=True)
    assert (summary.would_send, summary.sent) == (6, 0)
    assert str(summary) == "dry run: 6 to send, 0 already done or duplicate, of 6 rows"
    assert sum(world["counts"].counts.values()) == 0
    assert not (tmp_path / "b.csv.journal.sqlite3").exists()


def test_an_answer_lost_after_the_write_is_checked_not_resent(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rooms, transport = world["rooms"], world["counts"]
    transport.lose["setPublishStatus"] = ["after", "before"]
    source = _csv(tmp_path / "b.csv", "room_id", [str(r) for r in rooms[:3]])
    summary = bulk(world["client"].playback, "block", source, workers=1)
    assert (summary.done, summary.failed) == (3, [])
    # row 1: sent, answer lost, read says done; row 2: lost before arriving, read, sent again
    assert transport.counts["setPublishStatus"] == 4
    assert transport.counts["getBasicInfo"] == 2
    states = {world["emulator"].playback_rows(r)[0]["publish_status"] for r in rooms[:3]}
    assert states == {2}


def test_a_delete_is_never_sent_twice(world: dict[str, Any], tmp_path: Path) -> None:
    rooms, transport = world["rooms"], world["counts"]
    transport.lose["delete"] = ["after", "before"]
    source = _csv(
        tmp_path / "d.csv", "room_id,version", [f"{rooms[0]},1", f"{rooms[1]},", f"{rooms[2]},"]
    )
    summary = bulk(world["client"].playback, "delete", source, workers=1)
    assert transport.counts["delete"] == 3
    assert summary.done == 2
    assert [(f.line, "never sent twice" in f.reason) for f in summary.failed] == [(3, True)]
    emulator = world["emulator"]
    assert [r["version"] for r in emulator.playback_rows(rooms[0])] == [0]
    assert len(emulator.playback_rows(rooms[1])) == 1  # the lost one never arrived
    assert emulator.playback_rows(rooms[2]) == []
    again = bulk(world["client"].playback, "delete", source, workers=1)
    assert transport.counts["delete"] == 3  # checked again, still not re-sent
    assert (again.skipped, len(again.failed)) == (2, 1)


def test_refused_rows_are_failures_with_reasons_and_are_retried_next_run(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rooms = world["rooms"]
    source = _csv(tmp_path / "m.csv", "room_id,version", [f"{rooms[0]},1", f"{rooms[1]},9"])
    summary = bulk(world["client"].playback, "set-main", source)
    assert summary.done == 1
    assert [(f.line, "version 9 not found" in f.reason) for f in summary.failed] == [(3, True)]
    assert world["emulator"].playback_rows(rooms[0])[1]["is_main"]
    again = bulk(world["client"].playback, "set-main", source)
    assert (again.skipped, again.sent, len(again.failed)) == (1, 1, 1)


def test_a_row_refused_by_the_account_limit_waits_a_period_and_goes_again(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rooms, emulator = world["rooms"], world["emulator"]
    # another app ate the budget: the first two renames are answered "too many requests"
    emulator.inject_fault("update", "error", 429, times=2)
    source = _csv(tmp_path / "r.csv", "room_id,name", [f"{rooms[0]},Once", f"{rooms[1]},Twice"])
    slept: list[float] = []
    told: list[tuple[str, float]] = []
    summary = bulk(
        world["client"].playback,
        "rename",
        source,
        workers=1,
        rate_limit_wait=10.0,
        on_wait=lambda why, seconds: told.append((why, seconds)),
        sleep=slept.append,
    )
    assert (summary.done, summary.failed) == (2, [])
    assert slept == [10.0, 10.0] and told == [("rate_limit", 10.0)] * 2
    assert world["counts"].counts["update"] == 4
    assert _names(emulator, rooms[:2]) == ["Once", "Twice"]
    # refused every time: the row fails with the reason, after MAX_REFUSALS waits
    emulator.inject_fault("update", "error", 429, times=3)
    _csv(source, "room_id,name", [f"{rooms[2]},Never"])
    slept.clear()
    failed = bulk(world["client"].playback, "rename", source, sleep=slept.append)
    assert slept == [10.0, 10.0]
    assert [f.reason.endswith("still refused after 3 tries") for f in failed.failed] == [True]


# --- a real process killed mid-run ---------------------------------------------------------------


class CountingApp:
    """ASGI wrapper counting, per action, the requests whose whole body reached the server.

    (A request cut off mid-body by the kill is not a call the service could act on.)
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        action = scope["path"].rsplit("/", 1)[-1]

        async def counted() -> Any:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                self.counts[action] += 1
            return message

        await self.app(scope, counted, send)


@pytest.fixture
def counted_server(bjy_emulator: Emulator) -> Iterator[tuple[str, CountingApp]]:
    app = CountingApp(create_app(bjy_emulator))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(10)


def test_a_run_killed_mid_way_and_run_again_renames_each_row_exactly_once(
    bjy_emulator: Emulator,
    bjy_account: dict[str, Any],
    counted_server: tuple[str, CountingApp],
    tmp_path: Path,
) -> None:
    base_url, app = counted_server
    pid = bjy_account["partner_id"]
    rooms = []
    for _ in range(40):
        room = bjy_emulator.create_room(pid)["room_id"]
        bjy_emulator.create_recording(room, status=100)
        rooms.append(room)
    bjy_emulator.inject_fault("update", "latency", 0.02)
    source = _csv(tmp_path / "r.csv", "room_id,name", [f"{r},Renamed {r}" for r in rooms])
    journal = tmp_path / "journal.sqlite3"
    args = [sys.executable, "-m", "tests.bulk_child", base_url, str(pid)]
    args += [bjy_account["partner_key"], "rename", str(source), str(journal)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE)
    while app.counts["update"] < 20 and child.poll() is None:
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL
    killed_at = app.counts["update"]
    assert 20 <= killed_at < 40
    rerun = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert app.counts["update"] == 40  # each row reached the service exactly once
    assert summary["done"] + summary["skipped"] == 40 and summary["failed"] == 0
    assert _names(bjy_emulator, rooms) == [f"Renamed {r}" for r in rooms]


def test_run_bulk_takes_rows_and_a_journal_path(world: dict[str, Any], tmp_path: Path) -> None:
    rows = load_rows("publish", io.StringIO(json.dumps({"room_id": world["rooms"][0]}) + "\n"))
    summary = run_bulk(world["client"].playback, rows, tmp_path / "j.sqlite3", workers=1)
    assert str(summary) == "1 done, 0 skipped, 0 failed"
