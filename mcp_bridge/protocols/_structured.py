"""Asking for JSON in words, and checking the JSON that comes back.

Whatever the wire format did to the schema, the answer is validated against
the caller's original schema here, so a provider that ignored or bent it
cannot pass an invalid answer up as a success.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mcp_bridge.errors import InvalidResponse
from mcp_bridge.protocols._errors import Caller
from mcp_bridge.validation import violation

__all__ = [
    "load_json",
    "parse_answer",
    "schema_instruction",
    "validate",
    "with_schema_instruction",
]

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)\n?\s*```", re.DOTALL)
_EXCERPT_CHARS = 200


def schema_instruction(schema: dict[str, Any]) -> str:
    """The words that ask for JSON when the wire format cannot carry a schema."""
    return (
        "Reply with one JSON value and nothing else: no prose, no code fence. "
        "It must satisfy this JSON Schema:\n"
        + json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    )


def with_schema_instruction(system: str | None, schema: dict[str, Any]) -> str:
    """`system` with the schema instruction appended."""
    instruction = schema_instruction(schema)
    return f"{system}\n\n{instruction}" if system else instruction


def parse_answer(text: str, schema: dict[str, Any], caller: Caller) -> Any:
    """Parse the JSON answer in `text` and validate it against `schema`."""
    value = load_json(text, caller)
    validate(value, schema, caller)
    return value


def validate(value: Any, schema: dict[str, Any], caller: Caller) -> None:
    """Raise `InvalidResponse` naming the first violation of `schema`."""
    problem = violation(value, schema)
    if problem is not None:
        raise caller.error(
            InvalidResponse,
            "the answer does not satisfy the requested schema "
            + problem[: _EXCERPT_CHARS + 80],
        )


def load_json(text: str, caller: Caller) -> Any:
    """The JSON value in `text`, tolerating a ```json fence around it."""
    candidate = text.strip()
    fenced = _FENCE.search(candidate)
    if fenced and not candidate.startswith(("{", "[")):
        candidate = fenced.group(1).strip()
    try:
        return json.loads(candidate)
    except json.JSONDecodeError as exc:
        excerpt = candidate[:_EXCERPT_CHARS] or "(empty answer)"
        raise caller.error(
            InvalidResponse,
            f"the answer is not valid JSON ({exc.msg} at char {exc.pos}): {excerpt}",
        ) from exc
