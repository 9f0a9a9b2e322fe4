"""The upstream HTTP client: one client over several connection pools.

httpcore inspects every pooled connection, with system calls, each time it
hands one out, so one pool of N connections costs O(N) per request. At
hundreds of concurrent calls that dominated the bridge's CPU; requests taking
turns over a few smaller pools keep the cost flat.
"""

from __future__ import annotations

import itertools
from types import TracebackType

import httpx2

from mcp_bridge.protocols._tls import tls_context

__all__ = ["POOL_SHARDS", "upstream_client"]

POOL_SHARDS = 16
_LIMITS = httpx2.Limits(
    max_connections=256, max_keepalive_connections=256, keepalive_expiry=30.0
)
"""Per pool. httpx2's default (100, 20 kept alive) made a busy service
reconnect for most requests and fail on pool timeouts."""


class ShardedTransport(httpx2.AsyncBaseTransport):
    """Hands each request to the next of several connection pools in turn."""

    def __init__(self, shards: int = POOL_SHARDS) -> None:
        context = tls_context()
        self._pools = [
            httpx2.AsyncHTTPTransport(verify=context, limits=_LIMITS)
            for _ in range(shards)
        ]
        self._turns = itertools.cycle(self._pools)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await next(self._turns).handle_async_request(request)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


def upstream_client(
    transport: httpx2.AsyncBaseTransport | None = None,
) -> httpx2.AsyncClient:
    """The client every adapter shares (`transport` replaces the pools in tests)."""
    return httpx2.AsyncClient(transport=transport or ShardedTransport())
