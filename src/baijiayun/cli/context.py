"""What every command shares: global options, their precedence, the client, and error mapping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from ..config import CLIENT_SETTINGS, ENVIRONMENT, from_environment
from ..errors import (
    APIConnectionError,
    BaiJiaYunError,
    DryRunRequest,
    InvalidArgumentError,
)
from .output import FORMATS, pick_format
from .progress import Status

if TYPE_CHECKING:
    from ..client import BaiJiaYunClient
    from ..client.api.playback import PlayBack
    from ..ratelimit import Governor

__all__ = [
    "ASCII_INT",
    "EXIT_API_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_STORAGE",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "AsciiIntRange",
    "Command",
    "Group",
    "LocalCommand",
    "MissingExtra",
    "Settings",
    "global_options",
    "pass_settings",
    "require_extra",
]

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_STORAGE = 4
"""Local storage failed mid-run (the mirror's database: disk full, read-only, gone)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C: 128 + SIGINT, as shells report it."""


_TYPED = "baijiayun.typed"
"""Key in the root context's ``meta``: global options the user typed, by name."""

_FROM_ENVIRONMENT = (*CLIENT_SETTINGS, "profile", "rate_limit")
"""The global options a ``BAIJIAYUN_*`` variable gives (the table: :mod:`baijiayun.config`)."""


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Record a global option the user typed; later (subcommand) spellings win."""
    if param.name and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        ctx.find_root().meta.setdefault(_TYPED, {})[param.name] = value
    return value


def _ascii_digits(value: object) -> bool:
    return not isinstance(value, str) or value.strip().lstrip("+-").isascii()


class AsciiInt(click.types.IntParamType):
    """An integer written in ASCII digits (the service refuses other digits, so do we)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not _ascii_digits(value):
            self.fail(f"{value!r} is not an integer in ASCII digits", param, ctx)
        return super().convert(value, param, ctx)


class AsciiIntRange(click.IntRange):
    """``click.IntRange`` for integers written in ASCII digits."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not _ascii_digits(value):
            self.fail(f"{value!r} is not an integer in ASCII digits", param, ctx)
        return super().convert(value, param, ctx)


ASCII_INT = AsciiInt()


def _global(*decls: str, **attrs: Any) -> click.Option:
    return click.Option(list(decls), expose_value=False, callback=_remember, **attrs)


def _global_params() -> list[click.Option]:
    return [
        _global("--partner-id", type=ASCII_INT, help="Account id (BAIJIAYUN_PARTNER_ID)."),
        _global("--partner-key", help="Signing key (BAIJIAYUN_PARTNER_KEY); never echoed."),
        _global(
            "--secret-key", help="Fetch the partner key with this secret (BAIJIAYUN_SECRET_KEY)."
        ),
        _global("--private-domain", help="Account domain (BAIJIAYUN_PRIVATE_DOMAIN)."),
        _global("--base-url", help="API base URL, e.g. an emulator (BAIJIAYUN_BASE_URL)."),
        _global("--profile", help="Named profile of the config file (BAIJIAYUN_PROFILE)."),
        _global(
            "--timeout",
            type=click.FloatRange(min=0.1),
            help="Deadline of each API call in seconds, its retries included [10].",
        ),
        _global("--max-retries", type=AsciiIntRange(min=0), help="Retries of a failed call [2]."),
        _global(
            "--rate-limit",
            metavar="CALLS/SECONDS",
            help="The account's call budget, shared by every process on this machine (or through "
            "BAIJIAYUN_REDIS_URL), or 'off' (BAIJIAYUN_RATE_LIMIT) [200/10].",
        ),
        _global(
            "-o",
            "--output",
            type=click.Choice(FORMATS),
            help="Output format (default: table on a terminal, else json).",
        ),
        _global(
            "--dry-run",
            is_flag=True,
            help="Print the request that would be sent (sign masked); send nothing.",
        ),
    ]


C = TypeVar("C", bound=click.Command)


def global_options(command: C) -> C:
    """Accept the global options on ``command`` too (listed after its own), so they may follow it.

    Options ``command`` already has (by name) are left as they are, so applying it twice is harmless.
    """
    have = {param.name for param in command.params}
    if not have.issuperset(GLOBAL_NAMES):
        command.params.extend(p for p in _global_params() if p.name not in have)
    return command


GLOBAL_NAMES = frozenset(
    {
        *("partner_id", "partner_key", "secret_key", "private_domain", "base_url", "profile"),
        *("timeout", "max_retries", "rate_limit", "output", "dry_run"),
    }
)
"""The names of the global options (so that applying them twice builds nothing)."""


@dataclass
class Settings:
    """The global options resolved: typed option > typed ``--profile`` > environment > profile.

    Nothing is read until :meth:`resolve` (the first command that needs it).
    """

    typed: dict[str, Any] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict, repr=False)
    partner_id: int | None = None
    partner_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    private_domain: str | None = None
    base_url: str | None = None
    timeout: float = 10.0
    max_retries: int = 2
    output: str | None = None
    dry_run: bool = False
    rate_limit: str = "200/10"
    sources: dict[str, str] = field(default_factory=dict)
    _resolved: bool = field(default=False, repr=False)
    _client: BaiJiaYunClient | None = field(default=None, repr=False)
    _status: Status | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("partner_id", "private_domain", "base_url", "output", "dry_run")
        )
        keys = ", ".join(
            f"{name}={'***' if getattr(self, name) else None}"
            for name in ("partner_key", "secret_key")
        )
        return f"Settings({shown}, {keys})"

    def resolve(self) -> Settings:
        """Merge typed options, the environment and the profile (once)."""
        if self._resolved:
            return self
        self._resolved = True
        typed = {k: v for k, v in self.typed.items() if v is not None}
        env: dict[str, Any] = from_environment(self.environ, _FROM_ENVIRONMENT)
        profile_name = typed.get("profile") or env.get("profile")
        from .config import load_profile  # pathlib and TOML: not needed for --help

        profile = load_profile(profile_name, environ=self.environ)
        where = f"profile {profile_name or 'default'!r}"
        layers: list[tuple[str, dict[str, Any]]] = [("typed", typed)]
        if "profile" in typed:
            layers += [(where, profile), ("environment", env)]
        else:
            layers += [("environment", env), (where, profile)]
        for name in (
            "partner_id",
            "partner_key",
            "secret_key",
            "timeout",
            "max_retries",
            "rate_limit",
        ):
            self._take(name, layers)
        for name in ("output", "dry_run"):
            if name in typed:
                setattr(self, name, typed[name])
        self._take_location(layers)
        return self

    def _source_text(self, layer: str, name: str) -> str:
        if layer == "environment":
            return ENVIRONMENT[name]
        return layer

    def _take(self, name: str, layers: list[tuple[str, dict[str, Any]]]) -> None:
        for layer, values in layers:
            if name not in values:
                continue
            value = values[name]
            if layer != "typed":
                self.sources[name] = self._source_text(layer, name)
            if name == "partner_id" and (isinstance(value, bool) or not isinstance(value, int)):
                value = self._integer(name, value)
            setattr(self, name, value)
            return

    def _integer(self, name: str, value: Any) -> int:
        text = str(value).strip()
        if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
            raise click.BadParameter(
                f"{value!r} is not an integer (from {self.sources[name]})",
                param_hint="'--" + name.replace("_", "-") + "'",
            )
        return int(text)

    def _take_location(self, layers: list[tuple[str, dict[str, Any]]]) -> None:
        """``base_url`` and ``private_domain`` name one host: the first layer with either wins."""
        for layer, values in layers:
            found = {k: values[k] for k in ("base_url", "private_domain") if k in values}
            if found:
                for name, value in found.items():
                    setattr(self, name, value)
                    if layer != "typed":
                        self.sources[name] = self._source_text(layer, name)
                return

    def format(self) -> str:
        """The output format in force."""
        return pick_format(self.resolve().output)

    def status(self) -> Status:
        """Where this command shows progress and waits for the account limit."""
        if self._status is None:
            self._status = Status()
        return self._status

    def budget(self) -> tuple[int, float] | None:
        """``--rate-limit`` as (calls, seconds), or None when it is off."""
        text = str(self.resolve().rate_limit).strip().lower()
        if text in ("off", "none", "0"):
            return None
        calls, _, seconds = text.partition("/")
        try:
            budget = int(calls), float(seconds)
        except ValueError:
            budget = (0, 0.0)
        if budget[0] < 1 or not 0 < budget[1] < float("inf"):
            where = _where(self, "rate_limit")
            raise click.BadParameter(
                f"{self.rate_limit!r} is not CALLS/SECONDS (e.g. 200/10) or 'off'{where}",
                param_hint="'--rate-limit'",
            )
        return budget

    def governor(self) -> Governor | None:
        """The account's budget, one per machine: a :class:`~baijiayun.FileRateGovernor` in the
        user cache dir keyed by partner_id, or a :class:`~baijiayun.RedisRateGovernor` on the
        account's default key when ``BAIJIAYUN_REDIS_URL`` is set (so apps share it). Nothing
        is opened until the first call."""
        budget = self.budget()
        if budget is None:
            return None
        calls, period = budget
        redis_url = from_environment(self.environ, ("redis_url",)).get("redis_url")
        if redis_url:
            from ..ratelimit.redis import RedisRateGovernor

            return RedisRateGovernor(
                redis_url, partner_id=self.partner_id, calls=calls, period=period
            )
        from ..ratelimit.file import FileRateGovernor, default_path

        return FileRateGovernor(
            str(self.partner_id), path=default_path(self.environ), calls=calls, period=period
        )

    def client(self) -> BaiJiaYunClient:
        """The SDK client, built on first use and closed when the command ends."""
        if self._client is None:
            from ..client import BaiJiaYunClient

            self.resolve()
            self._client = BaiJiaYunClient(  # the environment was read in resolve(), in order
                self.partner_id,
                self.partner_key,
                secret_key=self.secret_key,
                private_domain=self.private_domain,
                base_url=self.base_url,
                trust_env=False,
                timeout=self.timeout,
                max_retries=self.max_retries,
                dry_run=self.dry_run,
                rate_limit=self.governor() if self.partner_id is not None else None,
                on_wait=self.status().on_wait,
            )
            click.get_current_context().call_on_close(self._client.close)
        return self._client

    def playback(self) -> PlayBack:
        """The PlayBack API of the client."""
        return self.client().playback


pass_settings = click.make_pass_decorator(Settings)


class MissingExtra(click.ClickException):
    """A command needs an optional part of the package that is not installed (exit 2)."""

    exit_code = EXIT_USAGE

    def __init__(self, extra: str, what: str) -> None:
        super().__init__(f"{what} needs the {extra!r} extra: pip install 'baijiayun[{extra}]'")


def require_extra(extra: str, what: str, *modules: str) -> None:
    """Raise :class:`MissingExtra` unless every module in ``modules`` can be imported."""
    from importlib.util import find_spec

    if any(find_spec(module) is None for module in modules):
        raise MissingExtra(extra, what)


def _where(settings: Settings, name: str) -> str:
    source = settings.sources.get(name)
    return f" (from {source})" if source else ""


def _bad_argument(ctx: click.Context, settings: Settings, error: InvalidArgumentError) -> NoReturn:
    """Re-raise the SDK's refusal naming the option or ARGUMENT that carried the value."""
    for param in ctx.command.params:
        if param.name == error.argument:
            hint = (
                f"'{param.human_readable_name}'"
                if isinstance(param, click.Argument)
                else param.get_error_hint(ctx)
            )
            raise click.BadParameter(
                error.problem + _where(settings, error.argument), ctx=ctx, param_hint=hint
            )
    raise click.UsageError(f"invalid {error.argument}: {error.problem}", ctx=ctx)


def _host_of(url: str | None) -> str:
    if not url:
        return "the service"
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port out of range: the URL as given says it best
        return url
    return f"{parts.hostname}:{port}"


class Command(click.Command):
    """A command whose SDK errors become exit codes: 1 API error, 2 bad usage, 3 unreachable.

    ``--dry-run`` ends in the client's :class:`~baijiayun.DryRunRequest`, printed as JSON. It
    takes the global options, so they may follow it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        global_options(self)

    def settings_of(self, ctx: click.Context) -> Settings | None:
        """The settings this command runs with."""
        return ctx.find_object(Settings)

    def invoke(self, ctx: click.Context) -> Any:
        settings = self.settings_of(ctx)
        self.refuse_client_options(ctx)
        try:
            return super().invoke(ctx)
        except DryRunRequest as shown:
            request = {"method": shown.request.method, "url": str(shown.request.url)}
            import json

            click.echo(json.dumps({**request, "form": shown.form}, ensure_ascii=False))
            return None
        except InvalidArgumentError as error:
            _bad_argument(ctx, settings or Settings(), error)
        except APIConnectionError as error:
            url = settings._client.base_url if settings and settings._client else None
            if error.outcome_unknown:
                click.echo(
                    f"Error: no answer from {_host_of(url)}, so the outcome is unknown: the call "
                    f"may have arrived and been applied; check before sending it again: {error}",
                    err=True,
                )
            else:
                click.echo(f"Error: cannot reach {_host_of(url)}: {error}", err=True)
            ctx.exit(EXIT_UNREACHABLE)
        except BaiJiaYunError as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(EXIT_API_ERROR)

    makes_api_calls = True
    """False for a command that calls no API: client options given to it are refused."""

    client_option_hint = ""
    """For such a command: what the user may have meant instead, appended to the refusal."""

    def refuse_client_options(self, ctx: click.Context) -> None:
        """Exit 2 if a client option (``--rate-limit``…) was typed for a command that calls no API.

        Silently ignoring it would let a user believe it took effect.
        """
        if self.makes_api_calls:
            return
        typed = ctx.find_root().meta.get(_TYPED, {})
        given = [name for name in CLIENT_OPTIONS if typed.get(name) is not None]
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            raise click.UsageError(
                f"{options} configures the API client, and '{ctx.command_path}' makes no API "
                f"call{self.client_option_hint}",
                ctx=ctx,
            )


class LocalCommand(Command):
    """A :class:`Command` that calls no API (the emulator, the demo, a callback check)."""

    makes_api_calls = False


CLIENT_OPTIONS = ("rate_limit", "timeout", "max_retries", "dry_run")
"""Global options that only concern API calls."""


class Group(click.Group):
    """A group whose commands are :class:`Command` and whose subgroups are :class:`Group`.

    The group takes the global options too, so they may also stand between it and its command
    (``baijiayun playback -o csv info 1``).
    """

    command_class = Command

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        global_options(self)


Group.group_class = Group
