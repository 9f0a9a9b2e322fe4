"""The health tracker: hedge delays, disables that survive only unchanged config."""

from __future__ import annotations

from pydantic import SecretStr

from mcp_bridge.config import HedgingSettings
from mcp_bridge.resilience import FakeClock, HealthTracker
from mcp_bridge.store import MemoryStore
from tests.resilience.upstream import config, provider


def tracker(**hedging: float) -> HealthTracker:
    settings = HedgingSettings(enabled=True, **hedging)  # type: ignore[arg-type]
    return HealthTracker(config(hedging=settings), MemoryStore(), FakeClock())


def test_the_hedge_delay_follows_the_observed_p95_first_token_time() -> None:
    health, p = tracker(min_delay_s=0.2), provider("a")
    assert health.hedge_delay_s(p) is None  # too few observations
    for ttft in (300.0, 310.0, 320.0, 330.0, 900.0):
        health.succeeded(p, latency_ms=1000, ttft_ms=ttft)
    assert health.hedge_delay_s(p) == 0.9


def test_the_hedge_delay_never_drops_below_the_minimum() -> None:
    health, p = tracker(delay_s=0.1, min_delay_s=0.5), provider("a")
    assert health.hedge_delay_s(p) == 0.5


def test_a_disabled_provider_comes_back_when_its_key_changes() -> None:
    health = tracker()
    old = provider("a", api_key_env="A_KEY", api_key=SecretStr("old-key-123456"))
    health.disable(old, "auth; check A_KEY")
    assert (health.blocked(old) or "").startswith("disabled")
    new = old.model_copy(update={"api_key": SecretStr("new-key-654321")})
    assert health.blocked(new) is None
