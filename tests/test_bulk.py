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
from baijiayun.bulk import (
    BulkInputError,
    BulkJournalError,
    BulkProgress,
    bulk,
    load_rows,
    run_bulk,
)
from baijiayun.emulator import Emulator, create_app
from baijiayun.emulator.server import free_port
from baijiayun.errors import InvalidArgumentError
from baijiayun.testing import IN_PROCESS_URL, EmulatorTransport, client_for

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
    rows = [f"{r},New {r}" for r in rooms[:4]] + ["1,No such room"]
    source = _csv(tmp_path / "names.csv", "room_id,name", rows)
    progress: list[BulkProgress] = []
    first = bulk(world["client"].playback, "rename", source, on_progress=progress.append)
    assert (first.done, first.skipped, len(first.failed), first.sent) == (4, 0, 1, 5)
    assert [p.finished for p in progress] == [1, 2, 3, 4, 5] and progress[-1].eta == 0
    assert (tmp_path / "names.csv.journal.sqlite3").exists()
    # not finished (a row failed), so the next run resumes it: edited, the bad row dropped, one
    # name changed, one row added, one duplicated
    _csv(
        source,
        "room_id,name",
        [f"{r},New {r}" for r in rooms[:3]]
        + [f"{rooms[3]},Newer", f"{rooms[4]},New", f"{rooms[0]},New {rooms[0]}"],
    )
    second = bulk(world["client"].playback, "rename", source)
    assert (second.done, second.skipped, second.sent) == (2, 4, 2)
    assert counts["update"] == 7
    assert _names(world["emulator"], rooms[:5]) == [
        *(f"New {r}" for r in rooms[:3]),
        "Newer",
        "New",
    ]
    # that run finished every row: the job is closed, and the same file is a new job
    third = bulk(world["client"].playback, "rename", source)
    assert (third.done, third.skipped, third.sent) == (5, 1, 5)


def test_a_finished_run_never_hides_a_later_intention(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rooms, emulator = world["rooms"], world["emulator"]
    source = _csv(tmp_path / "b.csv", "room_id", [str(r) for r in rooms[:3]])
    for op, status in [("block", 2), ("publish", 1), ("block", 2)]:
        summary = bulk(world["client"].playback, op, source)
        assert str(summary) == "3 done, 0 skipped, 0 failed"
        assert {emulator.playback_rows(r)[0]["publish_status"] for r in rooms[:3]} == {status}
    dry = bulk(world["client"].playback, "block", source, dry_run=True)
    assert (dry.would_send, dry.skipped) == (3, 0)


def test_a_journal_belongs_to_one_account(
    world: dict[str, Any], bjy_emulator: Emulator, tmp_path: Path
) -> None:
    source = _csv(tmp_path / "b.csv", "room_id", [str(r) for r in world["rooms"][:2]])
    bulk(world["client"].playback, "block", source)
    other = bjy_emulator.create_account()
    production = client_for(bjy_emulator, other)
    with production, pytest.raises(BulkJournalError) as raised:
        bulk(production.playback, "block", source)
    journal = tmp_path / "b.csv.journal.sqlite3"
    assert str(raised.value) == (
        f"journal {journal} belongs to partner {world['client'].partner_id} at "
        f"{IN_PROCESS_URL}, not to partner {other['partner_id']} at {IN_PROCESS_URL}; "
        "give each account a journal of its own"
    )
    with client_for(bjy_emulator, other) as again, pytest.raises(BulkJournalError):
        bulk(again.playback, "block", source, dry_run=True)
    assert world["counts"].counts["setPublishStatus"] == 2


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
    assert [(f.line, "not sent again before then" in f.reason) for f in summary.failed] == [
        (3, True)
    ]
    emulator = world["emulator"]
    assert [r["version"] for r in emulator.playback_rows(rooms[0])] == [0]
    assert len(emulator.playback_rows(rooms[1])) == 1  # the lost one never arrived
    assert emulator.playback_rows(rooms[2]) == []
    again = bulk(world["client"].playback, "delete", source, workers=1)
    assert transport.counts["delete"] == 3  # checked again; its hold has not passed: not re-sent
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


class Nested:
    """A PlayBack whose first write starts a second run on the same journal, and notes its fate."""

    def __init__(self, playback: Any, rows: list[Any], journal: Path) -> None:
        self.playback, self.rows, self.journal = playback, rows, journal
        self.second: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.playback, name)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.second is None:
            with pytest.raises(BulkJournalError) as raised:
                run_bulk(self.playback, self.rows, self.journal, workers=1)
            self.second = raised.value
        return self.playback.delete(*args, **kwargs)


def test_one_run_at_a_time_holds_a_journal(world: dict[str, Any], tmp_path: Path) -> None:
    rooms = world["rooms"]
    rows = load_rows("delete", io.StringIO("".join(f'{{"room_id": {r}}}\n' for r in rooms)))
    journal = tmp_path / "d.sqlite3"
    nested = Nested(world["client"].playback, rows, journal)
    summary = run_bulk(nested, rows, journal, workers=3)
    assert summary.done == 6 and world["counts"].counts["delete"] == 6
    assert (
        str(nested.second) == f"journal in use by pid {os.getpid()}: {journal} (one run at a time)"
    )
    # the lock ends with the run (and the deletes it did are never sent again)
    assert run_bulk(world["client"].playback, rows, journal).skipped == 6


class Unreachable(httpx.BaseTransport):
    """Refuses the connection for the first ``refusals`` writes, then passes them on."""

    def __init__(self, inner: httpx.BaseTransport, refusals: int) -> None:
        self.inner, self.refusals = inner, refusals

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/delete") and self.refusals > 0:
            self.refusals -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


def test_a_delete_that_never_left_is_retried_not_left_unknown(
    world: dict[str, Any], bjy_account: dict[str, Any], tmp_path: Path
) -> None:
    rooms, emulator = world["rooms"], world["emulator"]
    transport = Unreachable(world["counts"], refusals=4)
    http = httpx.Client(transport=transport, base_url=IN_PROCESS_URL)
    client = BaiJiaYunClient(
        bjy_account["partner_id"],
        bjy_account["partner_key"],
        base_url=IN_PROCESS_URL,
        http_client=http,
        max_retries=0,
        rate_limit=None,
    )
    source = _csv(tmp_path / "d.csv", "room_id", [str(rooms[1]), str(rooms[2])])
    slept: list[float] = []
    with client, http:
        first = bulk(client.playback, "delete", source, workers=1, sleep=slept.append)
        # row 1: refused three times, left for the next run; row 2: refused once, then sent
        assert first.done == 1 and slept == [1.0, 1.0, 1.0]
        assert [f.reason.endswith("it goes again next run") for f in first.failed] == [True]
        assert len(emulator.playback_rows(rooms[1])) == 1 and emulator.playback_rows(rooms[2]) == []
        again = bulk(client.playback, "delete", source, workers=1, sleep=slept.append)
    assert (again.done, again.skipped, again.failed) == (1, 1, [])
    assert emulator.playback_rows(rooms[1]) == []
    assert world["counts"].counts["delete"] == 2  # the refused ones never reached the service


def test_a_lost_delete_found_gone_by_the_read_back_is_done(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rooms, transport = world["rooms"], world["counts"]
    transport.lose["delete"] = ["after"]
    source = _csv(tmp_path / "d.csv", "room_id", [str(rooms[3])])
    summary = bulk(world["client"].playback, "delete", source, workers=1)
    assert (summary.done, summary.failed, summary.checked) == (1, [], 1)
    assert transport.counts["delete"] == 1 and transport.counts["getBasicInfo"] == 1


@pytest.mark.parametrize("how", ["stdin", "file object", "path"])
def test_a_byte_order_mark_is_not_part_of_the_header(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "\ufeffroom_id,name\n100,第1讲\n"
    path = tmp_path / "excel.csv"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    source: Any = {"stdin": "-", "file object": io.StringIO(text), "path": path}[how]
    assert [r.arguments for r in load_rows("rename", source)] == [{"room_id": 100, "name": "第1讲"}]


def test_a_dry_run_reads_a_journal_whose_path_has_a_hash(
    world: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "job #1?x=y"
    folder.mkdir()
    source = _csv(folder / "b.csv", "room_id", [str(r) for r in world["rooms"][:2]])
    rows = load_rows("block", source)
    journal = folder / "k #3.sqlite3"
    # a killed run left row 1 done and row 2 unknown
    with pytest.raises(KeyboardInterrupt):
        run_bulk(Killed(world["client"].playback), rows, journal, workers=1)
    plan = run_bulk(world["client"].playback, rows, journal, dry_run=True)
    assert (plan.would_send, plan.skipped) == (1, 1)


class Killed:
    """A PlayBack interrupted during its second write."""

    def __init__(self, playback: Any) -> None:
        self.playback, self.writes = playback, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.playback, name)

    def set_publish_status(self, *args: Any) -> Any:
        self.writes += 1
        if self.writes == 2:
            raise KeyboardInterrupt
        return self.playback.set_publish_status(*args)


def test_threads_first_calls_start_one_portal(bjy_emulator: Emulator) -> None:
    transport = EmulatorTransport(bjy_emulator)
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def first_call() -> None:
        barrier.wait()
        request = httpx.Request("GET", IN_PROCESS_URL + "/nowhere")
        codes.append(transport.handle_request(request).status_code)

    threads = [threading.Thread(target=first_call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    transport.close()
    assert codes == [200] * 4  # without the lock, three of them raised RuntimeError


_NEVER_CLOSED = """
import httpx
from baijiayun.emulator import Emulator
from baijiayun.testing import EmulatorTransport
http = httpx.Client(transport=EmulatorTransport(Emulator()), base_url="http://e")
print(http.post("/openapi/playback/getBasicInfo", data={"partner_id": "1"}).json()["code"])
"""


def test_a_transport_never_closed_lets_the_process_exit() -> None:
    # its portal's loop stopped at exit while the portal was still open: the collector then
    # waited on the dead loop, and the process never ended
    done = subprocess.run(
        [sys.executable, "-c", _NEVER_CLOSED], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout) == (0, "1001\n"), done.stderr


def test_a_journal_of_the_first_layout_is_resumed(world: dict[str, Any], tmp_path: Path) -> None:
    import sqlite3

    rooms = world["rooms"][:2]
    rows = load_rows("block", io.StringIO("".join(f'{{"room_id": {r}}}\n' for r in rooms)))
    journal = tmp_path / "old.sqlite3"
    with sqlite3.connect(journal) as conn:  # as the first release wrote it: row 1 done
        conn.execute(
            "CREATE TABLE rows (key TEXT PRIMARY KEY, op TEXT NOT NULL, arguments TEXT NOT NULL, "
            "state TEXT NOT NULL, detail TEXT, updated_at REAL NOT NULL)"
        )
        conn.execute("INSERT INTO rows VALUES (?, 'block', '{}', 'done', NULL, 0)", (rows[0].key,))
    conn.close()
    summary = run_bulk(world["client"].playback, rows, journal, workers=1)
    assert (summary.done, summary.skipped, summary.sent) == (1, 1, 1)


def test_run_bulk_takes_rows_and_a_journal_path(world: dict[str, Any], tmp_path: Path) -> None:
    rows = load_rows("publish", io.StringIO(json.dumps({"room_id": world["rooms"][0]}) + "\n"))
    summary = run_bulk(world["client"].playback, rows, tmp_path / "j.sqlite3", workers=1)
    assert str(summary) == "1 done, 0 skipped, 0 failed"


def test_a_csv_header_without_a_needed_column_is_one_problem_naming_it() -> None:
    text = "room_id,title\n100,第1讲\n200,第2讲\n"
    with pytest.raises(BulkInputError) as raised:
        load_rows("rename", io.StringIO(text), format="csv")
    assert [str(p) for p in raised.value.problems] == [
        "line 1: the header has no name column, which rename needs (it has room_id, title)"
    ]


def test_a_delete_done_by_a_finished_job_is_never_sent_again(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rooms, transport = world["rooms"], world["counts"]
    source = _csv(tmp_path / "d.csv", "room_id", [str(rooms[3]), str(rooms[4])])
    first = bulk(world["client"].playback, "delete", source, workers=1)
    assert (first.done, first.failed, transport.counts["delete"]) == (2, [], 2)
    # the job finished, so a new run is a new job: renames go again, but a delete never does
    again = bulk(world["client"].playback, "delete", source, workers=1)
    assert (again.done, again.skipped, transport.counts["delete"]) == (0, 2, 2)


# --- a delete whose outcome is unknown: held, then settled by a read ----------------------------


class Clock:
    """An injected wall clock (epoch seconds, as the journal keeps them)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_dropped_delete_is_held_then_read_back_and_sent_once(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rooms, transport, emulator = world["rooms"], world["counts"], world["emulator"]
    pb, clock = world["client"].playback, Clock()
    hold = 3 * world["client"].timeout + 1  # the latest a dropped send could still arrive
    emulator.inject_fault("delete", "drop", times=1)
    source = _csv(tmp_path / "d.csv", "room_id", [str(rooms[4]), str(rooms[5])])
    first = bulk(pb, "delete", source, workers=1, clock=clock)
    # row 1 dropped (not applied, but nobody can know): read back, still there, held
    assert (first.done, transport.counts["delete"], first.checked) == (1, 2, 1)
    assert [(f.line, f.reason) for f in first.failed] == [
        (
            2,
            "outcome unknown: a delete was sent and the playback is still there, but that send "
            f"could still reach the service for {hold:.0f} s; it is not sent again before then: "
            "run again after that",
        )
    ]
    clock.now += hold - 1  # within the hold: read again, still not re-sent
    second = bulk(pb, "delete", source, workers=1, clock=clock)
    assert (second.done, second.skipped, transport.counts["delete"]) == (0, 1, 2)
    assert "for 1 s;" in second.failed[0].reason
    assert len(emulator.playback_rows(rooms[4])) == 1
    clock.now += 1  # the hold has passed and the playback is still there: it never arrived
    third = bulk(pb, "delete", source, workers=1, clock=clock)
    assert (third.done, third.skipped, third.failed) == (1, 1, [])
    assert transport.counts["delete"] == 3
    assert emulator.playback_rows(rooms[4]) == emulator.playback_rows(rooms[5]) == []
    assert [len(emulator.playback_rows(r)) for r in rooms[1:4]] == [1, 1, 1]  # nothing else


def test_a_dropped_delete_found_gone_after_its_hold_is_done_and_not_sent_again(
    world: dict[str, Any], bjy_account: dict[str, Any], tmp_path: Path
) -> None:
    rooms, transport, emulator = world["rooms"], world["counts"], world["emulator"]
    pb, clock = world["client"].playback, Clock()
    emulator.inject_fault("delete", "drop", times=1)
    source = _csv(tmp_path / "d.csv", "room_id,version", [f"{rooms[0]},1"])
    first = bulk(pb, "delete", source, workers=1, clock=clock)
    assert (first.done, len(first.failed), transport.counts["delete"]) == (0, 1, 1)
    with client_for(emulator, bjy_account) as late:  # the dropped send arrives after all
        late.playback.delete(rooms[0], version=1)
    clock.now += 3 * world["client"].timeout + 1
    again = bulk(pb, "delete", source, workers=1, clock=clock)
    assert (again.done, again.failed, again.checked) == (1, [], 1)
    assert transport.counts["delete"] == 1  # settled by the read: never sent a second time
    assert [r["version"] for r in emulator.playback_rows(rooms[0])] == [0]


def test_a_delete_left_in_flight_by_a_dead_run_is_held_from_when_it_is_found(
    world: dict[str, Any], tmp_path: Path
) -> None:
    import sqlite3

    rooms, transport, emulator = world["rooms"], world["counts"], world["emulator"]
    pb, clock = world["client"].playback, Clock()
    rows = load_rows("delete", io.StringIO(f'{{"room_id": {rooms[2]}}}\n'))
    journal = tmp_path / "old.sqlite3"
    with sqlite3.connect(journal) as conn:  # a run of the first layout died with it in flight
        conn.execute(
            "CREATE TABLE rows (key TEXT PRIMARY KEY, op TEXT NOT NULL, arguments TEXT NOT NULL, "
            "state TEXT NOT NULL, detail TEXT, updated_at REAL NOT NULL)"
        )
        conn.execute(
            "INSERT INTO rows VALUES (?, 'delete', '{}', 'sending', NULL, 0)", (rows[0].key,)
        )
    conn.close()
    found = run_bulk(pb, rows, journal, workers=1, clock=clock)
    assert (
        transport.counts["delete"] == 0 and "not sent again before then" in found.failed[0].reason
    )
    clock.now += 3 * world["client"].timeout + 1
    settled = run_bulk(pb, rows, journal, workers=1, clock=clock)
    assert (settled.done, transport.counts["delete"]) == (1, 1)
    assert emulator.playback_rows(rooms[2]) == []
