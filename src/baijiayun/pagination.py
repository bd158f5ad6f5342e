"""Walk paged listings (lists, versions, play records) until done, whatever the service claims."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["MAX_PAGES", "Page", "PageWalk"]

MAX_PAGES = 10_000
"""Hard cap on the pages one walk fetches (10 million rows at the largest page size)."""


class Page(Protocol):
    """A page of a listing: ``total`` over all pages and this page's ``items``."""

    @property
    def total(self) -> int: ...

    @property
    def items(self) -> Sequence[Any]: ...


_NATURAL_KEY = ("room_id", "session_id", "version", "playback_id", "video_id")


def _identity(item: Any) -> object:
    # A few ints per item (not the whole item), so a long walk holds little.
    guid = getattr(item, "guid", None)
    if isinstance(guid, str):  # a play record: one play, whatever room it was in (protocol §12)
        return guid
    if hasattr(item, "room_id"):
        return tuple(getattr(item, name, None) for name in _NATURAL_KEY)
    return repr(item)


class PageWalk:
    """Which page to fetch next, and when to stop.

    A walk stops after an empty page, a page whose items were all seen before, the page that
    reaches the reported ``total``, or ``max_pages`` pages, so a service that keeps claiming more
    cannot keep a caller busy forever.
    """

    def __init__(self, page_size: int, max_pages: int = MAX_PAGES) -> None:
        self.page_size = page_size
        self.max_pages = max_pages
        self.number = 1
        self.done = False
        self._seen: set[object] = set()

    def take(self, page: Page) -> list[Any]:
        """Record ``page`` (number :attr:`number`) and return its items not seen before."""
        fresh = [item for item in page.items if _identity(item) not in self._seen]
        self._seen.update(_identity(item) for item in fresh)
        total = page.total if isinstance(page.total, int) else 0
        self.done = (
            not fresh
            or self.number * self.page_size >= total
            or len(self._seen) >= total
            or self.number >= self.max_pages
        )
        self.number += 1
        return fresh
