"""Which providers a call may use, and in which order (the routing strategy)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from mcp_bridge.canonical import ChatRequest
from mcp_bridge.config import BridgeConfig, ProviderConfig
from mcp_bridge.resilience.health import HealthRecord

__all__ = ["order_candidates", "unusable_reason"]


def unusable_reason(provider: ProviderConfig) -> str | None:
    """Why the configuration itself rules the provider out, or None."""
    if not provider.enabled:
        return "disabled in the configuration (enabled = false)"
    if provider.api_key_env and provider.secret() is None:
        return f"no API key; set {provider.api_key_env}"
    return None


def order_candidates(
    config: BridgeConfig,
    request: ChatRequest,
    record_of: Callable[[ProviderConfig], HealthRecord],
    providers: Sequence[ProviderConfig],
) -> list[ProviderConfig]:
    """Sort by the configured strategy; ties keep priority, then config order."""
    strategy = config.routing.strategy
    index = {p.name: i for i, p in enumerate(providers)}

    def score(p: ProviderConfig) -> tuple[float, float, float, int]:
        if strategy == "latency":
            p50 = record_of(p).latency_ms(50)
            first = p50 / p.weight if p50 is not None else math.inf
        elif strategy == "cost":
            first = _cost(request, p) / p.weight
        else:
            first = float(p.priority)
        return (first, p.priority, -p.weight, index[p.name])

    return sorted(providers, key=score)


def _cost(request: ChatRequest, provider: ProviderConfig) -> float:
    """Estimated dollars for this request at the provider's prices."""
    chars = len(request.system or "") + sum(len(m.content) for m in request.messages)
    output = request.max_tokens or provider.max_output_tokens
    return (
        chars / 4 * provider.price_input_per_mtok
        + output * provider.price_output_per_mtok
    ) / 1_000_000
