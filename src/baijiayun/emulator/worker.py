"""A background thread that runs timed jobs (lifecycle steps, callback deliveries) on a clock."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Scheduler"]

logger = logging.getLogger("baijiayun.emulator")


class Scheduler:
    """Run callables after a delay on one daemon thread, started on first use.

    ``clock`` tells the time jobs are due by; ``sleep``, when given, is how the thread waits for
    the next one (tests pass a fake that advances their fake clock, so backoffs cost nothing).
    Without it the thread waits on a condition, so a job scheduled sooner wakes it.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._jobs: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._busy = 0

    def schedule(self, delay: float, job: Callable[[], None]) -> None:
        """Run ``job`` on the worker thread ``delay`` seconds from now."""
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._jobs, (self._clock() + delay, next(self._seq), job))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="bjy-emulator-jobs", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until no job is queued or running; True if that happened within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def clear(self) -> None:
        """Drop every queued job."""
        with self._cond:
            self._jobs.clear()

    def stop(self) -> None:
        """Drop queued jobs and end the thread."""
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _next(self) -> tuple[Callable[[], None] | None, float]:
        """The due job (and 0), or None and how long until the next one is due."""
        with self._cond:
            while not self._stopped and not self._jobs:
                self._cond.wait()
            if self._stopped:
                raise StopIteration
            left = self._jobs[0][0] - self._clock()
            if left > 0:
                if self._sleep is None:
                    self._cond.wait(left)
                return None, left
            _, _, job = heapq.heappop(self._jobs)
            self._busy += 1
            return job, 0.0

    def _run(self) -> None:
        while True:
            try:
                job, left = self._next()
            except StopIteration:
                return
            if job is None:
                if self._sleep is not None:
                    self._sleep(left)
                continue
            try:
                job()
            except Exception:
                logger.exception("emulator background job failed")
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()
