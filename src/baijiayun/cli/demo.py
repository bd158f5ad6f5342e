"""``baijiayun demo``: every playback operation against a local emulator, with readable output."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from ..client import BaiJiaYunClient
from ..emulator import Emulator
from ..emulator import schema as t
from ..emulator.seed import DEMO_ACCOUNTS, seed_demo
from ..emulator.server import BackgroundServer
from ..errors import APIError

__all__ = ["run_demo"]


class _Steps:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.number = 0

    def step(self, title: str, call: str) -> None:
        self.number += 1
        self.console.rule(f"[bold]{self.number}. {title}")
        self.console.print(f"[dim]>>> {call}")

    def table(self, rows: list[dict[str, Any]], *fields: str) -> None:
        table = Table(*fields)
        for row in rows:
            table.add_row(*(str(row.get(f, "")) for f in fields))
        self.console.print(table)


def _ppt_room(emulator: Emulator, partner_id: int) -> tuple[int, int]:
    with emulator.state.tx() as conn:
        row = conn.execute(
            select(t.ppt_files.c.room_id, t.ppt_files.c.session_id)
            .join(t.rooms, t.rooms.c.room_id == t.ppt_files.c.room_id)
            .where(t.rooms.c.partner_id == partner_id, t.rooms.c.is_long_term.is_(True))
            .order_by(t.ppt_files.c.id)
            .limit(1)
        ).one()
    return int(row.room_id), int(row.session_id)


def run_demo(*, wait: bool = False, console: Console | None = None) -> None:
    """Seed a temporary emulator, serve it on a loopback port and walk through the 13 operations."""
    console = console or Console()
    with tempfile.TemporaryDirectory(prefix="baijiayun-demo-") as folder:
        database = f"sqlite:///{Path(folder) / 'emulator.sqlite3'}"
        with Emulator(database) as emulator:
            counts = seed_demo(emulator.state)
            with BackgroundServer(emulator) as server:
                console.print(
                    f"[bold green]BaijiaYun playback emulator[/] on {server.base_url} — demo data: "
                    f"{counts['accounts']} accounts, {counts['rooms']} rooms, {counts['playbacks']} playbacks"
                )
                account = DEMO_ACCOUNTS[0]
                with BaiJiaYunClient(
                    account["partner_id"], account["partner_key"], base_url=server.base_url
                ) as client:
                    url = _walk(client, emulator, _Steps(console))
                ok = httpx.get(url).status_code == 200
                console.rule("[bold]Done")
                console.print(
                    f"Player URL ({'works: HTTP 200' if ok else 'NOT working'} while the demo runs):"
                )
                console.print(url, soft_wrap=True)
                if wait:
                    console.input("[dim]Press Enter to stop the emulator… ")


def _walk(client: BaiJiaYunClient, emulator: Emulator, s: _Steps) -> str:
    pb = client.playback
    partner_id = client.partner_id

    s.step("获取回放列表 — newest playbacks", "pb.get_list(None, page=1, page_size=5)")
    page = pb.get_list(None, 1, 5)
    s.console.print(f"total playbacks: {page.total}")
    s.table(
        [i.model_dump() for i in page.items],
        "room_id",
        "session_id",
        "name",
        "status",
        "publish_status",
    )

    everything = pb.get_list(None, 1, 1000, crop_video=1).items
    short = next(i for i in everything if i.session_id == 0 and i.status == 100 and i.version == 0)
    cropped = next(i for i in everything if i.version > 0 and i.session_id == 0)
    long_room = next(i for i in everything if i.session_id)

    s.step("查询直播回放信息 — one playback's state", f"pb.get_basic_info({short.room_id})")
    info = pb.get_basic_info(short.room_id)
    s.console.print(info.model_dump())

    s.step(
        "获取长期房间的序列号列表 — sessions of a long-term room",
        f"pb.get_session_list({long_room.room_id})",
    )
    sessions = pb.get_session_list(long_room.room_id).items
    s.console.print(f"{len(sessions)} sessions; first three:")
    s.table([x.model_dump() for x in sessions[:3]], "session_id", "name", "status", "create_time")

    s.step(
        "获取裁剪回放列表 — versions of a cropped playback", f"pb.get_crop_list({cropped.room_id})"
    )
    versions = pb.get_crop_list(cropped.room_id).items
    s.table([v.model_dump() for v in versions], "version", "name", "length", "is_main")

    other = next(v for v in versions if not v.is_main)
    s.step(
        "设置回放主版本 — switch the main version",
        f"pb.set_main_version({cropped.room_id}, {other.version})",
    )
    pb.set_main_version(cropped.room_id, other.version)
    s.console.print(f"getBasicInfo now plays: {pb.get_basic_info(cropped.room_id).name!r}")

    s.step(
        "获取回放token — a player token", f"pb.get_player_token({short.room_id}, expires_in=3600)"
    )
    token = pb.get_player_token(short.room_id, 3600).token
    s.console.print(f"token: {token[:24]}…")

    ids: list[int | tuple[int, int]] = [
        short.room_id,
        (long_room.room_id, sessions[0].session_id),
        (long_room.room_id, sessions[1].session_id),
    ]
    s.step(
        "批量获取回放token — tokens in one batch", f"pb.get_player_token_batch({ids}, expires_in=0)"
    )
    for key, value in pb.get_player_token_batch(ids, 0).items():
        s.console.print(f"{key}: {value[:24]}…")

    player = pb.player_url(short.room_id, token)
    s.step(
        "设置回放发布状态 — block, then publish again", f"pb.set_publish_status({short.room_id}, 2)"
    )
    pb.set_publish_status(short.room_id, 2)
    s.console.print(f"blocked: player page answers HTTP {httpx.get(player).status_code}")
    pb.set_publish_status(short.room_id, 1)
    s.console.print(f"published: player page answers HTTP {httpx.get(player).status_code}")

    s.step("更新回放名称 — rename", f"pb.update({short.room_id}, '期末复习（回放）')")
    pb.update(short.room_id, "期末复习（回放）")
    s.console.print(f"name is now {pb.get_basic_info(short.room_id).name!r}")

    ppt_room, ppt_session = _ppt_room(emulator, partner_id)
    s.step(
        "获取ppt转成的pdf的路径列表 — slide PDFs of a room",
        f"pb.get_playback_ppt_url_list({ppt_room})",
    )
    s.table(
        [f.model_dump() for f in pb.get_playback_ppt_url_list(ppt_room).items[:4]],
        "session_id",
        "date",
        "name",
    )

    s.step(
        "获取ppt转成的pdf具体路径 — PDFs of one session",
        f"pb.get_playback_ppt_url({ppt_room}, session_id={ppt_session})",
    )
    s.table(
        [f.model_dump() for f in pb.get_playback_ppt_url(ppt_room, ppt_session).items],
        "name",
        "url",
    )

    s.step(
        "替换回放 — add a playback as a new main version",
        f"pb.replace_playback(2, {short.room_id}, {cropped.room_id}, is_replace_main=1)",
    )
    pb.replace_playback(2, short.room_id, cropped.room_id, is_replace_main=1)
    versions = pb.get_crop_list(cropped.room_id).items
    s.table([v.model_dump() for v in versions], "version", "name", "video_id", "is_main")

    newest = versions[-1].version
    s.step(
        "删除回放 — delete one version, then the whole playback",
        f"pb.delete({cropped.room_id}, version={newest}); pb.delete({cropped.room_id})",
    )
    pb.delete(cropped.room_id, version=newest)
    s.console.print(
        f"versions left: {[v.version for v in pb.get_crop_list(cropped.room_id).items]}"
    )
    pb.delete(cropped.room_id)
    try:
        pb.get_basic_info(cropped.room_id)
    except APIError as error:
        s.console.print(
            f"after delete, getBasicInfo raises {type(error).__name__}: code {error.code} {error.msg}"
        )
    return player
