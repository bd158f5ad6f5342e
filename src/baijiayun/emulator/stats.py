"""Call statistics per partner and endpoint, and the recent calls, buffered briefly in memory and kept in the database."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, Literal

from .db import CALLS_KEPT, Database

__all__ = ["OUTCOMES", "Call", "Outcome", "StatsBook"]

Outcome = Literal["served", "rate_limited", "auth", "fault"]
OUTCOMES: tuple[Outcome, ...] = ("served", "rate_limited", "auth", "fault")
"""served: answered by the action (any code); rate_limited: refused with 429; auth: refused by
the partner_id, timestamp or sign checks; fault: answered by an injected fault."""
Call = tuple[float, int, str, str, int, str]
"""One recent call: (unix time, partner_id, endpoint, outcome, code answered, why refused)."""


class StatsBook:
    """Counts calls and keeps the newest of them; adds both to the database at most
    ``interval`` seconds late (and on read)."""

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
        self._recent: deque[Call] = deque(maxlen=CALLS_KEPT)
        self._lock = threading.Lock()
        self._flushed = clock()

    def count(
        self,
        partner_id: int,
        endpoint: str,
        outcome: Outcome,
        at: float = 0.0,
        code: int = 0,
        why: str = "",
    ) -> None:
        """Count one call, and keep it (``at`` unix time, the ``code`` answered, ``why`` it was
        refused) among the recent ones."""
        with self._lock:
            self._pending[(partner_id, endpoint, outcome)] += 1
            self._recent.append((at, partner_id, endpoint, outcome, code, why))

    def due(self) -> bool:
        """True when buffered counts are older than ``interval``."""
        return bool(self._pending) and self.clock() - self._flushed >= self.interval

    def flush(self) -> None:
        """Add the buffered counts and calls to the database."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            recent, self._recent = self._recent, deque(maxlen=CALLS_KEPT)
            self._flushed = self.clock()
        self.db.add_stats(pending)
        self.db.add_calls(list(recent))

    def discard(self) -> None:
        """Drop buffered counts (after a reset)."""
        with self._lock:
            self._pending.clear()
            self._recent.clear()

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

    def recent(self) -> list[dict[str, Any]]:
        """The newest calls of every worker (at most ``CALLS_KEPT``), newest first."""
        self.flush()
        return self.db.recent_calls()
