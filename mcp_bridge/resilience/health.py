"""What the bridge knows about each provider+model: a record per key.

A `HealthRecord` is plain data (breaker state, cooldowns, recent latencies,
counts, the last error) that round-trips through the state store as JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from pydantic import BaseModel

__all__ = ["HealthRecord", "ProviderStatus", "percentile"]

_SAMPLES = 64
"""How many recent latencies each record keeps for its percentiles."""


@dataclass
class HealthRecord:
    """Health of one provider+model, shared through the state store."""

    rev: int = 0
    """Bumped on every change; the store keeps the highest."""
    state: str = "closed"
    consecutive_failures: int = 0
    window: list[bool] = field(default_factory=list)
    open_count: int = 0
    open_until: float | None = None
    cooldown_until: float | None = None
    cooldown_reason: str | None = None
    rate_limit_streak: int = 0
    disabled: str | None = None
    disabled_fingerprint: str | None = None
    bad_request_streak: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ttfts_ms: list[float] = field(default_factory=list)
    calls: int = 0
    successes: int = 0
    last_error: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthRecord:
        """Build from stored JSON, ignoring fields this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        # Every field is a scalar or a flat list of scalars, so copying the
        # lists is enough; `asdict` deep-copied each float on every call.
        return {
            name: list(value) if isinstance(value, list) else value
            for name, value in vars(self).items()
        }

    def observe(self, latency_ms: float, ttft_ms: float | None) -> None:
        """Keep a latency sample (and a first-token one when known)."""
        self.latencies_ms = [*self.latencies_ms, round(latency_ms, 1)][-_SAMPLES:]
        if ttft_ms is not None:
            self.ttfts_ms = [*self.ttfts_ms, round(ttft_ms, 1)][-_SAMPLES:]

    @property
    def success_rate(self) -> float | None:
        """Share of successes over all counted calls, None before the first."""
        return self.successes / self.calls if self.calls else None

    def latency_ms(self, q: float) -> float | None:
        """Percentile `q` (0-100) of recent call latencies."""
        return percentile(self.latencies_ms, q)

    def ttft_ms(self, q: float) -> float | None:
        """Percentile `q` (0-100) of recent times to first token."""
        return percentile(self.ttfts_ms, q)


def percentile(samples: list[float], q: float) -> float | None:
    """Nearest-rank percentile, None for no samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(math.ceil(q / 100.0 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


class ProviderStatus(BaseModel):
    """One provider's health as `status` and the providers resource show it."""

    name: str
    model: str
    protocol: str
    enabled: bool
    state: Literal["closed", "open", "half_open", "disabled"]
    success_rate: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    ttft_p95_ms: float | None = None
    cooldown_until: float | None = None
    """Epoch seconds before which the provider gets no traffic, if any."""
    last_error: str | None = None
    calls: int = 0
