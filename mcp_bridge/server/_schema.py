"""The tools' published schemas, restated in their plainest equivalent form.

Pydantic titles every property and puts nested models behind `$ref`. Clients
validate every result against the output schema (the Python SDK resolves each
`$ref` with jsonschema on every call) and models read the input schema, so
the same constraints inlined and untitled are cheaper for both. Nullable
fields keep pydantic's `anyOf: [{type: T}, {type: null}]`: a `type` array
means the same but is less portable (clients that map tool schemas onto
Gemini's single-type dialect reject it; MCP Inspector flags it).
"""

from __future__ import annotations

from typing import Any

from mcp_bridge.protocols.schema import inline_refs, is_schema_slot

__all__ = ["lean"]

Schema = dict[str, Any]


def lean(schema: Schema) -> Schema:
    """`schema` with refs inlined and titles dropped."""
    leaner: Schema = _lean(inline_refs(schema), in_properties=False)
    return leaner


def _lean(node: Any, *, in_properties: bool) -> Any:
    if isinstance(node, list):
        return [_lean(item, in_properties=False) for item in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if in_properties or is_schema_slot(key):
            if key == "title" and not in_properties:
                continue  # A property may be called "title"; a schema's title is noise.
            value = _lean(value, in_properties=key == "properties")
        out[key] = value
    return out
