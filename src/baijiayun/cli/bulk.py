"""``baijiayun playback bulk OP``: one command per bulk operation, each row once, resumable."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from .context import (
    EXIT_API_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    AsciiIntRange,
    Group,
    Settings,
    pass_settings,
)
from .output import emit
from .playback import YES, confirm

if TYPE_CHECKING:
    from ..bulk import BulkRow, BulkSummary

__all__ = ["BULK_OPS", "BulkOp", "bulk"]


@dataclass(frozen=True)
class BulkOp:
    """What ``--help`` says of one op (spelled here so that ``--help`` does not load the SDK)."""

    summary: str
    columns: str
    example: tuple[str, ...]
    asks: bool = False


BULK_OPS = {
    "publish": BulkOp(
        "设置回放发布状态: publish each row's playback (status 1).",
        "room_id; optional session_id",
        ("room_id", "26010100000003"),
    ),
    "block": BulkOp(
        "设置回放发布状态: block each row's playback (屏蔽, status 2).",
        "room_id; optional session_id",
        ("room_id", "26010100000003"),
        asks=True,
    ),
    "rename": BulkOp(
        "更新回放名称: rename each row's playback.",
        "room_id, name; optional session_id",
        ("room_id,name", "26010100000001,高等数学 第1讲（修订）"),
    ),
    "set-main": BulkOp(
        "设置回放主版本: make each row's version the main one.",
        "room_id, version; optional session_id",
        ("room_id,version", "26010100000002,0"),
    ),
    "delete": BulkOp(
        "删除回放: delete each row's playback, or one version of it.",
        "room_id; optional session_id, version",
        ("room_id,version", "26010100000002,1"),
        asks=True,
    ),
}
"""The ops of ``baijiayun.bulk.OPS``, with their help."""

_RULES = """Every row is checked before anything is sent (bad rows are listed with their line
numbers, exit 2). Each row's outcome goes to the journal, so a run stopped anywhere (or ended
with failures) and started again, even on an edited file, sends only what is not done; once
every row is done the job closes and the next run is a new job (a delete done is never sent
again). A row whose answer was lost is read back before anything is re-sent, and a delete is
never sent while an earlier send could still arrive. --dry-run says what a real run would send."""


@click.group(cls=Group)
def bulk() -> None:
    """Apply OP to every row of a file, each exactly once, under the account limit.

    \b
    Example:
      baijiayun playback bulk rename --from renames.csv --dry-run
    """


def _help(op: str, spec: BulkOp) -> str:
    file = "renames.csv" if op == "rename" else f"{op}.csv"
    asks = " It asks first (or takes --yes)." if spec.asks else ""
    lines = "\n".join(f"  {line}" for line in spec.example)
    return (
        f"{spec.summary}\n\nColumns: {spec.columns} (CSV with a header, or JSON lines).{asks}\n\n"
        f"{_RULES}\n\n\b\nExample, {file}:\n{lines}\n"
        f"  $ baijiayun playback bulk {op} --from {file}"
    )


def _command(op: str, spec: BulkOp) -> click.Command:
    @bulk.command(op, help=_help(op, spec), short_help=spec.summary.partition(": ")[2])
    @click.option(
        "--from",
        "source",
        required=True,
        metavar="FILE",
        help=f"CSV with a header ({spec.columns}) or JSON lines; '-' reads stdin.",
    )
    @click.option(
        "--journal",
        type=click.Path(dir_okay=False, path_type=Path),
        help="SQLite journal of each row's outcome [FILE.journal.sqlite3; required with stdin].",
    )
    @click.option(
        "--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="[by suffix/content]"
    )
    @click.option(
        "--workers", type=AsciiIntRange(1, 32), default=4, show_default=True, help="Rows in flight."
    )
    @YES
    @pass_settings
    def command(
        settings: Settings,
        source: str,
        journal: Path | None,
        fmt: str | None,
        workers: int,
        yes: bool,
    ) -> None:
        _bulk(settings, op, source, journal, fmt, workers, yes)

    return command


for _op, _spec in BULK_OPS.items():
    _command(_op, _spec)


def _bulk(
    settings: Settings,
    op: str,
    source: str,
    journal: Path | None,
    fmt: str | None,
    workers: int,
    yes: bool,
) -> None:
    from ..bulk import BulkInputError, BulkJournalError, Format, default_journal, load_rows

    resume = f"baijiayun playback bulk {op} --from {shlex.quote(source)}"
    if journal is None:
        if source == "-":
            raise click.UsageError("--journal is required when the rows come from stdin")
        journal = default_journal(source)
    else:
        resume += f" --journal {shlex.quote(str(journal))}"
    if source != "-" and not Path(source).is_file():
        raise click.BadParameter(f"no such file: {source}", param_hint="'--from'")
    try:
        rows = load_rows(op, source, format=cast("Format | None", fmt))
    except BulkInputError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        _run(settings, op, rows, journal, yes, workers, resume)
    except BulkJournalError as error:  # another account's, in use, or not a journal
        raise click.BadParameter(str(error), param_hint="'--journal'") from None


def _run(
    settings: Settings,
    op: str,
    rows: list[BulkRow],
    journal: Path,
    yes: bool,
    workers: int,
    resume: str,
) -> None:
    """Confirm if the op is destructive, run the rows under a progress bar, print the summary."""
    from ..bulk import run_bulk

    dry_run = settings.resolve().dry_run
    if not dry_run and rows and BULK_OPS[op].asks:
        plan = run_bulk(settings.playback(), rows, journal, dry_run=True)
        if plan.would_send:
            confirm(settings, yes, f"{op.capitalize()} {plan.would_send} playback(s)?")
    # Lost answers are settled by the journal's read-back, never by re-sending a write blindly.
    playback = settings.client().with_options(max_retries=0).playback
    finished = [0]

    def advanced(bar: Any) -> Any:
        def on_progress(_: object) -> None:
            finished[0] += 1
            bar(1)

        return on_progress

    try:
        with settings.status().bar(f"bulk {op}", len(rows)) as advance:
            summary = run_bulk(
                playback,
                rows,
                journal,
                dry_run=dry_run,
                workers=workers,
                on_progress=advanced(advance),
                rate_limit_wait=(settings.budget() or (0, 10.0))[1],
                on_wait=settings.status().on_wait,
            )
    except KeyboardInterrupt:
        click.echo(
            f"\nInterrupted: {finished[0]} of {len(rows)} rows finished, every outcome so far is "
            f"in the journal {journal}. To resume, run the same command again:\n  {resume}",
            err=True,
        )
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    _report(settings, summary)


def _report(settings: Settings, summary: BulkSummary) -> None:
    fmt = settings.format()
    if fmt == "table":
        click.echo(str(summary))
    elif summary.dry_run:
        result: dict[str, Any] = {
            "dry_run": True,
            "total": summary.total,
            "to_send": summary.would_send,
            "skipped": summary.skipped,
        }
        emit(result, fmt)
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
        emit(result, fmt)
    if summary.failed:
        click.echo(f"{len(summary.failed)} row(s) failed; see the summary", err=True)
        sys.exit(EXIT_API_ERROR)
