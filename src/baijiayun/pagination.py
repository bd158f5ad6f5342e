"""Walk paged listings (getList, getCropList) page after page until ``total`` is reached."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["Page", "async_pages", "pages"]


class Page(Protocol):
    """A page of a listing: ``total`` over all pages and this page's ``items``."""

    @property
    def total(self) -> int: ...

    @property
    def items(self) -> Sequence[Any]: ...


P = TypeVar("P", bound=Page)


def _last(page: Page, number: int, page_size: int) -> bool:
    return not page.items or number * page_size >= page.total


def pages(fetch: Callable[[int], P], page_size: int) -> Iterator[P]:
    """Yield ``fetch(1)``, ``fetch(2)``, … until a page is empty or ``total`` is covered."""
    number = 1
    while True:
        page = fetch(number)
        yield page
        if _last(page, number, page_size):
            return
        number += 1


async def async_pages(fetch: Callable[[int], Awaitable[P]], page_size: int) -> AsyncIterator[P]:
    """Async twin of :func:`pages`."""
    number = 1
    while True:
        page = await fetch(number)
        yield page
        if _last(page, number, page_size):
            return
        number += 1
