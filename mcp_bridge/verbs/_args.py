"""Checks shared by the three verbs' arguments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp_bridge.errors import InputError
from mcp_bridge.verbs._router import RouterLike

__all__ = ["check_providers", "check_timeout", "stored_plan"]


def check_timeout(timeout_s: float | None) -> None:
    """A deadline, when given, must be positive."""
    if timeout_s is not None and timeout_s <= 0:
        raise InputError(
            f"timeout_s must be a positive number of seconds (got {timeout_s}); "
            "leave it out for the configured default"
        )


def check_providers(providers: Sequence[str] | None) -> list[str] | None:
    """Names, when given, must be non-empty; duplicates are dropped in order."""
    if providers is None:
        return None
    names = [p.strip() for p in providers]
    if not names or any(not n for n in names):
        raise InputError(
            "providers must list provider names (see the bridge://providers "
            "resource); leave it out to let the bridge choose"
        )
    return list(dict.fromkeys(names))


async def stored_plan(router: RouterLike, plan_id: str, advice: str) -> dict[str, Any]:
    """The stored plan `plan_id`, or an InputError that ends with `advice`."""
    plan = await router.store.get_plan(plan_id)
    if plan is None:
        raise InputError(
            f"plan_id {plan_id} is not a stored plan; {advice} (the plans:// "
            "resources list stored plans)"
        )
    return plan
