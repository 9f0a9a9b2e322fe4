"""Turn a model's answer into checked JSON, or raise `InvalidResponse`."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mcp_bridge.canonical import ChatResponse
from mcp_bridge.errors import InputError, InvalidResponse
from mcp_bridge.validation import schema_error

__all__ = ["check_schema", "json_answer", "model_answer"]

M = TypeVar("M", bound=BaseModel)

# Models asked for JSON in the prompt sometimes wrap it in a Markdown fence.
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


def json_answer(response: ChatResponse) -> Any:
    """The parsed JSON of an answer: the protocol's parse, else the text's."""
    if response.data is not None:
        return response.data
    text = response.text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidResponse(
            f"the answer is not valid JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno}); answer with one JSON value only"
        ) from exc


def model_answer(response: ChatResponse, model: type[M]) -> M:
    """Parse an answer into `model`, raising `InvalidResponse` with the errors."""
    data = json_answer(response)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidResponse(
            f"the JSON does not match the required shape: {_describe(exc)}"
        ) from exc


def check_schema(schema: dict[str, Any]) -> None:
    """Raise `InputError` when a caller's JSON Schema is itself invalid."""
    problem = schema_error(schema)
    if problem is not None:
        raise InputError(f"json_schema is not a valid JSON Schema: {problem}")


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
