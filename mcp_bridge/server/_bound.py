"""Keep a result under `limits.max_result_chars`, saying so when it is cut."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel

from mcp_bridge.errors import InputError

__all__ = ["bound_result"]

R = TypeVar("R", bound=BaseModel)

_MARK = " [...cut]"


def bound_result(result: R, limit: int) -> R:
    """Return `result`, or a copy whose longest strings are cut to fit `limit`.

    Long strings (the answer text, long reasons) are shortened all to the same
    length, the largest that fits; the `note` field says what happened.
    """
    dump = result.model_dump(mode="json")
    size = _size(dump)
    if size <= limit:
        return result
    note = (
        f"the result was {size:,} characters and was cut to fit the limit of "
        f"{limit:,} (limits.max_result_chars); ask for a shorter answer, or read "
        "a stored plan through its plans:// resource"
    )
    cut = _fit(dump, limit - len(note) - 64)
    if cut is None:
        raise InputError(
            f"the result is {size:,} characters, over the limit of {limit:,} "
            "(limits.max_result_chars), even with every text cut; ask for less"
        )
    cut["note"] = note
    if "truncated" in cut:
        cut["truncated"] = True
    return type(result).model_validate(cut)


def _fit(dump: dict[str, Any], budget: int) -> dict[str, Any] | None:
    low, high = 0, _longest(dump)
    best: dict[str, Any] | None = None
    while low <= high:
        middle = (low + high) // 2
        candidate = _shorten(dump, middle)
        if _size(candidate) <= budget:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def _shorten(value: Any, length: int) -> Any:
    if isinstance(value, str) and len(value) > length:
        return value[:length] + _MARK
    if isinstance(value, dict):
        return {k: _shorten(v, length) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v, length) for v in value]
    return value


def _longest(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((_longest(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((_longest(v) for v in value), default=0)
    return 0


def _size(dump: Any) -> int:
    return len(json.dumps(dump, ensure_ascii=False))
