"""Fault injection: per endpoint latency, error codes, HTTP 5xx, malformed bodies, dropped connections."""

from __future__ import annotations

import math
import random
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["FAULT_KINDS", "Fault", "FaultBook"]

FaultKind = Literal["latency", "error", "http", "malformed", "drop"]
FAULT_KINDS: tuple[str, ...] = ("latency", "error", "http", "malformed", "drop")


@dataclass
class Fault:
    """One rule: on ``endpoint`` (an action like ``getBasicInfo``, a path, or ``*``) do ``kind``.

    ``value`` is the latency in seconds, the BaijiaYun code, or the HTTP status. The rule fires for
    the next ``times`` calls, or on each call with ``probability``; with neither, on every call.
    """

    endpoint: str
    kind: FaultKind
    value: float = 0
    times: int | None = None
    probability: float | None = None
    hits: int = 0

    def matches(self, path: str) -> bool:
        """True if the rule applies to this request path."""
        return self.endpoint in ("*", path, path.rsplit("/", 1)[-1])

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-ready data."""
        return asdict(self)


class FaultBook:
    """The active fault rules of one emulator."""

    def __init__(self, seed: int | None = None) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        """Add a rule, checking it names a known kind and sane numbers."""
        if not isinstance(fault.value, int | float) or not math.isfinite(fault.value):
            raise ValueError("value must be a finite number")
        if fault.probability is not None and not math.isfinite(fault.probability):
            raise ValueError("probability must be in (0, 1]")
        if fault.kind == "error" and not -(2**31) <= fault.value < 2**31:
            raise ValueError("an error fault needs value = a BaijiaYun code (a 32-bit integer)")
        if fault.kind == "latency" and fault.value > 600:
            raise ValueError("latency must be at most 600 seconds")
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}; got {fault.kind!r}")
        if fault.times is not None and fault.times < 1:
            raise ValueError("times must be >= 1")
        if fault.probability is not None and not 0 < fault.probability <= 1:
            raise ValueError("probability must be in (0, 1]")
        if fault.kind == "http" and not 400 <= fault.value <= 599:
            raise ValueError("an http fault needs value = a status from 400 to 599")
        if fault.kind == "latency" and fault.value < 0:
            raise ValueError("latency must be >= 0 seconds")
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[Fault]:
        """The active rules."""
        with self._lock:
            return list(self._rules)

    def draw(self, path: str) -> list[Fault]:
        """The rules that fire for this call (used-up counted rules are removed)."""
        fired = []
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(path):
                    continue
                if rule.probability is not None and self._random.random() >= rule.probability:
                    continue
                rule.hits += 1
                fired.append(rule)
                if rule.times is not None and rule.hits >= rule.times:
                    self._rules.remove(rule)
        return fired
