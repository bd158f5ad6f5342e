"""Call statistics per partner and endpoint, buffered briefly in memory and kept in the database."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from .db import Database

__all__ = ["OUTCOMES", "Outcome", "StatsBook"]

Outcome = Literal["served", "rate_limited", "auth", "fault"]
OUTCOMES: tuple[Outcome, ...] = ("served", "rate_limited", "auth", "fault")
"""served: answered by the action (any code); rate_limited: refused with 429; auth: refused by
the partner_id, timestamp or sign checks; fault: answered by an injected fault."""


class StatsBook:
    """Counts calls; adds them to the database at most ``interval`` seconds late (and on read)."""

    def __init__(
        self,
        db: Database,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.interval = interval
        self.clock = clock
        self._pending: Counter[tuple[int, str, str]] = Counter()
        self._lock = threading.Lock()
        self._flushed = clock()

    def count(self, partner_id: int, endpoint: str, outcome: Outcome) -> None:
        """Count one call."""
        key = (partner_id, endpoint, outcome)
        with self._lock:
            pending = self._pending
            pending[key] = pending.get(key, 0) + 1

    def due(self) -> bool:
        """True when buffered counts are older than ``interval``."""
        return bool(self._pending) and self.clock() - self._flushed >= self.interval

    def flush(self) -> None:
        """Add the buffered counts to the database."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._flushed = self.clock()
        self.db.add_stats(pending)

    def discard(self) -> None:
        """Drop buffered counts (after a reset)."""
        with self._lock:
            self._pending.clear()

    def report(self) -> list[dict[str, Any]]:
        """Per partner and endpoint: calls served, and those refused by each check."""
        self.flush()
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        for partner_id, endpoint, outcome, calls in self.db.stats():
            entry = rows.setdefault(
                (partner_id, endpoint),
                {"partner_id": partner_id, "endpoint": endpoint, **dict.fromkeys(OUTCOMES, 0)},
            )
            entry[outcome] = calls
        return list(rows.values())
