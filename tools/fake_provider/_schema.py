"""Build a small JSON value that satisfies a JSON Schema (or Gemini's OpenAPI subset).

Covers what answers to `complete`, `plan` and `verify` use: objects with their
properties, strings (enum, const, length, a few formats), numbers and integers
with bounds, arrays with minItems, booleans, null, nullable, anyOf / oneOf /
allOf and local `$ref`. Regex patterns are not honoured.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["sample_for_schema"]

_MAX_DEPTH = 6
_FORMAT_SAMPLES = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "email": "fake@example.com",
    "uri": "https://example.com/fake",
    "url": "https://example.com/fake",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def sample_for_schema(schema: Any) -> Any:
    """Return a deterministic value valid against `schema`."""
    root = schema if isinstance(schema, dict) else {}
    return _Sampler(root).value(root, "value", 0)


class _Sampler:
    """Walks one schema, resolving local references against its root."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def value(self, schema: Any, name: str, depth: int) -> Any:
        """Sample one subschema; `name` seeds readable strings."""
        if not isinstance(schema, dict):
            return f"fake {name}"
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                return self.value(self._pick(schema[key], depth), name, depth)
        if schema.get("allOf"):
            return self.value(self._merge(schema["allOf"]), name, depth)
        return self._typed(schema, _first_type(schema), name, depth)

    def _typed(self, schema: dict[str, Any], kind: str, name: str, depth: int) -> Any:
        if kind == "null":
            return None
        if kind == "boolean":
            return True
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "string":
            return _string(schema, name)
        if kind == "array":
            return self._array(schema, name, depth)
        return self._object(schema, depth)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        # Deep in a recursive schema only the required members are filled.
        names = [n for n in props if depth < _MAX_DEPTH or n in required]
        names += [n for n in required if n not in props]
        return {n: self.value(props.get(n, {}), n, depth + 1) for n in names}

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        low = int(schema.get("minItems", 0))
        high = schema.get("maxItems")
        count = max(low, 0 if depth >= _MAX_DEPTH else 1)
        if high is not None:
            count = min(count, int(high))
        prefix = schema.get("prefixItems") or []
        items = [self.value(p, name, depth + 1) for p in prefix[:count]]
        item_schema = schema.get("items", {})
        while len(items) < count:
            items.append(self.value(item_schema, f"{name} {len(items) + 1}", depth + 1))
        if schema.get("uniqueItems") and all(isinstance(i, str) for i in items):
            items = [f"{item} {i}" if i else item for i, item in enumerate(items)]
        return items

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            target: Any = self.root
            for part in str(schema["$ref"]).lstrip("#/").split("/"):
                if part:
                    target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
            schema = target if isinstance(target, dict) else {}
            seen += 1
        return schema

    def _pick(self, options: list[Any], depth: int) -> Any:
        # Past the depth limit prefer a branch that ends recursion (null or scalar).
        if depth >= _MAX_DEPTH:
            for option in options:
                resolved = self._resolve(option) if isinstance(option, dict) else {}
                if _first_type(resolved) not in ("object", "array"):
                    return option
        return options[0]

    def _merge(self, parts: list[Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for part in parts:
            resolved = self._resolve(part) if isinstance(part, dict) else {}
            for key, val in resolved.items():
                if key == "properties":
                    merged.setdefault("properties", {}).update(val)
                elif key == "required":
                    merged.setdefault("required", []).extend(val)
                else:
                    merged.setdefault(key, val)
        return merged


def _first_type(schema: dict[str, Any]) -> str:
    """The schema's type, lower-cased (Gemini writes OBJECT), null chosen last."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [str(k).lower() for k in kind]
        non_null = [k for k in kinds if k != "null"]
        return non_null[0] if non_null else "null"
    if isinstance(kind, str):
        return kind.lower()
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    low = schema.get("minimum")
    high = schema.get("maximum")
    step = 1 if integer else 0.5
    value: float = 1
    if schema.get("exclusiveMinimum") is not None:
        low = float(schema["exclusiveMinimum"]) + step / 2
    if schema.get("exclusiveMaximum") is not None:
        high = float(schema["exclusiveMaximum"]) - step / 2
    if low is not None and value < float(low):
        value = float(low)
    if high is not None and value > float(high):
        value = float(high)
    if integer:
        rounded = math.ceil(value) if low is not None else math.floor(value)
        return int(rounded)
    return value


def _string(schema: dict[str, Any], name: str) -> str:
    text = _FORMAT_SAMPLES.get(str(schema.get("format")), f"fake {name}")
    low = int(schema.get("minLength", 0))
    if len(text) < low:
        text = text + "x" * (low - len(text))
    high = schema.get("maxLength")
    if high is not None:
        text = text[: int(high)]
    return text
