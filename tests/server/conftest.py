"""Fixtures: the real server and router over a scripted upstream, in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from mcp import Client

from mcp_bridge.config import BridgeConfig
from mcp_bridge.resilience import open_router
from mcp_bridge.server import build_server
from mcp_bridge.server.app import ServedRouter
from tests.server._upstream import Bridge, Upstream


@pytest.fixture
async def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def bridge(upstream: Upstream) -> Bridge:
    """Open an in-memory client session on a bridge over `upstream`."""

    def factory(config: BridgeConfig) -> AbstractAsyncContextManager[ServedRouter]:
        return open_router(config, transport=upstream.transport)

    @asynccontextmanager
    async def open_bridge(
        config: BridgeConfig, *, heartbeat_s: float = 5.0
    ) -> AsyncIterator[Client]:
        server = build_server(config, router_factory=factory, heartbeat_s=heartbeat_s)
        async with Client(server) as client:
            yield client

    return open_bridge
