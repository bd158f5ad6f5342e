"""FileRateGovernor on real SQLite files: one budget for the processes of a machine."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from baijiayun.ratelimit.file import FileRateGovernor, user_cache_dir

from .governor_check import CALLS, PERIOD, busiest_window, run_processes


def test_processes_never_let_more_than_calls_arrive_in_a_period(tmp_path: Path) -> None:
    arrivals = run_processes("file", str(tmp_path / "book.sqlite3"), "12345678")
    assert len(arrivals) == 60
    assert busiest_window(arrivals, PERIOD) <= CALLS


def test_the_file_is_created_on_first_use_in_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAIJIAYUN_CACHE_DIR", str(tmp_path / "cache"))
    governor = FileRateGovernor("12345678", calls=2, period=5.0)
    assert governor.path == tmp_path / "cache" / "ratelimit.sqlite3"
    assert not (tmp_path / "cache").exists()  # the constructor touches nothing
    governor.complete(governor.acquire())
    assert governor.path.exists()


def test_keys_have_budgets_of_their_own_and_lost_slots_lapse(tmp_path: Path) -> None:
    path = tmp_path / "book.sqlite3"
    one = FileRateGovernor("a", path=path, calls=1, period=0.2, guard=0.0)
    other = FileRateGovernor("b", path=path, calls=1, period=0.2, guard=0.0)
    lost = one.acquire(hold=0.2)  # never completed
    assert other.acquire().waited == 0
    waits: list[float] = []
    again = one.acquire(hold=0.2, on_wait=waits.append)
    assert again.granted_at >= lost.granted_at + 0.4
    assert waits


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG is the Linux convention")
def test_user_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAIJIAYUN_CACHE_DIR", raising=False)
    where = f"/tmp/{uuid.uuid4().hex}"
    monkeypatch.setenv("XDG_CACHE_HOME", where)
    assert user_cache_dir() == Path(where) / "baijiayun"


def test_a_slot_that_reaches_a_stalled_event_loop_late_is_ended_and_booked_again(
    tmp_path: Path,
) -> None:
    import asyncio
    import sqlite3

    now = [1000.0]
    stalled = FileRateGovernor("k", path=tmp_path / "b.sqlite3", calls=5, period=1.0)
    stalled._clock = lambda: now[0]
    booked = stalled._try

    def book_then_stall(hold: float) -> Any:
        got = booked(hold)
        if now[0] == 1000.0:
            now[0] += 0.8  # the loop was blocked for 0.8 s before the booking reached it
        return got

    stalled._try = book_then_stall  # type: ignore[method-assign]
    slot = asyncio.run(stalled.acquire_async(hold=1.3))
    assert slot.granted_at == 1000.8  # the late one was given up; this one is fresh
    ends = (
        sqlite3.connect(stalled.path).execute("SELECT end_at FROM slots ORDER BY end_at").fetchall()
    )
    assert [row[0] for row in ends] == pytest.approx([1000.8, 1002.1])  # the first ended on return
