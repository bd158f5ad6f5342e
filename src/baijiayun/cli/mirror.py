"""``baijiayun mirror``: keep the account's playbacks in a database (sync, watch, callbacks, queries)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from .output import FORMATS, emit, pick_format

if TYPE_CHECKING:
    from ..client import BaiJiaYunClient
    from ..mirror import Mirror, Progress

__all__ = ["main", "mirror"]

DEFAULT_DATABASE = "sqlite:///baijiayun-mirror.db"


class MirrorContext:
    """The group's options, plus what the main CLI's settings object offers (if any).

    From the main CLI it uses only ``settings.client()`` (the SDK client, closed with the
    command), ``settings.fmt`` (the output format) and ``settings.partner_key`` /
    ``settings.partner_id``. Run on its own (``python -m baijiayun.cli.mirror``) it builds
    the client from the ``BAIJIAYUN_*`` variables.
    """

    def __init__(self, database: str, output: str | None, settings: Any) -> None:
        self.database = database
        self.output = output
        self.settings = settings

    @property
    def fmt(self) -> str:
        """The output format: this group's ``-o``, else the main CLI's, else table/json."""
        if self.output:
            return self.output
        main_format = getattr(self.settings, "format", None)
        return str(main_format()) if callable(main_format) else pick_format(None)

    def client(self) -> BaiJiaYunClient:
        """The SDK client of the account."""
        if self.settings is not None and hasattr(self.settings, "client"):
            client: BaiJiaYunClient = self.settings.client()
            return client
        from ..client import BaiJiaYunClient

        client = BaiJiaYunClient()
        click.get_current_context().call_on_close(client.close)
        return client

    def partner_key(self) -> str:
        """The partner_key that signs callbacks."""
        key = getattr(self.settings, "partner_key", None) or os.environ.get("BAIJIAYUN_PARTNER_KEY")
        return key or self.client().fetch_partner_key()

    def mirror(self, **options: Any) -> Mirror:
        """A :class:`Mirror` on this database, closed when the command ends."""
        from ..mirror import Mirror

        mirror = Mirror(self.client(), self.database, **options)
        click.get_current_context().call_on_close(mirror.close)
        return mirror


pass_mirror = click.make_pass_decorator(MirrorContext)


@click.group("mirror")
@click.option(
    "--database",
    envvar="BAIJIAYUN_MIRROR_DATABASE",
    default=DEFAULT_DATABASE,
    show_default=True,
    help="SQLAlchemy URL of the mirror (sqlite:///file.db or postgresql://…).",
)
@click.option("-o", "--output", type=click.Choice(FORMATS), help="Output format.")
@click.pass_context
def mirror(ctx: click.Context, database: str, output: str | None) -> None:
    """Keep the account's playbacks in your own database (SQLite or PostgreSQL)."""
    ctx.obj = MirrorContext(database, output, ctx.obj)


@contextmanager
def _progress(label: str) -> Iterator[Any]:
    from rich.console import Console
    from rich.progress import Progress as Bar

    with Bar(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(progress: Progress) -> None:
            bar.update(task, total=max(progress.total, progress.rows), completed=progress.rows)

        yield update


@mirror.command()
@click.option("--incremental", is_flag=True, help="Newest first until overlap, plus pending rows.")
@click.option("--wait", type=float, default=0.0, help="Seconds to wait for a running sync.")
@click.option("--page-size", type=click.IntRange(1, 1000), default=1000, hidden=True)
@pass_mirror
def sync(ctx: MirrorContext, incremental: bool, wait: float, page_size: int) -> None:
    """One sync: a full sweep (default) or an incremental run; a summary at the end."""
    with _progress("mirror " + ("incremental" if incremental else "full sweep")) as update:
        mirror = ctx.mirror(page_size=page_size, lock_wait=wait, on_page=update)
        result = mirror.sync(incremental=incremental)
    emit(result.to_dict(), ctx.fmt, caption="mirror sync")


@mirror.command()
@click.option("--every", type=float, default=60.0, show_default=True, help="Seconds between runs.")
@click.option(
    "--full-every", type=float, default=3600.0, show_default=True, help="Seconds between sweeps."
)
@click.option("--page-size", type=click.IntRange(1, 1000), default=1000, hidden=True)
@pass_mirror
def watch(ctx: MirrorContext, every: float, full_every: float, page_size: int) -> None:
    """Loop: incremental runs often, a full sweep on the longer period; stops on SIGTERM/Ctrl-C."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        click.echo(f"stopping ({signal.Signals(signum).name})…", err=True)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        mirror = ctx.mirror(page_size=page_size, lock_wait=0.0)

        def report(result: Any) -> None:
            done = result.to_dict()
            click.echo(
                "{mode} run {run_id}: {calls} calls, +{inserted} ~{updated} -{deleted}"
                "{problem}".format(**done, problem=f" ({result.error})" if result.error else ""),
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
@click.option("--port", type=int, default=8080, show_default=True)
@pass_mirror
def serve_callbacks(ctx: MirrorContext, host: str, port: int) -> None:
    """Serve the transcode-callback receiver that applies callbacks to the mirror at once."""
    import uvicorn

    from ..mirror import callback_app

    key = ctx.partner_key()
    app = callback_app(key, ctx.database, partner_id=ctx.client().partner_id)
    click.echo(f"applying callbacks to {ctx.database} at http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _engine(ctx: MirrorContext) -> Any:
    from ..mirror import make_engine
    from ..mirror.schema import create_schema

    engine = make_engine(ctx.database)
    create_schema(engine)
    click.get_current_context().call_on_close(engine.dispose)
    return engine


@mirror.command()
@pass_mirror
def status(ctx: MirrorContext) -> None:
    """Last run, its age, counts by status and publish status, calls used (no API call)."""
    from ..mirror import mirror_status

    emit(mirror_status(_engine(ctx)), ctx.fmt, caption="mirror status")


@mirror.command("ls")
@click.option("--name", help="Name contains (case-insensitive).")
@click.option("--room-id", type=int)
@click.option("--status", type=int, help="0, 10, 20, 30 or 100.")
@click.option("--publish-status", type=click.IntRange(1, 2), help="1 published, 2 blocked.")
@click.option("--since", help="Generated on or after YYYY-MM-DD (China time).")
@click.option("--until", help="Generated on or before YYYY-MM-DD (China time).")
@click.option("--deleted", is_flag=True, help="Include playbacks deleted from the service.")
@click.option("--limit", type=click.IntRange(min=1))
@pass_mirror
def ls(ctx: MirrorContext, /, **filters: Any) -> None:
    """Mirrored playbacks, newest first, filtered (no API call)."""
    from ..mirror import list_playbacks

    filters["include_deleted"] = filters.pop("deleted")
    emit(list_playbacks(_engine(ctx), **filters), ctx.fmt, caption="mirrored playbacks")


def main() -> None:
    """Run the group on its own (``python -m baijiayun.cli.mirror``), credentials from the env."""
    from ..errors import BaiJiaYunError

    try:
        mirror.main(args=sys.argv[1:], prog_name="baijiayun mirror", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as problem:
        problem.show()
        sys.exit(problem.exit_code)
    except click.Abort:
        sys.exit(1)
    except BaiJiaYunError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
