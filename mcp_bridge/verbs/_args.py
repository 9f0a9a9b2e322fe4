"""Checks shared by the three verbs' arguments."""

from __future__ import annotations

from collections.abc import Sequence

from mcp_bridge.errors import InputError

__all__ = ["check_providers", "check_timeout"]


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
