"""``baijiayun mirror``: keep the account's playbacks in a database (sync, watch, callbacks, queries)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .context import _TYPED, ASCII_INT, EXIT_STORAGE, AsciiIntRange, Command, Group, Settings
from .emulator import mask_password
from .output import emit

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ..client import BaiJiaYunClient
    from ..mirror import Mirror, Progress

__all__ = ["main", "mirror"]

DEFAULT_DATABASE = "sqlite:///baijiayun-mirror.db"
DATABASES = ("sqlite", "postgresql")
"""URL schemes (before any ``+driver``) the mirror runs on."""

STATUSES = ("0", "10", "20", "30", "100")
"""``PlaybackStatus`` values (spelled here so that ``--help`` does not load the models)."""


DATABASE_HELP = "SQLAlchemy URL of the mirror (sqlite:///file.db or postgresql://…)."


def _problem(database: str, problem: object) -> str:
    """The first line of ``problem``, any password in it masked."""
    text = str(problem).splitlines()[0] if str(problem) else type(problem).__name__
    return mask_password(text.replace(database, mask_password(database)))


def _bad_database(database: str, problem: object) -> NoReturn:
    """Exit 2 naming ``--database``, the URL and the problem with any password masked."""
    raise click.BadParameter(
        f"cannot use {mask_password(database)!r}: {_problem(database, problem)}",
        param_hint="'--database'",
    )


def _database_here(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--database`` after the subcommand: it wins over the group's (and the environment's)."""
    holder = ctx.find_object(MirrorContext)
    if value is not None and holder is not None:
        holder.database = value


class MirrorCommand(Command):
    """A mirror command: SDK errors as every command maps them; a database that cannot be opened
    is bad usage naming ``--database`` (exit 2), one that fails once open a storage failure
    (exit 4). It takes ``--database`` too, so it may follow the subcommand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.insert(
            0,
            click.Option(
                ["--database"],
                metavar="URL",
                expose_value=False,
                callback=_database_here,
                help=DATABASE_HELP + " [BAIJIAYUN_MIRROR_DATABASE, else "
                "sqlite:///baijiayun-mirror.db]",
            ),
        )

    def settings_of(self, ctx: click.Context) -> Settings | None:
        """The settings of the group's :class:`MirrorContext`."""
        holder = ctx.find_object(MirrorContext)
        return holder.settings if holder is not None else super().settings_of(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return super().invoke(ctx)
        except SQLAlchemyError as exc:
            holder = ctx.find_object(MirrorContext)
            assert holder is not None
            if not holder.opened:
                _bad_database(holder.database, exc)
            click.echo(
                f"Error: the mirror database failed mid-run: {_problem(holder.database, exc)} "
                f"({mask_password(holder.database)}); what was written before stays, and a run "
                "once it is fixed carries on",
                err=True,
            )
            ctx.exit(EXIT_STORAGE)


class MirrorGroup(Group):
    """The mirror group: its commands are :class:`MirrorCommand`."""

    command_class = MirrorCommand


class MirrorContext:
    """The group's ``--database`` and the CLI's :class:`~baijiayun.cli.context.Settings`."""

    def __init__(self, database: str, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.opened = False
        """True once the database was opened and its tables checked: later failures are the
        storage's, not the URL's."""

    @property
    def fmt(self) -> str:
        """The output format in force (the global ``-o``, else table on a terminal, else json)."""
        return self.settings.format()

    def client(self) -> BaiJiaYunClient:
        """The SDK client of the account, closed when the command ends."""
        return self.settings.client()

    def refuse_dry_run(self, what: str) -> None:
        """Exit 2 before anything is opened when ``--dry-run`` is given to a command that syncs."""
        if self.settings.resolve().dry_run:
            raise click.UsageError(
                f"{what} cannot --dry-run: it stores what the API answers. To see a request, "
                "try e.g. 'baijiayun --dry-run playback list'"
            )

    def partner_key(self) -> str:
        """The partner_key that signs callbacks."""
        return self.settings.resolve().partner_key or self.client().fetch_partner_key()

    def engine(self, *, existing: bool = False) -> Engine:
        """The mirror's engine, its tables created; a URL it cannot use exits 2 naming --database.

        With ``existing`` (commands that only read), a SQLite file that is not there is refused
        rather than created empty: the path is likely mistyped.
        """
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, SQLAlchemyError

        from ..mirror import make_engine
        from ..mirror.schema import create_schema

        try:
            url = make_url(self.database)
            backend = url.get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in DATABASES:
            raise click.BadParameter(
                f"{mask_password(self.database)!r} is not supported: use sqlite:///FILE "
                "or postgresql://user@host/db",
                param_hint="'--database'",
            )
        path = url.database
        if (
            existing
            and backend == "sqlite"
            and path
            and path != ":memory:"
            and not url.query.get("uri")
            and not Path(path).exists()
        ):
            raise click.BadParameter(
                f"no mirror database at {path!r}: check the path, or create it with "
                f"'baijiayun mirror sync --database {self.database}'",
                param_hint="'--database'",
            )
        try:
            engine = make_engine(self.database)
            click.get_current_context().call_on_close(engine.dispose)
            create_schema(engine)
        except (SQLAlchemyError, OSError, ImportError) as exc:
            _bad_database(self.database, exc)
        self.opened = True
        return engine

    def mirror(self, **options: Any) -> Mirror:
        """A :class:`Mirror` on this database (checked first), closed when the command ends."""
        from ..mirror import Mirror

        self.engine()
        mirror = Mirror(self.client(), self.database, **options)
        click.get_current_context().call_on_close(mirror.close)
        return mirror


pass_mirror = click.make_pass_decorator(MirrorContext)


@click.group("mirror", cls=MirrorGroup)
@click.option(
    "--database",
    envvar="BAIJIAYUN_MIRROR_DATABASE",
    default=DEFAULT_DATABASE,
    show_default=True,
    help=DATABASE_HELP + " Also taken after the subcommand.",
)
@click.pass_context
def mirror(ctx: click.Context, database: str) -> None:
    """Keep the account's playbacks in your own database (SQLite or PostgreSQL).

    \b
    Examples:
      baijiayun mirror sync --database sqlite:///baijiayun-mirror.db
      baijiayun mirror ls --name 高等数学 -o csv
    """
    settings = ctx.find_object(Settings)
    if settings is None:  # run on its own: python -m baijiayun.cli.mirror
        typed = ctx.find_root().meta.setdefault(_TYPED, {})
        settings = Settings(typed=typed, environ=dict(os.environ))
    ctx.obj = MirrorContext(database, settings)


@contextmanager
def _progress(ctx: MirrorContext, label: str) -> Iterator[Any]:
    """A bar on stderr while a sync runs, on a terminal only (off one, not even a newline)."""
    if not ctx.settings.status().terminal:
        yield lambda progress: None
        return
    from rich.console import Console
    from rich.progress import Progress as Bar

    with Bar(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(progress: Progress) -> None:
            bar.update(task, total=max(progress.total, progress.rows), completed=progress.rows)

        yield update


DAY = click.DateTime(["%Y-%m-%d"])
"""A real calendar day, YYYY-MM-DD (2026-13-01 is refused)."""


def views_options(function: Any) -> Any:
    """``--views-since`` and ``--no-views``, for the commands that sync."""
    function = click.option(
        "--no-views",
        is_flag=True,
        help="Skip the play records (exportVideoReportBatch); the catalog only.",
    )(function)
    return click.option(
        "--views-since",
        type=DAY,
        metavar="YYYY-MM-DD",
        help="First Beijing day of play records to read [the first day the mirror holds, "
        "else 30 days ago].",
    )(function)


def _views_settings(no_views: bool, views_since: Any) -> dict[str, Any]:
    return {"views": not no_views, "views_since": views_since.date() if views_since else None}


@mirror.command()
@click.option("--incremental", is_flag=True, help="Newest first until overlap, plus pending rows.")
@click.option("--wait", type=float, default=0.0, help="Seconds to wait for a running sync.")
@views_options
@click.option("--page-size", type=AsciiIntRange(1, 1000), default=1000, hidden=True)
@pass_mirror
def sync(
    ctx: MirrorContext,
    incremental: bool,
    wait: float,
    views_since: Any,
    no_views: bool,
    page_size: int,
) -> None:
    """One sync: a full sweep (default) or an incremental run; a summary at the end.

    Each run also reads the account's play records, a Beijing day at a time: the days not
    read yet, and today and yesterday again (their plays may still be going).

    \b
    Examples:
      baijiayun mirror sync --database sqlite:///baijiayun-mirror.db
      baijiayun mirror sync --incremental --wait 30
      baijiayun mirror sync --views-since 2026-09-01
    """
    from ..mirror.query import beijing

    ctx.refuse_dry_run("mirror sync")
    with _progress(ctx, "mirror " + ("incremental" if incremental else "full sweep")) as update:
        mirror = ctx.mirror(
            page_size=page_size,
            lock_wait=wait,
            on_page=update,
            **_views_settings(no_views, views_since),
        )
        result = mirror.sync(incremental=incremental)
    summary = result.to_dict()
    for name in ("started_at", "ended_at"):
        summary[name] = beijing(summary[name])
    emit(summary, ctx.fmt, caption="mirror sync (times UTC+8)")


@mirror.command()
@click.option("--every", type=float, default=60.0, show_default=True, help="Seconds between runs.")
@click.option(
    "--full-every", type=float, default=3600.0, show_default=True, help="Seconds between sweeps."
)
@views_options
@click.option("--page-size", type=AsciiIntRange(1, 1000), default=1000, hidden=True)
@pass_mirror
def watch(
    ctx: MirrorContext,
    every: float,
    full_every: float,
    views_since: Any,
    no_views: bool,
    page_size: int,
) -> None:
    """Loop: incremental runs often, a full sweep on the longer period; stops on SIGTERM/Ctrl-C.

    One line per run on stderr: its mode and id, its API calls, and +new ~updated -deleted
    playbacks; then its play-record calls and +new ~grown records.

    \b
    Examples:
      baijiayun mirror watch --every 60 --full-every 3600
      baijiayun mirror watch --database postgresql://app@db/bjy
    """
    ctx.refuse_dry_run("mirror watch")
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        click.echo(f"stopping ({signal.Signals(signum).name})…", err=True)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        mirror = ctx.mirror(
            page_size=page_size, lock_wait=0.0, **_views_settings(no_views, views_since)
        )

        def report(result: Any) -> None:
            done = result.to_dict()
            click.echo(
                "{mode} run {run_id}: {calls} call(s), +{inserted} new ~{updated} updated "
                "-{deleted} deleted{problem}; views {views_calls} call(s), +{views_inserted} new "
                "~{views_updated} grown{views_problem}".format(
                    **done,
                    problem=f" ({result.error})" if result.error else "",
                    views_problem=f" ({result.views_error})" if result.views_error else "",
                ),
                err=True,
            )

        def problem(exc: Exception) -> None:
            click.echo(f"run failed: {exc}", err=True)

        mirror.watch(
            every=every, full_every=full_every, stop=stop, on_result=report, on_error=problem
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped", err=True)


@mirror.command("serve-callbacks")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=AsciiIntRange(1, 65535), default=8080, show_default=True)
@pass_mirror
def serve_callbacks(ctx: MirrorContext, host: str, port: int) -> None:
    """Serve the transcode-callback receiver that applies callbacks to the mirror at once.

    \b
    Examples:
      baijiayun mirror serve-callbacks --port 8080
      baijiayun mirror serve-callbacks --host 0.0.0.0 --database postgresql://app@db/bjy
    """
    ctx.refuse_dry_run("mirror serve-callbacks")
    import uvicorn

    from ..mirror import callback_app

    ctx.engine()
    key = ctx.partner_key()
    app = callback_app(key, ctx.database, partner_id=ctx.client().partner_id)
    click.echo(f"applying callbacks to {ctx.database} at http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@mirror.command()
@pass_mirror
def status(ctx: MirrorContext) -> None:
    """Last run, its age, counts by status and publish status, calls used (no API call).

    \b
    Examples:
      baijiayun mirror status
      baijiayun mirror status --database sqlite:///baijiayun-mirror.db -o json
    """
    from ..mirror import mirror_status

    emit(mirror_status(ctx.engine(existing=True)), ctx.fmt, caption="mirror status (times UTC+8)")


@mirror.command("ls")
@click.option("--name", help="Name contains (case-insensitive).")
@click.option("--room-id", type=ASCII_INT)
@click.option("--status", type=click.Choice(STATUSES), help="0, 10, 20, 30 or 100.")
@click.option("--publish-status", type=click.Choice(("1", "2")), help="1 published, 2 blocked.")
@click.option("--since", type=DAY, help="Generated on or after YYYY-MM-DD (China time).")
@click.option("--until", type=DAY, help="Generated on or before YYYY-MM-DD (China time).")
@click.option("--deleted", is_flag=True, help="Include playbacks deleted from the service.")
@click.option("--limit", type=AsciiIntRange(min=1))
@pass_mirror
def ls(ctx: MirrorContext, /, **filters: Any) -> None:
    """Mirrored playbacks, newest first, filtered (no API call).

    \b
    Examples:
      baijiayun mirror ls --name 高等数学 --publish-status 1 --since 2026-01-01
      baijiayun mirror ls --room-id 26010100000001 --deleted -o csv
    """
    from ..mirror import list_playbacks

    filters["include_deleted"] = filters.pop("deleted")
    for name in ("status", "publish_status"):
        if filters[name] is not None:
            filters[name] = int(filters[name])
    for name in ("since", "until"):
        if filters[name] is not None:
            filters[name] = f"{filters[name]:%Y-%m-%d}"
    rows = list_playbacks(ctx.engine(existing=True), **filters)
    emit(rows, ctx.fmt, caption="mirrored playbacks")


def main() -> None:
    """Run the group on its own (``python -m baijiayun.cli.mirror``), credentials from the env."""
    mirror.main(args=sys.argv[1:], prog_name="baijiayun mirror")


if __name__ == "__main__":  # pragma: no cover
    main()
