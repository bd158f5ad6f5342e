"""``baijiayun playback …``: each command is one SDK method call plus its output."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click

from .context import (
    ASCII_INT,
    EXIT_API_ERROR,
    EXIT_USAGE,
    AsciiIntRange,
    Group,
    Settings,
    global_options,
    pass_settings,
)
from .output import PUBLISH_WORDS, emit

__all__ = ["playback"]


@click.group(cls=Group)
def playback() -> None:
    """回放: list, inspect, tokens, publish/block, rename, delete, versions, PDFs, bulk writes."""


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
    settings: Settings, items: list[Any], total: int, page: int, size: int, what: str
) -> None:
    pages = max(1, math.ceil(total / size))
    caption = f"page {page} of {pages}: {len(items)} of {total} {what}"
    hint = f"next: --page {page + 1}; everything: --all" if page < pages else None
    emit(items, settings.format(), caption=caption, hint=hint)


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
    """获取回放列表: playbacks, newest first."""
    pb = settings.playback()
    if all_pages:
        walk = pb.iter_list(product_type, page_size, int(crop_video), room_id)
        items = list(settings.status().count(walk, "listing playbacks"))
        emit(items, settings.format(), caption=f"{len(items)} playbacks")
        return
    result = pb.get_list(product_type, page, page_size, int(crop_video), room_id)
    _paged(settings, result.items, result.total, page, page_size, "playbacks")


@command()
@ROOM_ID
@SESSION
@pass_settings
def info(settings: Settings, room_id: int, session_id: int | None) -> None:
    """查询直播回放信息: status, media and publish state of one playback."""
    result = settings.playback().get_basic_info(room_id, session_id)
    emit(result, settings.format(), caption=f"playback of room {room_id}")


@command()
@ROOM_ID
@pass_settings
def sessions(settings: Settings, room_id: int) -> None:
    """获取长期房间的序列号列表: the sessions of a long-term room."""
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
    """获取裁剪回放列表: every version of a playback, with the main one marked."""
    pb = settings.playback()
    if all_pages:
        walk = pb.iter_crop_list(room_id, product_type, session_id, page_size)
        items = list(settings.status().count(walk, "listing versions"))
        emit(items, settings.format(), caption=f"{len(items)} versions of room {room_id}")
        return
    result = pb.get_crop_list(room_id, product_type, session_id, page, page_size)
    _paged(settings, result.items, result.total, page, page_size, f"versions of room {room_id}")


@command()
@ROOM_ID
@SESSION
@EXPIRES
@pass_settings
def token(settings: Settings, room_id: int, session_id: int | None, expires_in: int) -> None:
    """获取回放token: a player token for one playback."""
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
    """批量获取回放token: ROOM_IDS are ROOM or ROOM-SESSION, from arguments, --file or stdin."""
    found = settings.playback().get_player_token_batch(_read_ids(room_ids, file), expires_in)
    rows = [{"id": key, "token": value} for key, value in found.items()]
    emit(rows, settings.format(), caption=f"{len(rows)} tokens")


def _confirm(settings: Settings, yes: bool, question: str) -> None:
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
    """设置回放发布状态: publish (status 1)."""
    _publish(settings, room_id, session_id, 1)


@command()
@ROOM_ID
@SESSION
@YES
@pass_settings
def block(settings: Settings, room_id: int, session_id: int | None, yes: bool) -> None:
    """设置回放发布状态: block (屏蔽, status 2); viewers can no longer play it."""
    _confirm(settings, yes, f"Block the playback of room {room_id}?")
    _publish(settings, room_id, session_id, 2)


@command()
@ROOM_ID
@click.argument("name")
@SESSION
@pass_settings
def rename(settings: Settings, room_id: int, name: str, session_id: int | None) -> None:
    """更新回放名称: rename a playback."""
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
    """删除回放: delete a playback (every version) or one crop version."""
    what = f"version {version} of " if version is not None else ""
    _confirm(settings, yes, f"Delete {what}the playback of room {room_id}? This cannot be undone")
    settings.playback().delete(room_id, session_id, version)
    click.echo(f"deleted {what}the playback of room {room_id}", err=True)


@command("set-main")
@ROOM_ID
@click.argument("version", type=AsciiIntRange(min=0))
@SESSION
@pass_settings
def set_main(settings: Settings, room_id: int, version: int, session_id: int | None) -> None:
    """设置回放主版本: choose the version that plays by default."""
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
    """替换回放: the source playback replaces (or is added to) the target."""
    _confirm(
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
    """获取ppt转成的pdf的路径列表: the PDFs of a room's slides."""
    result = settings.playback().get_playback_ppt_url_list(room_id, date)
    emit(result.items, settings.format(), caption=f"slide PDFs of room {room_id}")


@command("ppt-url")
@ROOM_ID
@SESSION
@pass_settings
def ppt_url(settings: Settings, room_id: int, session_id: int | None) -> None:
    """获取ppt转成的pdf具体路径: the PDFs of one room/session."""
    result = settings.playback().get_playback_ppt_url(room_id, session_id)
    emit(result.items, settings.format(), caption=f"slide PDFs of room {room_id}")


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
    """The web playback page URL (fetches a token unless --token is given)."""
    pb = settings.playback()
    if token is None:
        token = pb.get_player_token(room_id, expires_in, session_id).token
    click.echo(
        pb.player_url(room_id, token, session_id, user_number=user_number, user_name=user_name)
    )


BULK_OPS = ("publish", "block", "rename", "set-main", "delete")
"""``baijiayun.bulk.OPS`` (spelled here so that ``--help`` does not load the SDK)."""


@command("bulk")
@click.argument("op", type=click.Choice(BULK_OPS))
@click.option(
    "--from",
    "source",
    required=True,
    metavar="FILE",
    help="CSV with a header (room_id, session_id, version, name as OP needs) or JSON lines; "
    "'-' reads stdin.",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite journal of each row's outcome [FILE.journal.sqlite3; required with stdin].",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="[by suffix/content]")
@click.option(
    "--workers", type=AsciiIntRange(1, 32), default=4, show_default=True, help="Rows in flight."
)
@YES
@pass_settings
def bulk(
    settings: Settings,
    op: str,
    source: str,
    journal: Path | None,
    fmt: str | None,
    workers: int,
    yes: bool,
) -> None:
    """Apply OP to every row of a file, each exactly once, under the account limit.

    Every row is checked before anything is sent (bad rows are listed with their line numbers,
    exit 2). Each row's outcome goes to the journal, so a run stopped anywhere (or ended with
    failures) and started again, even on an edited file, sends only what is not done; once every
    row is done the job closes and the next run is a new job (a delete done is never sent again).
    A row whose answer was lost is read back before anything is re-sent. --dry-run says what a
    real run would send.
    """
    from ..bulk import BulkInputError, BulkJournalError, Format, default_journal, load_rows

    if journal is None:
        if source == "-":
            raise click.UsageError("--journal is required when the rows come from stdin")
        journal = default_journal(source)
    if source != "-" and not Path(source).is_file():
        raise click.BadParameter(f"no such file: {source}", param_hint="'--from'")
    try:
        rows = load_rows(op, source, format=cast("Format | None", fmt))
    except BulkInputError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        _run_bulk_rows(settings, op, rows, journal, yes, workers)
    except BulkJournalError as error:  # another account's, in use, or not a journal
        raise click.BadParameter(str(error), param_hint="'--journal'") from None


def _run_bulk_rows(
    settings: Settings,
    op: str,
    rows: list[Any],
    journal: Path,
    yes: bool,
    workers: int,
) -> None:
    """Confirm if the op is destructive, run the rows under a progress bar, print the summary."""
    from ..bulk import run_bulk

    dry_run = settings.resolve().dry_run
    if not dry_run and rows and op in ("block", "delete"):
        plan = run_bulk(settings.playback(), rows, journal, dry_run=True)
        if plan.would_send:
            _confirm(settings, yes, f"{op.capitalize()} {plan.would_send} playback(s)?")
    # Lost answers are settled by the journal's read-back, never by re-sending a write blindly.
    playback = settings.client().with_options(max_retries=0).playback
    with settings.status().bar(f"bulk {op}", len(rows)) as advance:
        summary = run_bulk(
            playback,
            rows,
            journal,
            dry_run=dry_run,
            workers=workers,
            on_progress=lambda _: advance(1),
            rate_limit_wait=(settings.budget() or (0, 10.0))[1],
            on_wait=settings.status().on_wait,
        )
    if settings.format() == "table":
        click.echo(str(summary))
    else:
        failures = [{"line": f.line, "row": f.row, "reason": f.reason} for f in summary.failed]
        result = {
            "total": summary.total,
            "done": summary.done,
            "skipped": summary.skipped,
            "failed": len(summary.failed),
            "sent": summary.sent,
            "checked": summary.checked,
            "failures": failures,
        }
        if dry_run:
            result = {
                "dry_run": True,
                "total": summary.total,
                "to_send": summary.would_send,
                "skipped": summary.skipped,
            }
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    if summary.failed:
        click.echo(f"{len(summary.failed)} row(s) failed; see the summary", err=True)
        sys.exit(EXIT_API_ERROR)
