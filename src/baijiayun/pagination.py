"""Walk paged listings (lists, versions, play records) until done, whatever the service claims."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

__all__ = ["MAX_PAGES", "MAX_STEP_BACKS", "Page", "PageWalk", "StepBackWalk"]

MAX_PAGES = 10_000
"""Hard cap on the pages one walk fetches (10 million rows at the largest page size)."""


class Page(Protocol):
    """A page of a listing: ``total`` over all pages and this page's ``items``."""

    @property
    def total(self) -> int: ...

    @property
    def items(self) -> Sequence[Any]: ...


_NATURAL_KEY = ("room_id", "session_id", "version", "playback_id", "video_id")


def _identity(item: Any) -> Hashable:
    # A few ints per item (not the whole item), so a long walk holds little.
    guid = getattr(item, "guid", None)
    if isinstance(
        guid, str
    ):  # a play record: one play, whatever room it was in (docs/protocol.md#viewing-records)
        return guid
    if hasattr(item, "room_id"):
        return tuple(getattr(item, name, None) for name in _NATURAL_KEY)
    return repr(item)


def _total(page: Page) -> int:
    return page.total if isinstance(page.total, int) else 0


class PageWalk:
    """Which page to fetch next, and when to stop.

    A walk stops after an empty page, a page whose items were all seen before, the page that
    reaches the reported ``total``, or ``max_pages`` pages, so a service that keeps claiming more
    cannot keep a caller busy forever. ``key`` names an item (by default its natural key) and
    ``seen`` is the set of names read so far (a fresh one unless given).
    """

    def __init__(
        self,
        page_size: int,
        max_pages: int = MAX_PAGES,
        *,
        key: Callable[[Any], Hashable] = _identity,
        seen: set[Any] | None = None,
    ) -> None:
        self.page_size = page_size
        self.max_pages = max_pages
        self.number = 1
        self.pages = 0
        self.done = False
        self._key = key
        self._seen: set[Any] = set() if seen is None else seen

    def _fresh(self, page: Page) -> list[Any]:
        """The items of ``page`` not seen before, now recorded as seen."""
        self.pages += 1
        fresh = []
        for item in page.items:
            name = self._key(item)
            if name not in self._seen:
                self._seen.add(name)
                fresh.append(item)
        return fresh

    def _last(self, page: Page, new: bool) -> bool:
        """The stop rules every walk shares: nothing ``new``, the end reached, or the page cap."""
        return (
            not new or self.number * self.page_size >= _total(page) or self.pages >= self.max_pages
        )

    def take(self, page: Page) -> list[Any]:
        """Record ``page`` (number :attr:`number`) and return its items not seen before."""
        fresh = self._fresh(page)
        self.done = self._last(page, bool(fresh)) or len(self._seen) >= _total(page)
        self.number += 1
        return fresh


MAX_STEP_BACKS = 50
"""How often one walk re-reads earlier pages after the listing shrank under it."""


class StepBackWalk(PageWalk):
    """A :class:`PageWalk` that misses nothing while the listing shrinks under it (getList by
    offset, newest first, while playbacks are deleted).

    A deletion above the cursor moves the later rows up by one, so a row can slip past a page
    boundary only when ``total`` dropped between two reads, and by at most that drop: the walk
    then steps back over the pages the drop spans (at most ``max_step_backs`` times) and walks on
    from there. New rows on top move rows down: they are read twice and returned once.

    It stops by :class:`PageWalk`'s rules, with two differences: a page read again after a step
    back may hold nothing new without ending the walk, and the count of rows seen is no end (rows
    seen and then deleted make it overcount). ``enough(items)`` may end the walk sooner (an
    incremental run stops where it overlaps what it holds).
    """

    def __init__(
        self,
        page_size: int,
        max_pages: int = MAX_PAGES,
        *,
        key: Callable[[Any], Hashable] = _identity,
        seen: set[Any] | None = None,
        max_step_backs: int = MAX_STEP_BACKS,
        enough: Callable[[Sequence[Any]], bool] | None = None,
    ) -> None:
        super().__init__(page_size, max_pages, key=key, seen=seen)
        self.max_step_backs = max_step_backs
        self.step_backs = 0
        self.enough = enough
        self._previous: int | None = None
        self._furthest = 0

    def take(self, page: Page) -> list[Any]:
        """Record ``page`` (number :attr:`number`), choose the next, return its new items."""
        fresh = self._fresh(page)
        total, previous, number = _total(page), self._previous, self.number
        self._previous = total
        if (
            previous is not None
            and total < previous
            and number > 1
            and self.step_backs < self.max_step_backs
        ):
            self.step_backs += 1
            self.number = max(1, number - math.ceil((previous - total) / self.page_size))
            self.done = self.pages >= self.max_pages
        else:
            # A page read again after a step back is expected to hold little that is new.
            again = number <= self._furthest
            self.done = (
                not page.items
                or self._last(page, bool(fresh) or again)
                or (self.enough is not None and self.enough(page.items))
            )
            self.number = number + 1
        self._furthest = max(self._furthest, number)
        return fresh
