"""``baijiayun demo``: every playback operation against a local emulator, with readable output."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .context import LocalCommand
from .emulator import require_emulator

if TYPE_CHECKING:
    from rich.console import Console

    from ..client import BaiJiaYunClient
    from ..emulator import Emulator

__all__ = ["demo", "run_demo"]

_DAY = 86400
_START = 1767225600  # 2026-01-01 00:00 UTC: fixed times keep the demo's output the same each run


class _Steps:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.number = 0

    def step(self, title: str, call: str) -> None:
        self.number += 1
        self.console.rule(f"[bold]{self.number}. {title}")
        self.console.print(f"[dim]>>> {call}")

    def table(self, rows: list[dict[str, Any]], *fields: str) -> None:
        from rich.table import Table

        from .output import display

        table = Table(*fields)
        for row in rows:
            table.add_row(*(display(f, row.get(f)) for f in fields))
        self.console.print(table)

    def fields(self, row: dict[str, Any]) -> None:
        from .output import display

        for key, value in row.items():
            self.console.print(f"  {key}: {display(key, value)}")


def _populate(emulator: Emulator, account: dict[str, Any]) -> dict[str, int]:
    """A small demo data set, made through the emulator's admin methods.

    Counts playbacks as getList does (one per room and session) and, apart, every version.
    """
    partner_id = emulator.create_account(**account)["partner_id"]
    counts = {"accounts": 1, "rooms": 0, "playbacks": 0, "versions": 0}
    lessons = ("高等数学 第1讲", "高等数学 第2讲", "大学英语 第1讲", "Python 编程 第1讲")
    for number, title in enumerate(lessons):
        room = emulator.create_room(partner_id, title=title)["room_id"]
        emulator.create_recording(
            room, name=title, status=100, length=3600 + 60 * number, create_time=_START + number
        )
        counts["rooms"] += 1
        counts["playbacks"] += 1
        counts["versions"] += 1
        if number == 1:
            for _ in range(2):
                emulator.create_crop(room)
                counts["versions"] += 1
    failed = emulator.create_room(partner_id, title="物理实验 第1讲")["room_id"]
    emulator.create_recording(failed, name="物理实验 第1讲", status=30, create_time=_START + 9)
    long_room = emulator.create_room(partner_id, title="线性代数 (长期)", long_term=True)
    for day in range(3):
        session = emulator.create_recording(
            long_room["room_id"],
            name=f"线性代数 第{day + 1}次课",
            status=100,
            create_time=_START + 10 + day * _DAY,
        )["session_id"]
        for part in (1, 2):
            emulator.add_ppt(
                long_room["room_id"],
                session,
                name=f"线性代数-{day + 1}-{part}.pdf",
                date=f"2026-01-{day + 1:02d}",
            )
    counts["rooms"] += 2
    counts["playbacks"] += 4
    counts["versions"] += 4
    return counts


def run_demo(*, wait: bool = False, console: Console | None = None) -> None:
    """Start a temporary emulator, serve it on a loopback port and walk through the 13 operations."""
    import httpx
    from rich.console import Console

    from ..client import BaiJiaYunClient
    from ..emulator import Emulator
    from ..emulator.seed import DEMO_ACCOUNTS
    from ..emulator.server import BackgroundServer

    console = console or Console()
    with tempfile.TemporaryDirectory(prefix="baijiayun-demo-") as folder:
        database = f"sqlite:///{Path(folder) / 'emulator.sqlite3'}"
        with Emulator(database) as emulator:
            account = dict(DEMO_ACCOUNTS[0])
            counts = _populate(emulator, account)
            with BackgroundServer(emulator) as server:
                console.print(
                    f"[bold green]BaijiaYun playback emulator[/] on {server.base_url} — demo data: "
                    f"{counts['accounts']} account, {counts['rooms']} rooms, "
                    f"{counts['playbacks']} playbacks ({counts['versions']} with crop versions)"
                )
                with BaiJiaYunClient(
                    account["partner_id"], account["partner_key"], base_url=server.base_url
                ) as client:
                    url = _walk(client, _Steps(console))
                ok = httpx.get(url).status_code == 200
                console.rule("[bold]Done")
                console.print(
                    f"Player URL ({'works: HTTP 200' if ok else 'NOT working'} while the demo runs):"
                )
                console.print(url, soft_wrap=True)
                if wait:
                    console.input("[dim]Press Enter to stop the emulator… ")


@click.command(cls=LocalCommand)
@click.option(
    "--wait/--no-wait",
    default=None,
    help="Keep the emulator running at the end until Enter (default: when interactive).",
)
def demo(wait: bool | None) -> None:
    """Walk through all 13 playback operations against a local emulator; no account needed.

    \b
    Example:
      baijiayun demo --no-wait
    """
    require_emulator("baijiayun demo")
    run_demo(wait=sys.stdin.isatty() if wait is None else wait)


def _walk(client: BaiJiaYunClient, s: _Steps) -> str:
    import httpx

    from ..errors import APIError

    pb = client.playback

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
    s.fields(info.model_dump())

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

    ppt_room = long_room.room_id
    s.step(
        "获取ppt转成的pdf的路径列表 — slide PDFs of a room",
        f"pb.get_playback_ppt_url_list({ppt_room})",
    )
    pdfs = pb.get_playback_ppt_url_list(ppt_room).items
    s.table([f.model_dump() for f in pdfs[:4]], "session_id", "date", "name")
    ppt_session = pdfs[0].session_id

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
