"""Progress on stderr: a rich bar on a terminal, and the "waiting for the account limit" notes."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import click

__all__ = ["QUIET_WAIT", "Status", "wait_message"]

T = TypeVar("T")

QUIET_WAIT = 0.5
"""Without a progress display, shorter waits are not reported (a pipe's reader sees only long ones)."""


def wait_message(seconds: float) -> str:
    """``waiting for the account limit (3.2 s)``."""
    return f"waiting for the account limit ({seconds:.1f} s)"


class Status:
    """Where a command reports progress and waits; one per command run.

    On a terminal a running :meth:`bar` shows the waits in its description; otherwise a wait of
    at least :data:`QUIET_WAIT` seconds is one line on stderr.
    """

    def __init__(self, terminal: bool | None = None) -> None:
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self._show: Callable[[str | None], None] | None = None
        self._lock = threading.Lock()

    def on_wait(self, why: str, seconds: float) -> None:
        """The client's ``on_wait``: report waits for the account limit (governor or 429)."""
        if why not in ("governor", "rate_limit"):
            return
        message = wait_message(seconds)
        with self._lock:
            show = self._show
        if show is not None:
            show(message)
        elif seconds >= QUIET_WAIT:
            click.echo(message, err=True)

    def count(self, items: Iterable[T], label: str) -> Iterator[T]:
        """Pass items through, counting them on stderr when a person watches."""
        if not self.terminal:
            yield from items
            return
        with self.bar(label, None) as advance:
            for item in items:
                advance(1)
                yield item

    def bar(self, label: str, total: int | None) -> _Bar:
        """A progress bar (with ETA when ``total`` is known) as a context manager; it yields
        ``advance(n)``. Off a terminal it shows nothing."""
        return _Bar(self, label, total)


class _Bar:
    def __init__(self, status: Status, label: str, total: int | None) -> None:
        self.status = status
        self.label = label
        self.total = total
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.status.terminal:
            return lambda n: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        columns: list[Any] = [TextColumn("{task.description}")]
        if self.total is not None:
            columns += [BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        else:
            columns += [TextColumn("{task.completed}")]
        self._progress = Progress(*columns, console=Console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=self.total)
        with self.status._lock:
            self.status._show = self._note
        return self._advance

    def _note(self, message: str | None) -> None:
        text = self.label if message is None else f"{self.label} — {message}"
        self._progress.update(self._task, description=text)

    def _advance(self, n: int) -> None:
        self._progress.update(self._task, advance=n, description=self.label)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            with self.status._lock:
                self.status._show = None
            self._progress.stop()
