"""Resilience: candidates, one deadline per call, breakers, hedging, failover."""

from mcp_bridge.resilience.breaker import Breaker, Transition
from mcp_bridge.resilience.clock import Clock, FakeClock, SystemClock
from mcp_bridge.resilience.health import HealthRecord, ProviderStatus
from mcp_bridge.resilience.router import ProgressFn, Router, Validator, open_router
from mcp_bridge.resilience.tracker import HealthTracker, health_key

__all__ = [
    "Breaker",
    "Clock",
    "FakeClock",
    "HealthRecord",
    "HealthTracker",
    "ProgressFn",
    "ProviderStatus",
    "Router",
    "SystemClock",
    "Transition",
    "Validator",
    "health_key",
    "open_router",
]
