"""State kept in process memory: for tests and as the fallback of every store."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

from mcp_bridge.store._base import HealthDict, StateStore

__all__ = ["MemoryStore"]


class MemoryStore(StateStore):
    """A store that lives and dies with the process."""

    name = "memory"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._health: dict[str, HealthDict] = {}
        self._leases: dict[str, float] = {}
        self._plans: dict[str, dict[str, Any]] = {}

    async def load_health(self, keys: Sequence[str]) -> dict[str, HealthDict]:
        """Return copies of the stored records."""
        return self.read_health(keys)

    def read_health(self, keys: Sequence[str]) -> dict[str, HealthDict]:
        """The synchronous body of `load_health`."""
        return {k: _copy_health(self._health[k]) for k in keys if k in self._health}

    async def save_health(self, key: str, record: HealthDict) -> None:
        """Keep the record unless a newer revision is stored."""
        self.write_health(key, record)

    def write_health(self, key: str, record: HealthDict) -> None:
        """The synchronous body of `save_health`."""
        stored = self._health.get(key)
        if stored is None or int(record.get("rev", 0)) >= int(stored.get("rev", 0)):
            self._health[key] = _copy_health(record)

    async def try_acquire_probe(self, key: str, ttl_s: float) -> bool:
        """Take the lease when it is free or expired; no await, so it is atomic."""
        return self.acquire(key, ttl_s)

    def acquire(self, key: str, ttl_s: float) -> bool:
        """The synchronous body of `try_acquire_probe`."""
        now = self._clock()
        if self._leases.get(key, float("-inf")) > now:
            return False
        self._leases[key] = now + ttl_s
        return True

    async def save_plan(self, plan_id: str, plan: dict[str, Any]) -> None:
        """Insert or replace; dict order keeps the first insertion's place."""
        self.write_plan(plan_id, plan)

    def write_plan(self, plan_id: str, plan: dict[str, Any]) -> None:
        """The synchronous body of `save_plan`."""
        self._plans[plan_id] = copy.deepcopy(plan)

    async def get_plan(self, plan_id: str) -> dict[str, Any] | None:
        """Return a copy of the plan, or None."""
        plan = self._plans.get(plan_id)
        return copy.deepcopy(plan) if plan is not None else None

    async def list_plans(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        newest = list(reversed(self._plans.values()))[: max(limit, 0)]
        return [copy.deepcopy(plan) for plan in newest]


def _copy_health(record: HealthDict) -> HealthDict:
    """A copy that shares nothing mutable: health records hold flat lists only.

    Cheaper than `copy.deepcopy`, which ran twice per routed call.
    """
    return {k: list(v) if isinstance(v, list) else v for k, v in record.items()}
