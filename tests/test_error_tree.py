"""The error trees drawn in ``errors.py`` name every exception class the package defines."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import baijiayun
from baijiayun import errors


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in pkgutil.walk_packages(baijiayun.__path__, "baijiayun."):
        loaded = importlib.import_module(module.name)
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("baijiayun"):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


def _drawn_edges() -> list[tuple[str, str]]:
    """(child, parent) of every class line in the docstring's trees."""
    edges: list[tuple[str, str]] = []
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        root = re.match(r"^    (\w+Error)\s", line)
        node = re.match(r"^    ((?:[│ ]   )*)[├└]── (\w+)", line)
        if root:
            stack = [root.group(1)]
        elif node and stack:
            level = len(node.group(1)) // 4 + 1
            del stack[level:]
            edges.append((node.group(2), stack[-1]))
            stack.append(node.group(2))
    return edges


def test_every_exception_class_is_in_the_drawn_tree() -> None:
    drawn = set(re.findall(r"\w+", errors.__doc__ or ""))
    classes = _exception_classes()
    assert {"BulkJournalError", "MirrorLockedError", "EmulatorError"} <= {
        c.__name__ for c in classes
    }
    missing = sorted(f"{c.__module__}.{c.__name__}" for c in classes if c.__name__ not in drawn)
    assert missing == [], "add these to the trees in errors.py's docstring"


def test_each_class_is_drawn_under_its_parent() -> None:
    bases: dict[str, set[str]] = {}  # by name: SignatureError is the SDK's and the emulator's
    for cls in _exception_classes():
        bases.setdefault(cls.__name__, set()).update(base.__name__ for base in cls.__mro__[1:])
    edges = _drawn_edges()
    assert ("APITimeoutError", "APIConnectionError") in edges
    assert ("BadTransition", "InvalidParameter") in edges
    assert len(edges) > 30
    wrong = [(child, parent) for child, parent in edges if parent not in bases[child]]
    assert wrong == []
