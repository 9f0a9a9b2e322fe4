"""The slice of the router and store that the verbs use, as protocols.

They mirror `mcp_bridge.resilience.Router` and `mcp_bridge.store.StateStore`
(see the router contract), so the verbs depend on behaviour, not on a class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Protocol

from mcp_bridge.canonical import CallResult, ChatRequest, ChatResponse
from mcp_bridge.config import BridgeConfig

__all__ = ["PlanStore", "ProgressFn", "RouterLike", "Validator"]

Validator = Callable[[ChatResponse], Any]
ProgressFn = Callable[[str], Awaitable[None]]


class PlanStore(Protocol):
    """Plan persistence, shared with provider health."""

    async def save_plan(self, plan_id: str, plan: dict[str, Any]) -> None: ...

    async def get_plan(self, plan_id: str) -> dict[str, Any] | None: ...

    async def list_plans(self, limit: int = 50) -> list[dict[str, Any]]: ...


class RouterLike(Protocol):
    """Routes one request to a healthy provider, with failover."""

    @property
    def config(self) -> BridgeConfig: ...

    @property
    def store(self) -> PlanStore: ...

    async def call(
        self,
        request: ChatRequest,
        *,
        providers: Sequence[str] | None = None,
        timeout_s: float | None = None,
        validate: Validator | None = None,
        avoid: Collection[str] = (),
        progress: ProgressFn | None = None,
    ) -> CallResult: ...
