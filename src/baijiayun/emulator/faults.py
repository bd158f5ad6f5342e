"""Fault injection: per endpoint latency, error codes, HTTP 5xx, malformed bodies, dropped connections."""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import delete, insert, select, update

from . import schema as t
from .db import Database

__all__ = ["FAULTS_EXIST", "FAULT_KINDS", "Fault", "FaultBook"]

FaultKind = Literal["latency", "error", "http", "malformed", "drop"]
FAULT_KINDS: tuple[str, ...] = ("latency", "error", "http", "malformed", "drop")


@dataclass
class Fault:
    """One rule: on ``endpoint`` (an action like ``getBasicInfo``, a path, or ``*``) do ``kind``.

    ``value`` is the latency in seconds, the BaijiaYun code, or the HTTP status. The rule fires for
    the next ``times`` calls, or on each call with ``probability``; with neither, on every call.
    ``hits`` is how often it fired when this copy was read (rules live in the database).
    """

    endpoint: str
    kind: FaultKind
    value: float = 0
    times: int | None = None
    probability: float | None = None
    hits: int = 0
    id: int | None = None

    def matches(self, path: str) -> bool:
        """True if the rule applies to this request path."""
        return self.endpoint in ("*", path, path.rsplit("/", 1)[-1])

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-ready data."""
        return asdict(self)

    def check(self) -> None:
        """ValueError naming what is wrong with the rule, if anything."""
        if not isinstance(self.value, int | float) or not math.isfinite(self.value):
            raise ValueError("value must be a finite number")
        if self.probability is not None and not math.isfinite(self.probability):
            raise ValueError("probability must be in (0, 1]")
        if self.kind == "error" and not -(2**31) <= self.value < 2**31:
            raise ValueError("an error fault needs value = a BaijiaYun code (a 32-bit integer)")
        if self.kind == "latency" and self.value > 600:
            raise ValueError("latency must be at most 600 seconds")
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}; got {self.kind!r}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1")
        if self.probability is not None and not 0 < self.probability <= 1:
            raise ValueError("probability must be in (0, 1]")
        if self.kind == "http" and not 400 <= self.value <= 599:
            raise ValueError("an http fault needs value = a status from 400 to 599")
        if self.kind == "latency" and self.value < 0:
            raise ValueError("latency must be >= 0 seconds")


_F = t.faults
FAULTS_EXIST = select(1).select_from(_F).exists().label("faults")
"""Whether any fault rule exists: the backends read it with the caller's account, so a call
costs no extra round trip for faults while there are none."""
_COLUMNS = (_F.c.endpoint, _F.c.kind, _F.c.value, _F.c.times, _F.c.probability, _F.c.hits, _F.c.id)


def _fault(row: Any) -> Fault:
    endpoint, kind, value, times, probability, hits, rule_id = row
    value = float(value)
    return Fault(
        endpoint,
        kind,
        int(value) if value.is_integer() else value,
        None if times is None else int(times),
        None if probability is None else float(probability),
        int(hits),
        int(rule_id),
    )


class FaultBook:
    """The fault rules of an emulator, kept in its database: every worker and host on the
    database reads the same rules, and a rule with ``times`` fires that often in all (each
    firing is claimed by one conditional UPDATE). ``seed`` makes this process's draws for
    rules with a ``probability`` repeatable."""

    def __init__(self, db: Database, seed: int | None = None) -> None:
        self.db = db
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        """Store a rule, checking it names a known kind and sane numbers; the stored copy."""
        fault.check()
        values = {
            "endpoint": fault.endpoint,
            "kind": fault.kind,
            "value": float(fault.value),
            "times": fault.times,
            "probability": fault.probability,
            "hits": 0,
        }
        with self.db.tx() as conn:
            rule_id = conn.execute(insert(_F).values(**values).returning(_F.c.id)).scalar_one()
        return Fault(**{**fault.to_dict(), "hits": 0, "id": int(rule_id)})

    def clear(self) -> None:
        """Remove every rule."""
        with self.db.tx() as conn:
            conn.execute(delete(_F))

    def rules(self) -> list[Fault]:
        """The active rules, oldest first, with their hit counts."""
        with self.db.read() as conn:
            return [_fault(row) for row in conn.execute(select(*_COLUMNS).order_by(_F.c.id))]

    def draw(self, path: str) -> list[Fault]:
        """The rules that fire for this call; a used-up counted rule is removed.

        Blocking (run it through ``Database.run``); one transaction. A counted rule fires only
        if its conditional UPDATE still finds it under its ``times``, so two processes drawing
        at once never both take its last firing.
        """
        fired = []
        with self.db.tx() as conn:
            for rule in [_fault(row) for row in conn.execute(select(*_COLUMNS).order_by(_F.c.id))]:
                if not rule.matches(path):
                    continue
                if rule.probability is not None and self._random.random() >= rule.probability:
                    continue
                mine = _F.c.id == rule.id
                under = _F.c.times.is_(None) | (_F.c.hits < _F.c.times)
                claimed = conn.execute(update(_F).where(mine, under).values(hits=_F.c.hits + 1))
                if not claimed.rowcount:
                    continue  # another process took its last firing
                rule.hits += 1
                fired.append(rule)
                if rule.times is not None:
                    conn.execute(delete(_F).where(mine, _F.c.hits >= _F.c.times))
        return fired
