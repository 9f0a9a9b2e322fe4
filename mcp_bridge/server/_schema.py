"""The tools' published schemas, restated in their plainest equivalent form.

Pydantic titles every property and puts nested models behind `$ref`. Clients
validate every result against the output schema (the Python SDK resolves each
`$ref` with jsonschema on every call) and models read the input schema, so
the same constraints inlined and untitled are cheaper for both. Nullable
fields keep pydantic's `anyOf: [{type: T}, {type: null}]`: a `type` array
means the same but is less portable (clients that map tool schemas onto
Gemini's single-type dialect reject it; MCP Inspector flags it). In output
schemas the null branch goes first: most nullable result fields are null,
and a validator that tries branches in order (jsonschema does) then builds
no error for them, a quarter of the Python client's check of a result.
"""

from __future__ import annotations

from typing import Any

from mcp_bridge.protocols.schema import inline_refs, is_schema_slot

__all__ = ["lean"]

Schema = dict[str, Any]


def lean(schema: Schema, *, null_first: bool = False) -> Schema:
    """`schema` with refs inlined and titles dropped (and, with `null_first`,
    each nullable `anyOf` trying null first)."""
    leaner: Schema = _lean(inline_refs(schema), False, null_first)
    return leaner


def _lean(node: Any, in_properties: bool, null_first: bool) -> Any:
    if isinstance(node, list):
        return [_lean(item, False, null_first) for item in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if in_properties or is_schema_slot(key):
            if key == "title" and not in_properties:
                continue  # A property may be called "title"; a schema's title is noise.
            value = _lean(value, key == "properties", null_first)
            if key == "anyOf" and null_first and not in_properties:
                value = sorted(value, key=lambda branch: branch != _NULL)
        out[key] = value
    return out


_NULL = {"type": "null"}
