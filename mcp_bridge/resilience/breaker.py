"""The circuit breaker of one provider+model, as pure transitions on a record.

    closed --N consecutive failures, or a failure ratio over the window--> open
    open --cooldown over, one probe admitted--> half_open
    half_open --probe succeeds--> closed
    half_open --probe fails--> open (cooldown doubled, jittered, capped)

The record lives in the state store; these functions change it in place and
return what changed so that the caller can log and persist it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mcp_bridge.config import BreakerSettings
from mcp_bridge.resilience.health import HealthRecord

__all__ = ["Breaker", "Gate", "Transition"]

Gate = str
""""pass" (closed), "probe" (cooldown over: one caller may test it), "open"."""


@dataclass(frozen=True)
class Transition:
    """A change of breaker state, worth one WARNING line."""

    old: str
    new: str
    reason: str
    cooldown_s: float | None = None


class Breaker:
    """Applies `BreakerSettings` to health records."""

    def __init__(self, settings: BreakerSettings, rng: random.Random | None = None):
        self.settings = settings
        self._rng = rng or random.Random()

    def gate(self, record: HealthRecord, now: float) -> Gate:
        """May a call go to this provider now, and as what?"""
        if record.state == "closed":
            return "pass"
        if record.state == "open" and (record.open_until or 0.0) > now:
            return "open"
        return "probe"

    def begin_probe(self, record: HealthRecord) -> Transition:
        """Mark the admitted probe; others keep seeing the breaker as not closed."""
        old, record.state = record.state, "half_open"
        return Transition(old, "half_open", "cooldown over; sending one probe")

    def on_success(self, record: HealthRecord) -> Transition | None:
        """Count a success; closes a half-open or open breaker."""
        record.consecutive_failures = 0
        self._remember(record, ok=True)
        if record.state == "closed":
            return None
        old = record.state
        record.state, record.open_until, record.open_count = "closed", None, 0
        return Transition(old, "closed", "probe succeeded")

    def on_failure(
        self, record: HealthRecord, now: float, retry_after: float | None = None
    ) -> Transition | None:
        """Count a failure; opens the breaker when a threshold is crossed."""
        record.consecutive_failures += 1
        self._remember(record, ok=False)
        if record.state == "half_open" or (
            record.state == "open" and (record.open_until or 0.0) <= now
        ):
            return self._open(record, now, retry_after, "probe failed")
        if record.state == "closed":
            reason = self._trip_reason(record)
            if reason:
                return self._open(record, now, retry_after, reason)
        return None

    def cooldown_s(self, open_count: int, retry_after: float | None) -> float:
        """Base cooldown doubled per reopening, jittered +-20 %, capped."""
        if retry_after is not None and retry_after > 0:
            return retry_after
        s = self.settings
        grown = s.base_cooldown_s * 2.0 ** min(open_count, 32)
        return min(grown * self._rng.uniform(0.8, 1.2), s.max_cooldown_s)

    def _trip_reason(self, record: HealthRecord) -> str | None:
        s = self.settings
        if record.consecutive_failures >= s.consecutive_failures:
            return f"{record.consecutive_failures} consecutive failures"
        window = record.window[-s.window :]
        failures = window.count(False)
        if len(window) >= s.min_calls and failures / len(window) >= s.failure_ratio:
            return f"{failures} of the last {len(window)} calls failed"
        return None

    def _open(
        self, record: HealthRecord, now: float, retry_after: float | None, why: str
    ) -> Transition:
        cooldown = self.cooldown_s(record.open_count, retry_after)
        old = record.state
        record.state, record.open_until = "open", now + cooldown
        record.open_count += 1
        return Transition(old, "open", why, cooldown)

    def _remember(self, record: HealthRecord, *, ok: bool) -> None:
        record.window = [*record.window, ok][-self.settings.window :]
