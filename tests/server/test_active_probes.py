"""The HTTP service's background probes bring a recovered provider back."""

from __future__ import annotations

import anyio
import pytest

from mcp_bridge.canonical import ChatRequest, Message
from mcp_bridge.config import BreakerSettings, BridgeConfig, ProviderConfig
from mcp_bridge.errors import AllAttemptsFailed
from mcp_bridge.resilience import FakeClock, open_router
from mcp_bridge.server._service import probe_forever
from tests.fake_fixtures import fake_provider  # noqa: F401
from tools.fake_provider import FakeProvider


def flaky_config(fake: FakeProvider) -> BridgeConfig:
    provider = ProviderConfig(
        name="flaky",
        protocol="openai",
        base_url=fake.base_url("openai"),
        model="flaky-model",
    )
    return BridgeConfig(
        providers=[provider],
        state="memory",
        breaker=BreakerSettings(consecutive_failures=1, base_cooldown_s=5),
    )


ASK = ChatRequest(messages=[Message(role="user", content="hi")])


async def test_a_probe_round_closes_the_breaker_of_a_recovered_provider(
    fake_provider: FakeProvider,  # noqa: F811
) -> None:
    """No caller traffic is needed for an open provider to come back."""
    clock = FakeClock()
    fake_provider.set_fault("flaky-model", "unavailable")
    async with open_router(flaky_config(fake_provider), clock=clock) as router:
        with pytest.raises(AllAttemptsFailed):
            await router.call(ASK)
        assert [s.state for s in await router.status()] == ["open"]
        fake_provider.clear_faults()
        clock.advance(60)
        with anyio.fail_after(10):
            await probe_forever(router, 0, rounds=1)
        assert [s.state for s in await router.status()] == ["closed"]
    probes = [r for r in fake_provider.requests if r.path.endswith("/models")]
    assert len(probes) == 1


async def test_a_probe_round_leaves_a_provider_in_cooldown_alone(
    fake_provider: FakeProvider,  # noqa: F811
) -> None:
    """Before the cooldown ends, the loop sends nothing upstream."""
    clock = FakeClock()
    fake_provider.set_fault("flaky-model", "unavailable")
    async with open_router(flaky_config(fake_provider), clock=clock) as router:
        with pytest.raises(AllAttemptsFailed):
            await router.call(ASK)
        with anyio.fail_after(10):
            await probe_forever(router, 0, rounds=2)
        assert [s.state for s in await router.status()] == ["open"]
    assert not [r for r in fake_provider.requests if r.path.endswith("/models")]
