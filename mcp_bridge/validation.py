"""Checking values against JSON Schemas, with one compiled validator per schema.

jsonschema is imported on first use: it costs about 70 ms of start-up, and
Claude Code starts a stdio server for every session. Compiled validators are
cached because building one costs far more than running it.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = ["accepts_null", "schema_error", "violation"]


def violation(value: Any, schema: dict[str, Any] | bool) -> str | None:
    """The most relevant way `value` breaks `schema`, or None when it fits.

    The text reads "at <json/path>: <what is wrong>" ("(root)" for the top).
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return f"at {where}: {error.message}"


def accepts_null(schema: dict[str, Any] | bool) -> bool:
    """True when JSON null satisfies `schema`."""
    return bool(_validator(schema).is_valid(None))


def schema_error(schema: dict[str, Any]) -> str | None:
    """Why `schema` is not a valid JSON Schema, or None when it is."""
    from jsonschema.exceptions import SchemaError

    try:
        _validator(schema).check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return None


def _validator(schema: dict[str, Any] | bool) -> Validator:
    return _compiled(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _compiled(key: str) -> Validator:
    from jsonschema.validators import validator_for

    schema = json.loads(key)
    cls = validator_for(schema)
    return cls(schema)
