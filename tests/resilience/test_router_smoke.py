from __future__ import annotations

from mcp_bridge.resilience import FakeClock, open_router
from tests.resilience.upstream import Upstreams, ask, config, fail, provider


async def test_smoke() -> None:
    up = Upstreams()
    up.script("a", fail(503))
    cfg = config(provider("a", 1), provider("b", 2))
    async with open_router(cfg, transport=up.transport(), clock=FakeClock()) as router:
        result = await router.call(ask())
    print(result)
    assert result.provider == "b"
