"""The tools' published schemas, restated in their plainest equivalent form.

Pydantic writes an optional field as `anyOf: [{type: T}, {type: null}]` with a
`title`, and nested models behind `$ref`. Clients validate every result
against the output schema (the Python SDK with jsonschema, on each call) and
models read the input schema, so the same constraints as `type: [T, "null"]`,
inlined and untitled, are cheaper for both. Meaning is unchanged.
"""

from __future__ import annotations

from typing import Any

from mcp_bridge.protocols.schema import inline_refs

__all__ = ["lean"]

Schema = dict[str, Any]

_DATA = frozenset({"default", "enum", "const", "examples"})
"""Keywords whose values are data, never schemas."""


def lean(schema: Schema) -> Schema:
    """`schema` with refs inlined, titles dropped and nullable unions as type lists."""
    leaner: Schema = _lean(inline_refs(schema), in_properties=False)
    return leaner


def _lean(node: Any, *, in_properties: bool) -> Any:
    if isinstance(node, list):
        return [_lean(item, in_properties=False) for item in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if in_properties or key not in _DATA:
            if key == "title" and not in_properties:
                continue  # A property may be called "title"; a schema's title is noise.
            value = _lean(value, in_properties=key == "properties")
        out[key] = value
    if in_properties:
        return out
    return _type_list(out)


def _type_list(node: Schema) -> Schema:
    branches = node.get("anyOf")
    if not isinstance(branches, list):
        return node
    if not all(_bare_type(b) for b in branches):
        return _nullable(node, branches)
    types: list[str] = []
    for branch in branches:
        kinds = branch["type"]
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            if kind not in types:
                types.append(kind)
    out = {k: v for k, v in node.items() if k != "anyOf"}
    out["type"] = types[0] if len(types) == 1 else types
    return out


def _bare_type(branch: Any) -> bool:
    return isinstance(branch, dict) and set(branch) == {"type"}


_TYPE_SPECIFIC = frozenset(
    {
        "type",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "properties",
        "required",
        "additionalProperties",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "description",
    }
)
"""Keywords that constrain only instances of their own type (or annotate), so
adding "null" to that type lets null through and changes nothing else."""


def _nullable(node: Schema, branches: list[Any]) -> Schema:
    """`anyOf: [{type: T, ...}, {type: null}]` as `{type: [T, null], ...}`."""
    if len(branches) != 2 or {"type": "null"} not in branches:
        return node
    (branch,) = [b for b in branches if b != {"type": "null"}]
    if not (
        isinstance(branch, dict)
        and isinstance(branch.get("type"), str)
        and set(branch) <= _TYPE_SPECIFIC
        and not set(branch) & (set(node) - {"anyOf"})
    ):
        return node
    out = {k: v for k, v in node.items() if k != "anyOf"}
    return {**out, **branch, "type": [branch["type"], "null"]}
