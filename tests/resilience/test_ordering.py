"""Candidate order by strategy, and what the configuration rules out."""

from __future__ import annotations

from pydantic import SecretStr

from mcp_bridge.config import RoutingSettings
from mcp_bridge.resilience.health import HealthRecord
from mcp_bridge.resilience.ordering import order_candidates, unusable_reason
from tests.resilience.upstream import ask, config, provider


def names(providers: list) -> list[str]:  # type: ignore[type-arg]
    return [p.name for p in providers]


def test_priority_orders_lower_first_and_keeps_config_order_on_ties() -> None:
    ps = [provider("c", 5), provider("a", 1), provider("b", 5)]
    cfg = config(*ps)
    ordered = order_candidates(cfg, ask(), lambda p: HealthRecord(), ps)
    assert names(ordered) == ["a", "c", "b"]


def test_latency_strategy_prefers_the_fastest_observed_p50_and_unknown_last() -> None:
    ps = [provider("slow", 1), provider("fast", 2), provider("new", 0)]
    cfg = config(*ps, routing=RoutingSettings(strategy="latency"))
    records = {
        "slow": HealthRecord(latencies_ms=[900.0, 1000.0]),
        "fast": HealthRecord(latencies_ms=[100.0, 120.0]),
    }
    ordered = order_candidates(
        cfg, ask(), lambda p: records.get(p.name, HealthRecord()), ps
    )
    assert names(ordered) == ["fast", "slow", "new"]


def test_cost_strategy_prefers_the_cheapest_estimate_divided_by_weight() -> None:
    ps = [
        provider("pricey", 1, price_input_per_mtok=10, price_output_per_mtok=30),
        provider("cheap", 2, price_input_per_mtok=0.1, price_output_per_mtok=0.3),
        provider(
            "heavy", 3, price_input_per_mtok=0.2, price_output_per_mtok=0.6, weight=4
        ),
    ]
    cfg = config(*ps, routing=RoutingSettings(strategy="cost"))
    ordered = order_candidates(cfg, ask(), lambda p: HealthRecord(), ps)
    assert names(ordered) == ["heavy", "cheap", "pricey"]


def test_a_provider_without_its_key_is_unusable_and_the_reason_names_the_variable() -> (
    None
):
    keyless = provider("x", api_key_env="X_API_KEY")
    assert unusable_reason(keyless) == "no API key; set X_API_KEY"
    keyed = provider("y", api_key_env="Y_API_KEY", api_key=SecretStr("k" * 20))
    assert unusable_reason(keyed) is None
    assert "enabled = false" in (unusable_reason(provider("z", enabled=False)) or "")
