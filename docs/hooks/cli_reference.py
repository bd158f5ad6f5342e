"""MkDocs hook: expand ``::: mkdocs-click`` blocks over the CLI's whole command tree.

mkdocs-click lists a group's subcommands from ``group.commands`` when that dict is not empty, so a
lazily loading group (whose ``commands`` holds only what was imported so far) would lose commands.
Here the tree is resolved first through click's own API (``list_commands`` and ``get_command``,
which every group, lazy or not, answers), into copies whose ``commands`` are complete; mkdocs-click
then renders those copies exactly as it renders any command. The originals are not changed.
"""

from __future__ import annotations

import copy
import importlib
import re
from typing import Any

import click
from mkdocs_click._docs import make_command_docs  # the renderer; mkdocs-click is pinned

_BLOCK = re.compile(r"^::: mkdocs-click[ \t]*\n((?:[ \t]+:[^\n]*\n?)*)", re.M)
_OPTION = re.compile(r"^\s+:(?P<key>[^:]+):(?:\s+(?P<value>.*\S))?")


def resolved(command: click.Command, parent: click.Context | None = None) -> click.Command:
    """A copy of ``command`` whose groups list every subcommand in ``commands``, recursively."""
    if not isinstance(command, click.Group):
        return command
    ctx = click.Context(command, info_name=command.name, parent=parent)
    clone = copy.copy(command)
    children = {}
    for name in command.list_commands(ctx):
        child = command.get_command(ctx, name)
        if child is None:
            raise click.ClickException(f"command {name!r} is listed but cannot be loaded")
        children[name] = resolved(child, ctx)
    clone.commands = children
    return clone


def _options(block: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for line in block.splitlines():
        match = _OPTION.match(line)
        if match:
            value: Any = match.group("value") or ""
            if value.lower() in ("true", "false"):
                value = value.lower() == "true"
            options[match.group("key")] = value
    return options


def render(options: dict[str, Any]) -> str:
    """The Markdown for one block's options (``module``, ``command``, then mkdocs-click's own)."""
    module = importlib.import_module(options["module"])
    command = getattr(module, options["command"])
    lines = make_command_docs(
        prog_name=options.get("prog_name") or command.name or options["command"],
        command=resolved(command),
        depth=int(options.get("depth", 0)),
        style=options.get("style", "plain"),
        remove_ascii_art=bool(options.get("remove_ascii_art", False)),
        show_hidden=bool(options.get("show_hidden", False)),
        list_subcommands=bool(options.get("list_subcommands", False)),
        has_attr_list=True,
    )
    return "\n".join(lines) + "\n"


def expand(markdown: str) -> str:
    """Replace every ``::: mkdocs-click`` block of a page by the documentation it names."""
    return _BLOCK.sub(lambda match: render(_options(match.group(1))), markdown)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs event: expand the blocks before the page is converted to HTML."""
    return expand(markdown)
