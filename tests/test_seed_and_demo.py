"""The demo data set is deterministic and complete; the demo walks every operation."""

from __future__ import annotations

import re
from collections import Counter

from rich.console import Console
from sqlalchemy import func, select

from baijiayun.cli.demo import run_demo
from baijiayun.emulator import Emulator
from baijiayun.emulator import schema as t
from baijiayun.emulator.seed import DEMO_ACCOUNTS


def _snapshot(emulator: Emulator) -> list[tuple[object, ...]]:
    with emulator.db.tx() as conn:
        return [
            tuple(r) for r in conn.execute(select(t.playbacks).order_by(t.playbacks.c.id)).all()
        ]


def test_demo_data_set_shape(bjy_emulator: Emulator) -> None:
    counts = bjy_emulator.seed_demo()
    assert counts["accounts"] == 2 and counts["rooms"] == 50 and counts["playbacks"] == 1000
    rows = _snapshot(bjy_emulator)
    columns = [c.name for c in t.playbacks.columns]
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    originals = [r for r in records if r["version"] == 0]
    statuses = Counter(r["status"] for r in originals)
    assert statuses[100] > 800 and statuses[30] > 0 and statuses[20] > 0 and statuses[10] > 0
    assert any(r["publish_status"] == 2 for r in originals)
    assert any(r["version"] > 0 for r in records)
    with bjy_emulator.db.tx() as conn:
        long_rooms = conn.execute(
            select(func.count()).where(t.rooms.c.is_long_term.is_(True))
        ).scalar_one()
        pdfs = conn.execute(select(func.count()).select_from(t.ppt_files)).scalar_one()
    assert long_rooms == 10 and pdfs > 100
    sessions = {(r["room_id"], r["session_id"]) for r in originals if r["session_id"]}
    assert len(sessions) == 960
    for account in DEMO_ACCOUNTS:
        assert bjy_emulator.account(account["partner_id"])["partner_key"] == account["partner_key"]


def test_demo_data_set_is_deterministic(database_url: str) -> None:
    snapshots = []
    for _ in range(2):
        with Emulator(database_url) as emulator:
            emulator.reset()
            emulator.seed_demo()
            snapshots.append(_snapshot(emulator))
    assert snapshots[0] == snapshots[1]


def test_demo_runs_all_13_operations() -> None:
    console = Console(record=True, width=120)
    run_demo(wait=False, console=console)
    text = console.export_text()
    for number in range(1, 14):
        assert f"{number}. " in text
    for call in (
        "get_list",
        "get_basic_info",
        "get_session_list",
        "get_crop_list",
        "set_main_version",
        "get_player_token(",
        "get_player_token_batch",
        "set_publish_status",
        "update",
        "get_playback_ppt_url_list",
        "get_playback_ppt_url(",
        "replace_playback",
        "delete",
    ):
        assert f"pb.{call}" in text, call
    assert "blocked: player page answers HTTP 403" in text
    assert "published: player page answers HTTP 200" in text
    assert "works: HTTP 200" in text
    # the header counts playbacks as getList does, so it agrees with step 1's total
    header = re.search(r"(\d+)\s+playbacks\s+\((\d+)\s+with\s+crop\s+versions\)", text)
    total = re.search(r"total playbacks: (\d+)", text)
    assert header is not None and total is not None
    assert header.group(1) == total.group(1) and int(header.group(2)) > int(header.group(1))
