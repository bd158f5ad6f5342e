"""``baijiayun emulator serve``: the local playback emulator on a real port."""

from __future__ import annotations

import errno
import re
import socket
from pathlib import Path
from typing import Any

import click

from .context import Group, LocalCommand, require_extra

__all__ = ["emulator", "require_emulator"]

EMULATOR_MODULES = ("starlette", "uvicorn", "sqlalchemy", "multipart", "jinja2")
DATABASES = ("sqlite", "postgresql")
"""URL schemes (before any ``+driver``) the emulator runs on."""


def require_emulator(what: str) -> None:
    """Exit 2 naming the ``emulator`` extra unless it is installed."""
    require_extra("emulator", what, *EMULATOR_MODULES)


def mask_password(url: str) -> str:
    """``url`` with the password of its user part replaced by ``***``."""
    return re.sub(r"^([A-Za-z][\w+.-]*://[^/:@]*:)[^/@]*@", r"\1***@", url)


def _check_database(database: str) -> Path | None:
    """Refuse a URL the emulator cannot run on; return the SQLite file it names, if any."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    shown = mask_password(database)
    try:
        url = make_url(database)
    except ArgumentError:
        url = None
    if url is None or url.get_backend_name() not in DATABASES:
        raise click.BadParameter(
            f"{shown!r} is not supported: use sqlite:///FILE, sqlite:// (in memory) "
            "or postgresql://user@host/db",
            param_hint="--database",
        )
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database)
    return None


def _check_port(host: str, port: int) -> None:
    """Fail before anything is created or printed when ``host:port`` cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise click.BadParameter(f"cannot resolve {host!r}: {exc}", param_hint="--host") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            busy = exc.errno == errno.EADDRINUSE
            problem = "is already in use" if busy else f"cannot be used: {exc.strerror}"
            raise click.BadParameter(
                f"{host}:{port} {problem}", param_hint="--port" if busy else "--host"
            ) from None


class ServiceLimit(click.types.IntParamType):
    """The emulator's own rate limit: calls per 10 s per account, or ``off`` (``0`` too)."""

    name = "CALLS|off"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().lower()
            if text == "off":
                return 0
            if not (text.isascii() and text.isdigit()):
                self.fail(f"{value!r} is not a number of calls or 'off'", param, ctx)
            number = int(text)
        if number < 0:
            self.fail(f"{value!r} is not a number of calls or 'off'", param, ctx)
        return number


class ServeCommand(LocalCommand):
    """``emulator serve``: it calls no API; its --rate-limit is the service's own limit."""

    client_option_hint = (
        "; the emulator's own limit goes after it: 'emulator serve --rate-limit CALLS|off'"
    )


@click.group(cls=Group)
def emulator() -> None:
    """The local BaijiaYun playback emulator.

    \b
    Example:
      baijiayun emulator serve --seed demo --port 8000
    """


@emulator.command(cls=ServeCommand)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--database",
    default="sqlite:///baijiayun-emulator.sqlite3",
    show_default=True,
    help="SQLAlchemy URL: a SQLite file, or postgresql://user@host/db.",
)
@click.option(
    "--seed",
    type=click.Choice(["demo", "large"]),
    help="Add a data set unless its account is already there (other data stays): demo "
    "(2 accounts, 1,000 playbacks) or large (1 account, --seed-size playbacks).",
)
@click.option(
    "--seed-size",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Playbacks of --seed large.",
)
@click.option(
    "--views",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Play records of --seed large, over the 30 days before today (Beijing time).",
)
@click.option(
    "--report-interval",
    type=click.FloatRange(min=0.1, max=3600),
    default=10.0,
    show_default=True,
    help="Seconds between the web player's beacons while it plays.",
)
@click.option(
    "--rate-limit",
    type=ServiceLimit(),
    default=200,
    show_default=True,
    help="The service's limit: calls per 10 s per account, or 'off' (0 too).",
)
@click.option("--timestamp-window", type=click.IntRange(min=0), default=300, show_default=True)
@click.option(
    "--debug-signatures", is_flag=True, help="Explain 1002 errors with the canonical string."
)
@click.option(
    "--lifecycle-delays",
    default="2,3,5",
    show_default=True,
    help="Seconds before an automatic recording goes to 10, 20 and 100 (three numbers).",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Another name the admin API accepts: NAME (a container's service name), NAME:PORT (a published port) or http[s]://NAME[:PORT] (one page origin).",
)
@click.option(
    "--admin-token",
    envvar="BAIJIAYUN_EMULATOR_ADMIN_TOKEN",
    help="Require 'Authorization: Bearer TOKEN' on the admin API; needed beyond loopback.",
)
@click.option("--public-url", help="Where play_url points (default: the served address).")
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=1024 * 1024,
    show_default=True,
    help="Largest request body in bytes.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (PostgreSQL or a SQLite file); they act as one service.",
)
@click.option("--redis", "redis_url", help="Count the rate limit in this Redis (redis://host/0).")
def serve(
    host: str,
    port: int,
    database: str,
    seed: str | None,
    seed_size: int,
    views: int,
    report_interval: float,
    rate_limit: int,
    timestamp_window: int,
    debug_signatures: bool,
    lifecycle_delays: str,
    allowed_hosts: tuple[str, ...],
    admin_token: str | None,
    public_url: str | None,
    max_body: int,
    workers: int,
    redis_url: str | None,
) -> None:
    """Run the emulator on a real port (uvicorn).

    \b
    Examples:
      baijiayun emulator serve --seed demo
      baijiayun emulator serve --rate-limit off --database postgresql://postgres@127.0.0.1/test
    """
    require_emulator("baijiayun emulator serve")
    try:
        first, second, third = (float(part) for part in lifecycle_delays.split(","))
    except ValueError:
        raise click.BadParameter(
            "three comma-separated numbers of seconds, e.g. 2,3,5", param_hint="--lifecycle-delays"
        ) from None
    from ..emulator.facade import check_admin_token
    from ..emulator.server import ExposedWithoutToken, check_exposure

    try:
        check_admin_token(admin_token)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--admin-token") from None
    try:
        check_exposure(host, admin_token)
    except ExposedWithoutToken as exc:
        raise click.BadParameter(str(exc), param_hint="--host") from None
    if views and seed != "large":
        raise click.BadParameter("play records are seeded with --seed large", param_hint="--views")
    sqlite_file = _check_database(database)
    _check_port(host, port)  # before the database file is created or "emulator on" is printed

    from sqlalchemy.exc import SQLAlchemyError

    from ..emulator import Emulator, EmulatorConfig
    from ..emulator.seed import DEMO_ACCOUNTS
    from ..emulator.seed_large import LARGE_ACCOUNT
    from ..emulator.server import serve as run

    config = EmulatorConfig(
        lifecycle_delays=(first, second, third),
        rate_limit=rate_limit or None,
        timestamp_window=timestamp_window,
        debug_signatures=debug_signatures,
        allowed_hosts=allowed_hosts,
        admin_token=admin_token,
        public_url=public_url,
        max_body=max_body,
        redis_url=redis_url,
        report_interval=report_interval,
    )
    existed = sqlite_file is not None and sqlite_file.exists()
    try:
        emu = Emulator(database, config)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        if sqlite_file is not None and not existed:
            sqlite_file.unlink(missing_ok=True)
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problem = mask_password(problem.replace(database, mask_password(database)))
        raise click.BadParameter(
            f"cannot open {mask_password(database)!r}: {problem}", param_hint="--database"
        ) from None
    try:
        if seed is not None:
            accounts = DEMO_ACCOUNTS if seed == "demo" else (LARGE_ACCOUNT,)
            if emu.account(accounts[0]["partner_id"]) is None:
                counts = emu.seed_demo() if seed == "demo" else emu.seed_large(seed_size, views)
                click.echo(f"seeded {seed} data: {counts}", err=True)
            else:
                click.echo(f"{seed} data already present; not seeding again", err=True)
            for account in accounts:
                click.echo(
                    f"account: BAIJIAYUN_PARTNER_ID={account['partner_id']} "
                    f"BAIJIAYUN_PARTNER_KEY='{account['partner_key']}' "
                    f"BAIJIAYUN_BASE_URL=http://{host}:{port}",
                    err=True,
                )
        shown = f"[{host}]" if ":" in host else host
        click.echo(
            f"emulator on http://{shown}:{port} (database {emu!r}); Ctrl-C stops it", err=True
        )
        click.echo(f"console: http://{shown}:{port}/_emulator/console", err=True)
        run(emu, host, port, workers=workers)
    finally:
        emu.close()
