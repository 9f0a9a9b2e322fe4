"""The state store contract: health records, probe leases and plans."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import Any

__all__ = ["HealthDict", "StateStore"]

HealthDict = dict[str, Any]
"""One provider+model's health record as plain JSON data.

The store treats it as opaque except for the integer field "rev": a write
never replaces a stored record that has a higher "rev".
"""


class StateStore(ABC):
    """Where health state and plans live, shared by every process that opens it.

    Health writes may be write-behind (call `flush` or leave the `async with`
    block to persist them); plan writes are durable when `save_plan` returns.
    """

    name: str = "state"
    degraded: bool = False
    """True when the store fell back to process memory after an error."""

    @abstractmethod
    async def load_health(self, keys: Sequence[str]) -> dict[str, HealthDict]:
        """Return the current records for `keys` (missing keys are left out)."""

    @abstractmethod
    async def save_health(self, key: str, record: HealthDict) -> None:
        """Store a record unless a record with a higher "rev" is already stored."""

    @abstractmethod
    async def try_acquire_probe(self, key: str, ttl_s: float) -> bool:
        """Atomically take the lease `key` for `ttl_s` seconds.

        True for exactly one caller across every task and process sharing
        the store until the lease expires.
        """

    @abstractmethod
    async def save_plan(self, plan_id: str, plan: dict[str, Any]) -> None:
        """Insert or replace a plan; a replaced plan keeps its creation order."""

    @abstractmethod
    async def get_plan(self, plan_id: str) -> dict[str, Any] | None:
        """Return a stored plan, or None."""

    @abstractmethod
    async def list_plans(self, limit: int = 50) -> list[dict[str, Any]]:
        """Return up to `limit` plans, newest first."""

    async def flush(self) -> None:
        """Persist pending writes now (no-op for write-through stores)."""
        return None

    async def aclose(self) -> None:
        """Flush and release resources; the store is unusable afterwards."""
        await self.flush()

    async def __aenter__(self) -> StateStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
