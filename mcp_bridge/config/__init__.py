"""Configuration: pydantic models, TOML and environment loading, presets."""

from mcp_bridge.config._loader import load_config
from mcp_bridge.config._models import (
    MAX_WORKERS,
    BreakerSettings,
    BridgeConfig,
    HedgingSettings,
    HttpSettings,
    LimitSettings,
    ProtocolName,
    ProviderConfig,
    RoutingSettings,
    StructuredOutput,
    TimeoutSettings,
)
from mcp_bridge.config.presets import ENV_DETECTION, PRESETS

__all__ = [
    "ENV_DETECTION",
    "MAX_WORKERS",
    "PRESETS",
    "BreakerSettings",
    "BridgeConfig",
    "HedgingSettings",
    "HttpSettings",
    "LimitSettings",
    "ProtocolName",
    "ProviderConfig",
    "RoutingSettings",
    "StructuredOutput",
    "TimeoutSettings",
    "load_config",
]
