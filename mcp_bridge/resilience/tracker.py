"""The live view of every provider's health, kept in step with the store.

Changes happen synchronously on local records (so concurrent calls in this
process see them at once, even from code that is being cancelled) and reach
the store on `persist`. `refresh` adopts records that another process wrote
with a higher revision.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterable
from typing import Literal

from mcp_bridge.config import BridgeConfig, ProviderConfig
from mcp_bridge.errors import ProviderError
from mcp_bridge.resilience.breaker import Breaker, Transition
from mcp_bridge.resilience.clock import Clock
from mcp_bridge.resilience.health import HealthRecord, ProviderStatus
from mcp_bridge.store import StateStore

__all__ = ["HealthTracker", "health_key"]

logger = logging.getLogger(__name__)


def health_key(provider: ProviderConfig) -> str:
    """Health is tracked per provider and model."""
    return f"{provider.name}:{provider.model}"


def _fingerprint(provider: ProviderConfig) -> str:
    # A disable survives restarts only while the endpoint, model and key are
    # unchanged, so fixing the key or the model brings the provider back.
    raw = f"{provider.base_url}|{provider.model}|{provider.secret() or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


class HealthTracker:
    """Breakers, cooldowns and latency statistics for the configured providers."""

    def __init__(
        self,
        config: BridgeConfig,
        store: StateStore,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.breaker = Breaker(config.breaker, rng)
        self._records: dict[str, HealthRecord] = {}
        self._dirty: set[str] = set()

    def get(self, provider: ProviderConfig) -> HealthRecord:
        """The current record (a fresh one for a provider never seen)."""
        return self._records.setdefault(health_key(provider), HealthRecord())

    async def refresh(self, providers: Iterable[ProviderConfig]) -> None:
        """Adopt newer records written by other processes."""
        keys = [health_key(p) for p in providers]
        for key, data in (await self.store.load_health(keys)).items():
            local = self._records.get(key)
            if local is None or int(data.get("rev", 0)) > local.rev:
                self._records[key] = HealthRecord.from_dict(data)

    async def persist(self) -> None:
        """Hand changed records to the store (which may write them behind)."""
        dirty, self._dirty = self._dirty, set()
        for key in dirty:
            await self.store.save_health(key, self._records[key].to_dict())

    def blocked(self, provider: ProviderConfig) -> str | None:
        """Why the provider must not be called now, or None."""
        record, now = self.get(provider), self.clock.time()
        if record.disabled and record.disabled_fingerprint == _fingerprint(provider):
            return f"disabled: {record.disabled}"
        if record.cooldown_until is not None and record.cooldown_until > now:
            wait = record.cooldown_until - now
            return f"cooling down for {wait:.1f} s ({record.cooldown_reason})"
        if self.breaker.gate(record, now) == "open":
            wait = (record.open_until or now) - now
            return f"breaker open for {wait:.1f} s more"
        return None

    async def admit(self, provider: ProviderConfig, lease_ttl_s: float) -> bool:
        """May this call try the provider? Admits one probe per open period."""
        if self.blocked(provider):
            return False
        record = self.get(provider)
        if self.breaker.gate(record, self.clock.time()) == "pass":
            return True
        # One lease per open period, so the probe is unique across processes.
        lease = f"{health_key(provider)}@{record.open_until}"
        if not await self.store.try_acquire_probe(lease, lease_ttl_s):
            return False
        if record.state != "half_open":
            self._changed(provider, self.breaker.begin_probe(record))
        return True

    def succeeded(
        self, provider: ProviderConfig, latency_ms: float, ttft_ms: float | None
    ) -> None:
        """Count a good answer."""
        record = self.get(provider)
        record.calls += 1
        record.successes += 1
        record.rate_limit_streak = record.bad_request_streak = 0
        record.observe(latency_ms, ttft_ms)
        self._changed(provider, self.breaker.on_success(record))

    def probed(self, provider: ProviderConfig) -> None:
        """A health probe (not a call) succeeded: close the breaker."""
        self._changed(provider, self.breaker.on_success(self.get(provider)))

    def failed(self, provider: ProviderConfig, error: ProviderError) -> None:
        """Count a health fault (feeds the breaker)."""
        record = self.get(provider)
        record.calls += 1
        record.last_error = str(error)
        now = self.clock.time()
        self._changed(provider, self.breaker.on_failure(record, now, error.retry_after))

    def noted(self, provider: ProviderConfig, error: ProviderError) -> None:
        """Remember an error that says nothing about the provider's health."""
        record = self.get(provider)
        record.last_error = str(error)
        # A half-open probe answered with a coherent refusal shows the provider
        # is up; left half-open, every caller would skip it as "another caller
        # is probing" until the probe lease expired.
        probe = record.state == "half_open"
        self._changed(provider, self.breaker.on_success(record) if probe else None)

    def cool_down(self, provider: ProviderConfig, seconds: float, reason: str) -> None:
        """Send no traffic to the provider for `seconds`."""
        record = self.get(provider)
        until = self.clock.time() + seconds
        if record.cooldown_until is None or until > record.cooldown_until:
            record.cooldown_until, record.cooldown_reason = until, reason
        self._changed(provider, None)

    def disable(self, provider: ProviderConfig, reason: str) -> None:
        """Take the provider out of rotation until its configuration changes."""
        record = self.get(provider)
        record.disabled, record.disabled_fingerprint = reason, _fingerprint(provider)
        self._changed(provider, None)

    def hedge_delay_s(self, provider: ProviderConfig) -> float | None:
        """When to start a hedge: configured, or the observed p95 first token."""
        hedging = self.config.hedging
        if hedging.delay_s is not None:
            return max(hedging.delay_s, hedging.min_delay_s)
        record = self.get(provider)
        if len(record.ttfts_ms) < 5:
            return None
        return max((record.ttft_ms(95) or 0.0) / 1000.0, hedging.min_delay_s)

    def status(self, provider: ProviderConfig, usable: bool) -> ProviderStatus:
        """The record as a `ProviderStatus`."""
        record, now = self.get(provider), self.clock.time()
        disabled = not usable or (self.blocked(provider) or "").startswith("disabled")
        ends = [t for t in (record.cooldown_until, record.open_until) if t and t > now]
        return ProviderStatus(
            name=provider.name,
            model=provider.model,
            protocol=provider.protocol,
            enabled=provider.enabled,
            state="disabled" if disabled else _state(record.state),
            success_rate=record.success_rate,
            latency_p50_ms=record.latency_ms(50),
            latency_p95_ms=record.latency_ms(95),
            ttft_p95_ms=record.ttft_ms(95),
            cooldown_until=max(ends) if ends else None,
            last_error=record.last_error,
            calls=record.calls,
        )

    def _changed(self, provider: ProviderConfig, change: Transition | None) -> None:
        record = self.get(provider)
        record.rev += 1
        self._dirty.add(health_key(provider))
        if change is None:
            return
        after = (
            f"; next probe in {change.cooldown_s:.1f} s" if change.cooldown_s else ""
        )
        logger.warning(
            "breaker %s (%s): %s -> %s: %s%s",
            provider.name,
            provider.model,
            change.old,
            change.new,
            change.reason,
            after,
        )


def _state(value: str) -> Literal["closed", "open", "half_open"]:
    if value == "open":
        return "open"
    return "half_open" if value == "half_open" else "closed"
