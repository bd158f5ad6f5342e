"""Griffe extension: turn the code's Sphinx roles (``:class:`~x.Y```) into mkdocstrings cross-references.

The docstrings use Sphinx field lists (``:param name:``), which mkdocstrings parses with
``docstring_style: sphinx``, and Sphinx roles inline, which it does not: left alone they would show
as ``:class: ~baijiayun.Governor``. After the package is loaded, each role becomes
``[`Governor`][baijiayun.ratelimit.Governor]`` — a link autorefs checks (a target the site does
not document is a warning, so ``--strict`` fails on it). A name that resolves to nothing in the
package stays plain code and is listed in the extension's ``unresolved``.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Alias, Extension, Module, Object

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|exc|data|obj|const):`(?P<target>[^`]+)`")


def _find(scope: Object | Alias, dotted: str) -> str | None:
    """The canonical path of ``dotted`` looked up from ``scope`` (members, then its parents)."""
    current: Object | Alias | None = scope
    while current is not None:
        try:
            head, _, rest = dotted.partition(".")
            members = getattr(current, "all_members", current.members)  # a class: inherited too
            found = members[head].get_member(rest) if rest else members[head]
        except Exception:  # not there, or an alias to outside the package (httpx, pydantic)
            found = None
        if found is not None:
            try:
                return str(found.final_target.path) if isinstance(found, Alias) else found.path
            except Exception:  # an alias to outside the package (httpx, pydantic): no page of ours
                return None
        current = current.parent
    return None


def _resolve(pkg: Module, obj: Object, target: str) -> tuple[str, str | None]:
    short = target.startswith("~")
    name = target.lstrip("~").lstrip(".").removesuffix("()")
    title = name.rsplit(".", 1)[-1] if short else name
    if name.split(".")[0] == pkg.name:
        path = _find(pkg, name.split(".", 1)[1]) if "." in name else pkg.path
    else:
        path = _find(obj, name) or _find(pkg, name)
    return title, path


def _rewrite(pkg: Module, obj: Object, unresolved: list[tuple[str, str]]) -> None:
    docstring = obj.docstring
    if docstring is None or ":" not in docstring.value:
        return

    def link(match: re.Match[str]) -> str:
        title, path = _resolve(pkg, obj, match.group("target"))
        if path is None:
            unresolved.append((obj.path, match.group("target")))
            return f"`{title}`"
        return f"[`{title}`][{path}]"

    docstring.value = ROLE.sub(link, docstring.value)


def _walk(pkg: Module, obj: Object, unresolved: list[tuple[str, str]]) -> None:
    _rewrite(pkg, obj, unresolved)
    for member in obj.members.values():
        if not isinstance(member, Alias):
            _walk(pkg, member, unresolved)


class SphinxRoles(Extension):
    """Rewrite the roles of every docstring of a package once it is loaded."""

    def __init__(self) -> None:
        self.unresolved: list[tuple[str, str]] = []
        """(object path, role target) of each role that names nothing in the package."""

    def on_package(self, *, pkg: Module, **_: Any) -> None:
        """Griffe event: the whole package is loaded."""
        _walk(pkg, pkg, self.unresolved)
