"""What every API resource shares: its client (built and owned when none is given), one call, closing."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from ... import _endpoints as ep

if TYPE_CHECKING:
    from typing_extensions import Self

    from .._async_client import AsyncBaiJiaYunClient

__all__ = ["AsyncResource"]


class AsyncResource:
    """A group of API methods on one client (openai-python's resources).

    Without a client, one is built from the environment and owned: :meth:`close` (or leaving a
    ``with`` block) closes it. A client passed in stays the caller's to close.
    """

    def __init__(self, client: AsyncBaiJiaYunClient | None = None) -> None:
        self._owns_client = client is None
        if client is None:
            from .._async_client import AsyncBaiJiaYunClient

            client = AsyncBaiJiaYunClient()
        self.client = client

    async def _call(self, endpoint: ep.Endpoint, **arguments: object) -> Any:
        return await self.client.request(endpoint, arguments)

    async def close(self) -> None:
        """Close the client if this object built it (none was passed in)."""
        if self._owns_client:
            await self.client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client!r})"
