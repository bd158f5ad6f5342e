"""``baijiayun playback …``: each command is one SDK method call plus its output."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .context import (
    ASCII_INT,
    EXIT_API_ERROR,
    AsciiIntRange,
    Settings,
    global_options,
    pass_settings,
)
from .lazy import Lazy, LazyGroup
from .output import PUBLISH_WORDS, emit

__all__ = ["YES", "confirm", "playback"]


@click.group(
    cls=LazyGroup,
    lazy={"bulk": Lazy("baijiayun.cli.bulk:bulk", "Apply OP to every row of a file, each once.")},
)
def playback() -> None:
    """回放: list, inspect, tokens, publish/block, rename, delete, versions, PDFs, bulk writes.

    \b
    Examples:
      baijiayun playback list --page-size 20
      baijiayun playback info 26010100000001
    """


def command(name: str | None = None) -> Callable[[Callable[..., Any]], click.Command]:
    """A playback subcommand that also takes the global options."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        return global_options(playback.command(name)(function))

    return decorate


ROOM_ID = click.argument("room_id", type=ASCII_INT)
SESSION = click.option("--session-id", type=ASCII_INT, help="序列号 (long-term rooms).")
PAGE = click.option("--page", type=AsciiIntRange(min=1), default=1, show_default=True)
PAGE_SIZE = click.option("--page-size", type=AsciiIntRange(1, 1000), default=100, show_default=True)
ALL = click.option("--all", "all_pages", is_flag=True, help="Page through everything.")
PRODUCT_TYPE = click.option(
    "--product-type", type=AsciiIntRange(1, 4), help="1 教育直播, 2 小班课, 3 双师, 4 企业直播."
)
EXPIRES = click.option(
    "--expires-in",
    type=AsciiIntRange(min=0),
    default=3600,
    show_default=True,
    help="Token lifetime in seconds; 0 = never expires.",
)
YES = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


def _paged(
    settings: Settings,
    items: list[Any],
    total: int,
    page: int,
    size: int,
    what: str,
    keep: tuple[str, ...] = (),
) -> None:
    pages = max(1, math.ceil(total / size))
    caption = f"page {page} of {pages}: {len(items)} of {total} {what}"
    hint = f"next: --page {page + 1}; everything: --all" if page < pages else None
    emit(items, settings.format(), caption=caption, hint=hint, keep=keep)


LIST_KEY = ("publish_status",)
"""``playback list``: whether viewers may play it is the point of the listing."""
CROPS_KEY = ("is_main",)
"""``playback crops``: which version plays by default."""
PPT_KEY = ("name",)
"""``ppt-urls`` and ``ppt-url``: the file name says which PDF a URL is."""


@command("list")
@PRODUCT_TYPE
@PAGE
@PAGE_SIZE
@click.option("--crops", "crop_video", is_flag=True, help="Include crop versions (crop_video=1).")
@click.option("--room-id", type=ASCII_INT, help="Only this room.")
@ALL
@pass_settings
def list_(
    settings: Settings,
    product_type: int | None,
    page: int,
    page_size: int,
    crop_video: bool,
    room_id: int | None,
    all_pages: bool,
) -> None:
    """获取回放列表: playbacks, newest first.

    \b
    Examples:
      baijiayun playback list --page-size 20 --page 2
      baijiayun playback list --all --page-size 200 -o csv > playbacks.csv
    """
    pb = settings.playback()
    if all_pages:
        walk = pb.iter_list(product_type, page_size, int(crop_video), room_id)
        items = list(settings.status().count(walk, "listing playbacks"))
        emit(items, settings.format(), caption=f"{len(items)} playbacks", keep=LIST_KEY)
        return
    result = pb.get_list(product_type, page, page_size, int(crop_video), room_id)
    _paged(settings, result.items, result.total, page, page_size, "playbacks", LIST_KEY)


@command()
@ROOM_ID
@SESSION
@pass_settings
def info(settings: Settings, room_id: int, session_id: int | None) -> None:
    """查询直播回放信息: status, media and publish state of one playback.

    \b
    Example:
      baijiayun playback info 26010100000021 --session-id 202601211
    """
    result = settings.playback().get_basic_info(room_id, session_id)
    emit(result, settings.format(), caption=f"playback of room {room_id}")


@command()
@ROOM_ID
@pass_settings
def sessions(settings: Settings, room_id: int) -> None:
    """获取长期房间的序列号列表: the sessions of a long-term room.

    \b
    Example:
      baijiayun playback sessions 26010100000021
    """
    result = settings.playback().get_session_list(room_id)
    emit(result.items, settings.format(), caption=f"{len(result.items)} sessions of room {room_id}")


@command()
@ROOM_ID
@SESSION
@PRODUCT_TYPE
@PAGE
@PAGE_SIZE
@ALL
@pass_settings
def crops(
    settings: Settings,
    room_id: int,
    session_id: int | None,
    product_type: int | None,
    page: int,
    page_size: int,
    all_pages: bool,
) -> None:
    """获取裁剪回放列表: every version of a playback, with the main one marked.

    \b
    Example:
      baijiayun playback crops 26010100000002
    """
    pb = settings.playback()
    what = f"versions of room {room_id}"
    if all_pages:
        walk = pb.iter_crop_list(room_id, product_type, session_id, page_size)
        items = list(settings.status().count(walk, "listing versions"))
        emit(items, settings.format(), caption=f"{len(items)} {what}", keep=CROPS_KEY)
        return
    result = pb.get_crop_list(room_id, product_type, session_id, page, page_size)
    _paged(settings, result.items, result.total, page, page_size, what, CROPS_KEY)


@command()
@ROOM_ID
@SESSION
@EXPIRES
@pass_settings
def token(settings: Settings, room_id: int, session_id: int | None, expires_in: int) -> None:
    """获取回放token: a player token for one playback.

    \b
    Example:
      baijiayun playback token 26010100000001 --expires-in 600
    """
    emit(settings.playback().get_player_token(room_id, expires_in, session_id), settings.format())


def _read_ids(ids: tuple[str, ...], file: Path | None) -> list[str]:
    raw: list[str] = list(ids)
    if file is not None:
        raw += file.read_text(encoding="utf-8").split()
    if not raw and not sys.stdin.isatty():
        raw += sys.stdin.read().split()
    return [part for item in raw for part in item.split(",") if part]


@command()
@click.argument("room_ids", nargs=-1)
@click.option(
    "--file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ids, one per line.",
)
@EXPIRES
@pass_settings
def tokens(
    settings: Settings, room_ids: tuple[str, ...], file: Path | None, expires_in: int
) -> None:
    """批量获取回放token: ROOM_IDS are ROOM or ROOM-SESSION, from arguments, --file or stdin.

    \b
    Examples:
      baijiayun playback tokens 26010100000001 26010100000021-202601211
      baijiayun playback tokens --file ids.txt --expires-in 0
    """
    found = settings.playback().get_player_token_batch(_read_ids(room_ids, file), expires_in)
    rows = [{"id": key, "token": value} for key, value in found.items()]
    emit(rows, settings.format(), caption=f"{len(rows)} tokens")


def confirm(settings: Settings, yes: bool, question: str) -> None:
    """Ask before a change that cannot be undone; with nobody to ask, require --yes.

    Only a terminal on stdin is asked: piped or redirected input (a script, a ``while read``
    loop) is never taken as the answer. A "no" exits 1, like click's own abort.
    """
    if yes or settings.resolve().dry_run:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(
            "this needs a confirmation and there is no terminal to ask: add --yes"
        )
    if not click.confirm(question, default=False, err=True):
        click.echo("Aborted: nothing was changed.", err=True)
        sys.exit(EXIT_API_ERROR)


def _publish(settings: Settings, room_id: int, session_id: int | None, status: int) -> None:
    result = settings.playback().set_publish_status(room_id, status, session_id)
    emit(result, settings.format(), words=PUBLISH_WORDS)


@command()
@ROOM_ID
@SESSION
@pass_settings
def publish(settings: Settings, room_id: int, session_id: int | None) -> None:
    """设置回放发布状态: publish (status 1).

    \b
    Example:
      baijiayun playback publish 26010100000003
    """
    _publish(settings, room_id, session_id, 1)


@command()
@ROOM_ID
@SESSION
@YES
@pass_settings
def block(settings: Settings, room_id: int, session_id: int | None, yes: bool) -> None:
    """设置回放发布状态: block (屏蔽, status 2); viewers can no longer play it.

    \b
    Example:
      baijiayun playback block 26010100000003 --yes
    """
    confirm(settings, yes, f"Block the playback of room {room_id}?")
    _publish(settings, room_id, session_id, 2)


@command()
@ROOM_ID
@click.argument("name")
@SESSION
@pass_settings
def rename(settings: Settings, room_id: int, name: str, session_id: int | None) -> None:
    """更新回放名称: rename a playback.

    \b
    Example:
      baijiayun playback rename 26010100000003 "Python 编程 第3讲（重录）"
    """
    settings.playback().update(room_id, name, session_id)
    click.echo(f"renamed the playback of room {room_id} to {name!r}", err=True)


@command()
@ROOM_ID
@SESSION
@click.option("--version", type=AsciiIntRange(min=0), help="Only this crop version.")
@YES
@pass_settings
def delete(
    settings: Settings, room_id: int, session_id: int | None, version: int | None, yes: bool
) -> None:
    """删除回放: delete a playback (every version) or one crop version.

    \b
    Examples:
      baijiayun playback delete 26010100000001 --version 1 --yes
      baijiayun playback delete 26010100000001 --dry-run
    """
    what = f"version {version} of " if version is not None else ""
    confirm(settings, yes, f"Delete {what}the playback of room {room_id}? This cannot be undone")
    settings.playback().delete(room_id, session_id, version)
    click.echo(f"deleted {what}the playback of room {room_id}", err=True)


@command("set-main")
@ROOM_ID
@click.argument("version", type=AsciiIntRange(min=0))
@SESSION
@pass_settings
def set_main(settings: Settings, room_id: int, version: int, session_id: int | None) -> None:
    """设置回放主版本: choose the version that plays by default.

    \b
    Example:
      baijiayun playback set-main 26010100000002 0
    """
    settings.playback().set_main_version(room_id, version, session_id)
    click.echo(f"version {version} is now the main version of room {room_id}", err=True)


_REPLACE_TYPES = {"replace": 1, "add": 2}
_DONE = {"replace": "replaced", "add": "added"}


@command()
@click.argument("source_room_id", type=ASCII_INT)
@click.argument("target_room_id", type=ASCII_INT)
@click.option(
    "--type",
    "type",
    type=click.Choice(list(_REPLACE_TYPES)),
    required=True,
    help="replace (1): overwrite the target version; add (2): add the source as a new version.",
)
@click.option("--source-session-id", type=ASCII_INT)
@click.option("--source-version", type=AsciiIntRange(min=0))
@click.option("--target-session-id", type=ASCII_INT)
@click.option("--target-version", type=AsciiIntRange(min=0))
@click.option(
    "--main/--no-main", "is_replace_main", default=None, help="Make the result the main version."
)
@YES
@pass_settings
def replace(
    settings: Settings,
    source_room_id: int,
    target_room_id: int,
    type: str,
    source_session_id: int | None,
    source_version: int | None,
    target_session_id: int | None,
    target_version: int | None,
    is_replace_main: bool | None,
    yes: bool,
) -> None:
    """替换回放: the source playback replaces (or is added to) the target.

    \b
    Example:
      baijiayun playback replace 26010100000003 26010100000001 --type add --main --yes
    """
    confirm(
        settings,
        yes,
        f"{type.capitalize()} the playback of room {target_room_id} from room {source_room_id}?",
    )
    settings.playback().replace_playback(
        _REPLACE_TYPES[type],
        source_room_id,
        target_room_id,
        source_session_id,
        source_version,
        None if is_replace_main is None else int(is_replace_main),
        target_session_id,
        target_version,
    )
    click.echo(f"{_DONE[type]}: room {source_room_id} -> room {target_room_id}", err=True)


@command("ppt-urls")
@ROOM_ID
@click.option("--date", help="Only this day, YYYY-MM-DD.")
@pass_settings
def ppt_urls(settings: Settings, room_id: int, date: str | None) -> None:
    """获取ppt转成的pdf的路径列表: the PDFs of a room's slides.

    \b
    Example:
      baijiayun playback ppt-urls 26010100000021 --date 2026-01-22
    """
    result = settings.playback().get_playback_ppt_url_list(room_id, date)
    emit(result.items, settings.format(), caption=f"slide PDFs of room {room_id}", keep=PPT_KEY)


@command("ppt-url")
@ROOM_ID
@SESSION
@pass_settings
def ppt_url(settings: Settings, room_id: int, session_id: int | None) -> None:
    """获取ppt转成的pdf具体路径: the PDFs of one room/session.

    \b
    Example:
      baijiayun playback ppt-url 26010100000021 --session-id 202601221
    """
    result = settings.playback().get_playback_ppt_url(room_id, session_id)
    emit(result.items, settings.format(), caption=f"slide PDFs of room {room_id}", keep=PPT_KEY)


@command("player-url")
@ROOM_ID
@SESSION
@click.option("--token", help="Use this token instead of fetching one.")
@EXPIRES
@click.option("--user-number", type=ASCII_INT)
@click.option("--user-name")
@pass_settings
def player_url(
    settings: Settings,
    room_id: int,
    session_id: int | None,
    token: str | None,
    expires_in: int,
    user_number: int | None,
    user_name: str | None,
) -> None:
    """The web playback page URL (fetches a token unless --token is given).

    \b
    Example:
      baijiayun playback player-url 26010100000021 --session-id 202601211 --user-name 学生
    """
    pb = settings.playback()
    if token is None:
        token = pb.get_player_token(room_id, expires_in, session_id).token
    click.echo(
        pb.player_url(room_id, token, session_id, user_number=user_number, user_name=user_name)
    )
