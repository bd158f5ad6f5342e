"""The click commands: options -> SDK call -> output; errors -> exit codes 1, 2 and 3."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import _endpoints as ep
from ..errors import APIConnectionError, BaiJiaYunError, InvalidArgumentError
from .config import load_profile
from .output import FORMATS, emit, pick_format

if TYPE_CHECKING:
    from ..client import BaiJiaYunClient
    from ..client.api.playback import PlayBack

EXIT_API_ERROR = 1
EXIT_UNREACHABLE = 3


@dataclass
class Settings:
    """What the global options, the environment and the profile resolved to."""

    partner_id: int | None = None
    partner_key: str | None = None
    secret_key: str | None = None
    private_domain: str | None = None
    base_url: str | None = None
    timeout: float = 10.0
    max_retries: int = 2
    output: str | None = None
    dry_run: bool = False
    _client: BaiJiaYunClient | None = field(default=None, repr=False)

    @property
    def fmt(self) -> str:
        """The output format in force."""
        return pick_format(self.output)

    def client(self) -> BaiJiaYunClient:
        """The SDK client, built on first use and closed when the command ends."""
        if self._client is None:
            from ..client import BaiJiaYunClient

            if self.partner_id is None:
                raise click.UsageError(
                    "missing --partner-id (or BAIJIAYUN_PARTNER_ID, or a profile)"
                )
            if not self.partner_key and not self.secret_key:
                raise click.UsageError(
                    "missing --partner-key (or BAIJIAYUN_PARTNER_KEY, or a profile)"
                )
            if not self.private_domain and not self.base_url:
                raise click.UsageError(
                    "missing --private-domain or --base-url (or BAIJIAYUN_PRIVATE_DOMAIN)"
                )
            self._client = BaiJiaYunClient(
                self.partner_id,
                self.partner_key,
                secret_key=self.secret_key,
                private_domain=self.private_domain,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
            click.get_current_context().call_on_close(self._client.close)
        return self._client

    def playback(self) -> PlayBack:
        """The PlayBack API of the client."""
        return self.client().playback

    def show_request(self, endpoint: ep.Endpoint, arguments: dict[str, Any]) -> None:
        """--dry-run: print the request that would be sent, with the sign masked."""
        from .. import _core

        form = _core.build_params(endpoint, arguments)
        client = self.client()
        form.update(partner_id=str(client.partner_id), timestamp="<now>", sign="***")
        shown = {"method": "POST", "url": client.url_for(endpoint), "form": form}
        click.echo(json.dumps(shown, ensure_ascii=False))


pass_settings = click.make_pass_decorator(Settings)


def _option_name(argument: str) -> str:
    return "--" + argument.replace("_", "-")


class _Cli(click.Group):
    """Maps SDK errors to exit codes: 1 API error, 2 bad usage, 3 service unreachable."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidArgumentError as error:
            raise click.UsageError(
                f"invalid value for {_option_name(error.argument)}: {error.problem}"
            ) from None
        except APIConnectionError as error:
            click.echo(f"Error: cannot reach the service: {error}", err=True)
            ctx.exit(EXIT_UNREACHABLE)
        except BaiJiaYunError as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(EXIT_API_ERROR)


@click.group(cls=_Cli)
@click.option(
    "--partner-id",
    type=int,
    envvar="BAIJIAYUN_PARTNER_ID",
    help="Account id (BAIJIAYUN_PARTNER_ID).",
)
@click.option(
    "--partner-key",
    envvar="BAIJIAYUN_PARTNER_KEY",
    help="Signing key (BAIJIAYUN_PARTNER_KEY); never echoed.",
)
@click.option(
    "--secret-key",
    envvar="BAIJIAYUN_SECRET_KEY",
    help="Fetch the partner key with this secret instead.",
)
@click.option(
    "--private-domain",
    envvar="BAIJIAYUN_PRIVATE_DOMAIN",
    help="Account domain (BAIJIAYUN_PRIVATE_DOMAIN).",
)
@click.option(
    "--base-url",
    envvar="BAIJIAYUN_BASE_URL",
    help="API base URL, e.g. an emulator (BAIJIAYUN_BASE_URL).",
)
@click.option("--profile", envvar="BAIJIAYUN_PROFILE", help="Named profile of the config file.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds per request.",
)
@click.option("--max-retries", type=click.IntRange(min=0), default=2, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Choice(FORMATS),
    help="Output format (default: table on a terminal, else json).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the request that would be sent (sign masked); send nothing.",
)
@click.version_option(package_name="baijiayun")
@click.pass_context
def cli(ctx: click.Context, /, profile: str | None, **options: Any) -> None:
    """BaijiaYun (百家云) playback OpenAPI from the command line."""
    settings = Settings(**options)
    for key, value in load_profile(profile).items():
        if getattr(settings, key) is None:
            setattr(settings, key, int(value) if key == "partner_id" else value)
    ctx.obj = settings


@cli.group()
def playback() -> None:
    """回放: list, inspect, tokens, publish/block, rename, delete, versions, PDFs."""


_SESSION = click.option("--session-id", type=int, help="序列号 (long-term rooms).")


def _send(
    settings: Settings, endpoint: ep.Endpoint, arguments: dict[str, Any], action: Callable[[], Any]
) -> Any:
    """Dry-run or perform one call."""
    if settings.dry_run:
        settings.show_request(endpoint, arguments)
        return None
    return action()


def _write(
    settings: Settings,
    endpoint: ep.Endpoint,
    arguments: dict[str, Any],
    action: Callable[[], object],
    done: str,
) -> None:
    """Dry-run or perform a call that returns nothing, then say what was done."""
    if settings.dry_run:
        settings.show_request(endpoint, arguments)
        return
    action()
    click.echo(done, err=True)


def _pages(fetch: Callable[[int], Any], page_size: int, label: str) -> Iterator[Any]:
    """Every item of a paged listing, with a progress bar on stderr."""
    from rich.console import Console
    from rich.progress import Progress

    from ..pagination import pages

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None)
        for page in pages(fetch, page_size):
            progress.update(task, total=page.total, advance=len(page.items))
            yield from page.items


@playback.command("list")
@click.option(
    "--product-type", type=click.IntRange(1, 4), help="1 教育直播, 2 小班课, 3 双师, 4 企业直播."
)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--crops", is_flag=True, help="Include crop versions (crop_video=1).")
@click.option("--room-id", type=int, help="Only this room.")
@click.option("--all", "all_pages", is_flag=True, help="Page through everything.")
@pass_settings
def list_(
    settings: Settings,
    product_type: int | None,
    page: int,
    page_size: int,
    crops: bool,
    room_id: int | None,
    all_pages: bool,
) -> None:
    """获取回放列表: playbacks, newest first."""
    args = {
        "product_type": product_type,
        "page": page,
        "page_size": page_size,
        "crop_video": int(crops),
        "room_id": room_id,
    }
    if settings.dry_run:
        settings.show_request(ep.GET_LIST, args)
        return
    pb = settings.playback()
    if all_pages:
        items = list(
            _pages(
                lambda p: pb.get_list(product_type, p, page_size, int(crops), room_id),
                page_size,
                "listing playbacks",
            )
        )
        emit(items, settings.fmt, title=f"{len(items)} playbacks")
        return
    result = pb.get_list(product_type, page, page_size, int(crops), room_id)
    emit(
        result.items,
        settings.fmt,
        title=f"page {page}: {len(result.items)} of {result.total} playbacks",
    )


@playback.command()
@click.argument("room_id", type=int)
@_SESSION
@pass_settings
def info(settings: Settings, room_id: int, session_id: int | None) -> None:
    """查询直播回放信息: status, media and publish state of one playback."""
    args = {"room_id": room_id, "session_id": session_id}
    result = _send(
        settings,
        ep.GET_BASIC_INFO,
        args,
        lambda: settings.playback().get_basic_info(room_id, session_id),
    )
    if result is not None:
        emit(result, settings.fmt, title=f"playback of room {room_id}")


@playback.command()
@click.argument("room_id", type=int)
@pass_settings
def sessions(settings: Settings, room_id: int) -> None:
    """获取长期房间的序列号列表: the sessions of a long-term room."""
    result = _send(
        settings,
        ep.GET_SESSION_LIST,
        {"room_id": room_id},
        lambda: settings.playback().get_session_list(room_id),
    )
    if result is not None:
        emit(result.items, settings.fmt, title=f"sessions of room {room_id}")


@playback.command()
@click.argument("room_id", type=int)
@_SESSION
@click.option("--product-type", type=click.IntRange(1, 4))
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--all", "all_pages", is_flag=True, help="Page through everything.")
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
    args = {
        "room_id": room_id,
        "product_type": product_type,
        "session_id": session_id,
        "page": page,
        "page_size": page_size,
    }
    if settings.dry_run:
        settings.show_request(ep.GET_CROP_LIST, args)
        return
    pb = settings.playback()
    if all_pages:
        items = list(
            _pages(
                lambda p: pb.get_crop_list(room_id, product_type, session_id, p, page_size),
                page_size,
                "listing versions",
            )
        )
    else:
        items = pb.get_crop_list(room_id, product_type, session_id, page, page_size).items
    emit(items, settings.fmt, title=f"versions of room {room_id}")


_EXPIRES = click.option(
    "--expires-in",
    type=click.IntRange(min=0),
    default=3600,
    show_default=True,
    help="Token lifetime in seconds; 0 = never expires.",
)


@playback.command()
@click.argument("room_id", type=int)
@_SESSION
@_EXPIRES
@pass_settings
def token(settings: Settings, room_id: int, session_id: int | None, expires_in: int) -> None:
    """获取回放token: a player token for one playback."""
    args = {"room_id": room_id, "expires_in": expires_in, "session_id": session_id}
    result = _send(
        settings,
        ep.GET_PLAYER_TOKEN,
        args,
        lambda: settings.playback().get_player_token(room_id, expires_in, session_id),
    )
    if result is not None:
        emit(result, settings.fmt)


def _read_ids(ids: tuple[str, ...], file: Path | None) -> list[str]:
    raw: list[str] = list(ids)
    if file is not None:
        raw += file.read_text(encoding="utf-8").split()
    if not raw and not sys.stdin.isatty():
        raw += sys.stdin.read().split()
    entries = [part for item in raw for part in item.split(",") if part]
    if not entries:
        raise click.UsageError("give room ids as arguments, with --file, or on stdin")
    return entries


@playback.command()
@click.argument("ids", nargs=-1)
@click.option(
    "--file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ids, one per line.",
)
@_EXPIRES
@pass_settings
def tokens(settings: Settings, ids: tuple[str, ...], file: Path | None, expires_in: int) -> None:
    """批量获取回放token: ids are ROOM or ROOM-SESSION, from arguments, --file or stdin."""
    from ..client.api.playback import batch_entries, merge_token_batch

    entries = batch_entries(_read_ids(ids, file))
    chunks = [
        ",".join(entries[i : i + ep.MAX_BATCH_IDS])
        for i in range(0, len(entries), ep.MAX_BATCH_IDS)
    ]
    if settings.dry_run:
        for chunk in chunks:
            settings.show_request(
                ep.GET_PLAYER_TOKEN_BATCH, {"room_ids": chunk, "expires_in": expires_in}
            )
        return
    from rich.console import Console
    from rich.progress import Progress

    client = settings.client()
    found: dict[str, str] = {}
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("issuing tokens", total=len(entries))
        for chunk in chunks:
            data = client.request(
                ep.GET_PLAYER_TOKEN_BATCH, {"room_ids": chunk, "expires_in": expires_in}
            )
            merge_token_batch(data, found)
            progress.update(task, advance=chunk.count(",") + 1)
    emit(
        [{"id": key, "token": value} for key, value in found.items()],
        settings.fmt,
        title=f"{len(found)} tokens",
    )


def _publish(settings: Settings, room_id: int, session_id: int | None, status: int) -> None:
    args = {"room_id": room_id, "status": status, "session_id": session_id}
    result = _send(
        settings,
        ep.SET_PUBLISH_STATUS,
        args,
        lambda: settings.playback().set_publish_status(room_id, status, session_id),
    )
    if result is not None:
        emit(result, settings.fmt)


_YES = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


def _confirm(settings: Settings, yes: bool, question: str) -> None:
    if not yes and not settings.dry_run:
        click.confirm(question, abort=True, err=True)


@playback.command()
@click.argument("room_id", type=int)
@_SESSION
@pass_settings
def publish(settings: Settings, room_id: int, session_id: int | None) -> None:
    """设置回放发布状态: publish (status 1)."""
    _publish(settings, room_id, session_id, 1)


@playback.command()
@click.argument("room_id", type=int)
@_SESSION
@_YES
@pass_settings
def block(settings: Settings, room_id: int, session_id: int | None, yes: bool) -> None:
    """设置回放发布状态: block (屏蔽, status 2); viewers can no longer play it."""
    _confirm(settings, yes, f"Block the playback of room {room_id}?")
    _publish(settings, room_id, session_id, 2)


@playback.command()
@click.argument("room_id", type=int)
@click.argument("name")
@_SESSION
@pass_settings
def rename(settings: Settings, room_id: int, name: str, session_id: int | None) -> None:
    """更新回放名称: rename a playback."""
    args = {"room_id": room_id, "name": name, "session_id": session_id}
    _write(
        settings,
        ep.UPDATE,
        args,
        lambda: settings.playback().update(room_id, name, session_id),
        f"renamed the playback of room {room_id} to {name!r}",
    )


@playback.command()
@click.argument("room_id", type=int)
@_SESSION
@click.option("--version", type=click.IntRange(min=0), help="Only this crop version.")
@_YES
@pass_settings
def delete(
    settings: Settings, room_id: int, session_id: int | None, version: int | None, yes: bool
) -> None:
    """删除回放: delete a playback (every version) or one crop version."""
    what = f"version {version} of " if version is not None else ""
    _confirm(settings, yes, f"Delete {what}the playback of room {room_id}? This cannot be undone")
    args = {"room_id": room_id, "session_id": session_id, "version": version}
    _write(
        settings,
        ep.DELETE,
        args,
        lambda: settings.playback().delete(room_id, session_id, version),
        f"deleted {what}the playback of room {room_id}",
    )


@playback.command("set-main")
@click.argument("room_id", type=int)
@click.argument("version", type=click.IntRange(min=0))
@_SESSION
@pass_settings
def set_main(settings: Settings, room_id: int, version: int, session_id: int | None) -> None:
    """设置回放主版本: choose the version that plays by default."""
    args = {"room_id": room_id, "version": version, "session_id": session_id}
    _write(
        settings,
        ep.SET_MAIN_VERSION,
        args,
        lambda: settings.playback().set_main_version(room_id, version, session_id),
        f"version {version} is now the main version of room {room_id}",
    )


@playback.command()
@click.argument("source_room_id", type=int)
@click.argument("target_room_id", type=int)
@click.option(
    "--type",
    "kind",
    type=click.Choice(["replace", "add"]),
    required=True,
    help="replace (1): overwrite the target version; add (2): add the source as a new version.",
)
@click.option("--source-session-id", type=int)
@click.option("--source-version", type=click.IntRange(min=0))
@click.option("--target-session-id", type=int)
@click.option("--target-version", type=click.IntRange(min=0))
@click.option(
    "--main/--no-main", "make_main", default=None, help="Make the result the main version."
)
@_YES
@pass_settings
def replace(
    settings: Settings,
    source_room_id: int,
    target_room_id: int,
    kind: str,
    source_session_id: int | None,
    source_version: int | None,
    target_session_id: int | None,
    target_version: int | None,
    make_main: bool | None,
    yes: bool,
) -> None:
    """替换回放: the source playback replaces (or is added to) the target."""
    _confirm(
        settings,
        yes,
        f"{kind.capitalize()} the playback of room {target_room_id} from room {source_room_id}?",
    )
    args = {
        "type": 1 if kind == "replace" else 2,
        "source_room_id": source_room_id,
        "target_room_id": target_room_id,
        "source_session_id": source_session_id,
        "source_version": source_version,
        "is_replace_main": None if make_main is None else int(make_main),
        "target_session_id": target_session_id,
        "target_version": target_version,
    }
    _write(
        settings,
        ep.REPLACE_PLAYBACK,
        args,
        lambda: settings.client().request(ep.REPLACE_PLAYBACK, args),
        f"{kind}d: room {source_room_id} -> room {target_room_id}",
    )


@playback.command("ppt-urls")
@click.argument("room_id", type=int)
@click.option("--date", help="Only this day, YYYY-MM-DD.")
@pass_settings
def ppt_urls(settings: Settings, room_id: int, date: str | None) -> None:
    """获取ppt转成的pdf的路径列表: the PDFs of a room's slides."""
    result = _send(
        settings,
        ep.GET_PLAYBACK_PPT_URL_LIST,
        {"room_id": room_id, "date": date},
        lambda: settings.playback().get_playback_ppt_url_list(room_id, date),
    )
    if result is not None:
        emit(result.items, settings.fmt, title=f"slide PDFs of room {room_id}")


@playback.command("ppt-url")
@click.argument("room_id", type=int)
@_SESSION
@pass_settings
def ppt_url(settings: Settings, room_id: int, session_id: int | None) -> None:
    """获取ppt转成的pdf具体路径: the PDFs of one room/session."""
    result = _send(
        settings,
        ep.GET_PLAYBACK_PPT_URL,
        {"room_id": room_id, "session_id": session_id},
        lambda: settings.playback().get_playback_ppt_url(room_id, session_id),
    )
    if result is not None:
        emit(result.items, settings.fmt, title=f"slide PDFs of room {room_id}")


@playback.command("player-url")
@click.argument("room_id", type=int)
@_SESSION
@click.option("--token", "given_token", help="Use this token instead of fetching one.")
@_EXPIRES
@click.option("--user-number", type=int)
@click.option("--user-name")
@pass_settings
def player_url(
    settings: Settings,
    room_id: int,
    session_id: int | None,
    given_token: str | None,
    expires_in: int,
    user_number: int | None,
    user_name: str | None,
) -> None:
    """The web playback page URL (fetches a token unless --token is given)."""
    if given_token is None:
        args = {"room_id": room_id, "expires_in": expires_in, "session_id": session_id}
        result = _send(
            settings,
            ep.GET_PLAYER_TOKEN,
            args,
            lambda: settings.playback().get_player_token(room_id, expires_in, session_id),
        )
        if result is None:
            return
        given_token = result.token
    url = settings.playback().player_url(
        room_id, given_token, session_id, user_number=user_number, user_name=user_name
    )
    click.echo(url)


@cli.group()
def callback() -> None:
    """Callbacks BaijiaYun posts to your server."""


@callback.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option(
    "--max-skew",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Allowed timestamp age in seconds; 0 turns the check off.",
)
@pass_settings
def verify(settings: Settings, source: Any, max_skew: int) -> None:
    """Check a callback body (form-encoded or a JSON object) from a file or stdin."""
    from ..callbacks import parse_transcode_callback, verify_callback
    from ..errors import CallbackVerificationError

    if not settings.partner_key:
        raise click.UsageError("missing --partner-key (or BAIJIAYUN_PARTNER_KEY, or a profile)")
    text = source.read().strip()
    body: Any = text
    if text.startswith("{"):
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise click.UsageError(f"the body looks like JSON but is not: {exc}") from None
    try:
        fields = verify_callback(body, settings.partner_key, max_skew=max_skew or None)
    except CallbackVerificationError as error:
        click.echo(f"invalid: {error}")
        sys.exit(EXIT_API_ERROR)
    kind = "transcode" if "video_id" in fields else "class" if "op" in fields else "unknown"
    click.echo(f"valid {kind} callback (qid {fields.get('qid', '?')})")
    if kind == "transcode":
        emit(parse_transcode_callback(fields, settings.partner_key, max_skew=None), settings.fmt)


@cli.group()
def emulator() -> None:
    """The local BaijiaYun playback emulator."""


@emulator.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--database",
    default="sqlite:///baijiayun-emulator.sqlite3",
    show_default=True,
    help="SQLAlchemy URL: a SQLite file, or postgresql://user@host/db.",
)
@click.option(
    "--seed", type=click.Choice(["demo"]), help="Load the demo data set into an empty database."
)
@click.option(
    "--rate-limit",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Calls per 10 s per account; 0 = no limit.",
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
    rate_limit: int,
    timestamp_window: int,
    debug_signatures: bool,
    lifecycle_delays: str,
    workers: int,
    redis_url: str | None,
) -> None:
    """Run the emulator on a real port (uvicorn)."""
    from ..emulator import Emulator, EmulatorConfig
    from ..emulator.seed import DEMO_ACCOUNTS, seed_demo
    from ..emulator.server import serve as run

    try:
        first, second, third = (float(part) for part in lifecycle_delays.split(","))
    except ValueError:
        raise click.BadParameter(
            "three comma-separated numbers of seconds, e.g. 2,3,5", param_hint="--lifecycle-delays"
        ) from None
    config = EmulatorConfig(
        lifecycle_delays=(first, second, third),
        rate_limit=rate_limit or None,
        timestamp_window=timestamp_window,
        debug_signatures=debug_signatures,
        redis_url=redis_url,
    )
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        emu = Emulator(database, config)
    except (ArgumentError, OperationalError) as exc:
        problem = str(exc).splitlines()[0]
        raise click.BadParameter(
            f"cannot open {database!r}: {problem}", param_hint="--database"
        ) from None
    if seed == "demo":
        if emu.account(DEMO_ACCOUNTS[0]["partner_id"]) is None:
            counts = seed_demo(emu.state)
            click.echo(f"seeded demo data: {counts}", err=True)
        else:
            click.echo("demo data already present; not seeding again", err=True)
        for account in DEMO_ACCOUNTS:
            click.echo(
                f"account: BAIJIAYUN_PARTNER_ID={account['partner_id']} "
                f"BAIJIAYUN_PARTNER_KEY='{account['partner_key']}' "
                f"BAIJIAYUN_BASE_URL=http://{host}:{port}",
                err=True,
            )
    click.echo(f"emulator on http://{host}:{port} (database {emu!r}); Ctrl-C stops it", err=True)
    try:
        run(emu, host, port, workers=workers)
    finally:
        emu.close()


@cli.command()
@click.option(
    "--wait/--no-wait",
    default=None,
    help="Keep the emulator running at the end until Enter (default: when interactive).",
)
def demo(wait: bool | None) -> None:
    """Walk through all 13 playback operations against a local emulator; no account needed."""
    from .demo import run_demo

    run_demo(wait=sys.stdin.isatty() if wait is None else wait)
