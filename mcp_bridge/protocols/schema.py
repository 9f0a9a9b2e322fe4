"""One JSON Schema, rewritten for what each provider accepts.

Callers write ordinary JSON Schema. Providers accept dialects of it:

- OpenAI strict mode wants every object closed (`additionalProperties: false`)
  with every property required, optional ones made nullable instead, an
  object at the top, no `$ref` we cannot inline, and a short keyword list.
- Gemini takes a subset of OpenAPI 3.0: no `$ref`, no `additionalProperties`,
  `nullable` instead of type lists, string-only enums, upper-case types.
- Anthropic tool input schemas must be objects at the top.

A non-object top level is wrapped as `{"value": ...}`; `unwrap` takes it out
of the answer again. Rewriting only ever loosens or restates; answers are
still validated against the caller's original schema.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

from mcp_bridge.validation import accepts_null

__all__ = [
    "WRAP_KEY",
    "OpenAISchema",
    "UnsupportedSchema",
    "for_anthropic",
    "for_gemini",
    "for_openai",
    "inline_refs",
    "is_schema_slot",
    "drop_optional_nulls",
    "needs_wrapping",
    "unwrap",
    "wrap",
]

Schema = dict[str, Any]

WRAP_KEY = "value"
_MAX_REF_DEPTH = 8

_OPENAI_STRICT_KEYS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items",
        "anyOf", "enum", "const", "description", "title", "pattern", "format",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "multipleOf", "minItems", "maxItems",
    }
)  # fmt: skip
_OPENAI_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6",
     "uuid"}
)  # fmt: skip
_GEMINI_KEYS = frozenset(
    {
        "type", "format", "title", "description", "nullable", "enum", "items",
        "properties", "required", "minItems", "maxItems", "minLength",
        "maxLength", "pattern", "minimum", "maximum", "anyOf",
        "minProperties", "maxProperties", "propertyOrdering",
    }
)  # fmt: skip
_GEMINI_FORMATS = {
    "string": {"enum", "date-time"},
    "integer": {"int32", "int64"},
    "number": {"float", "double"},
}


class UnsupportedSchema(ValueError):
    """The schema cannot be expressed in a provider's dialect."""


def needs_wrapping(schema: Schema) -> bool:
    """True unless the top level is a plain object schema."""
    return schema.get("type") != "object"


def wrap(schema: Schema) -> Schema:
    """An object schema with `schema` as its single required property."""
    inner = {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}
    wrapped: Schema = {
        "type": "object",
        "properties": {WRAP_KEY: inner},
        "required": [WRAP_KEY],
        "additionalProperties": False,
    }
    for key in ("$defs", "definitions"):
        if key in schema:
            wrapped[key] = schema[key]
    return wrapped


def unwrap(value: Any) -> Any:
    """The answer inside a wrapped object (or `value` when it is not one)."""
    if isinstance(value, dict) and set(value) == {WRAP_KEY}:
        return value[WRAP_KEY]
    return value


def inline_refs(schema: Schema) -> Schema:
    """`schema` with local `$ref`s replaced by their targets and `$defs` dropped.

    Recursion deeper than a few levels ends in an unconstrained `{}`; the
    validation against the original schema still checks those parts.
    """
    root = copy.deepcopy(schema)
    inlined: Schema = _inline(root, root, 0)
    return inlined


def _inline(node: Any, root: Schema, depth: int) -> Any:
    if isinstance(node, list):
        return [_inline(item, root, depth) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        if depth >= _MAX_REF_DEPTH:
            return {}
        target = _resolve(node["$ref"], root)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**target, **siblings}, root, depth + 1)
    return {
        key: _inline(value, root, depth) if is_schema_slot(key) else value
        for key, value in node.items()
        if key not in ("$defs", "definitions")
    }


def is_schema_slot(key: str) -> bool:
    """False for keywords whose values are data (enum, const, ...), never schemas."""
    return key not in ("enum", "const", "default", "examples", "required")


def _resolve(ref: str, root: Schema) -> Schema:
    if not ref.startswith("#"):
        raise UnsupportedSchema(f"only local $ref values are supported, not {ref}")
    node: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise UnsupportedSchema(f"$ref {ref} points at nothing in the schema")
        node = node[part]
    if not isinstance(node, dict):
        raise UnsupportedSchema(f"$ref {ref} does not point at a schema")
    return node


class OpenAISchema(NamedTuple):
    """A schema for OpenAI's `response_format`."""

    schema: Schema
    strict: bool
    """False when strict mode had to be given up (see `for_openai`)."""
    wrapped: bool


def for_openai(schema: Schema, *, strict: bool) -> OpenAISchema:
    """The `json_schema.schema` for OpenAI, strict-mode ready when asked.

    Strict mode is switched off when a part of the schema cannot be closed
    (a free-form object or an unconstrained value): OpenAI would refuse it.
    """
    flat = inline_refs(schema)
    wrapped = needs_wrapping(flat)
    if wrapped:
        flat = wrap(flat)
    if not strict:
        return OpenAISchema(flat, False, wrapped)
    if not _strict_ok(flat):
        return OpenAISchema(flat, False, wrapped)
    return OpenAISchema(_openai_strict(flat), True, wrapped)


def drop_optional_nulls(value: Any, schema: Schema) -> Any:
    """`value` without the nulls strict mode forced into optional properties.

    Strict mode spells "optional" as "required but nullable", so a model
    answers `"zip": null` where the caller's schema wants the key absent.
    """
    return _drop_nulls(value, inline_refs(schema))


def _drop_nulls(value: Any, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_drop_nulls(item, schema["items"]) for item in value]
    if not isinstance(value, dict) or not isinstance(schema.get("properties"), dict):
        return value
    required = set(schema.get("required", []))
    out = {}
    for key, item in value.items():
        sub = schema["properties"].get(key)
        if item is None and key not in required and not _accepts_null(sub):
            continue
        out[key] = _drop_nulls(item, sub)
    return out


def _accepts_null(schema: Any) -> bool:
    if not isinstance(schema, dict | bool):
        return True
    return accepts_null(schema)


def _openai_strict(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    node = _merge_all_of(dict(node))
    if "oneOf" in node:
        node["anyOf"] = node.pop("oneOf")
    if node.get("format") not in _OPENAI_FORMATS:
        node.pop("format", None)
    out = {k: v for k, v in node.items() if k in _OPENAI_STRICT_KEYS}
    if "items" in out:
        out["items"] = _openai_strict(out["items"])
    if "anyOf" in out:
        out["anyOf"] = [_openai_strict(item) for item in out["anyOf"]]
    if out.get("type") == "object" or "properties" in out:
        out = _close_object(out)
    return out


def _close_object(node: Schema) -> Schema:
    properties = node.get("properties", {})
    required = set(node.get("required", []))
    closed: Schema = {}
    for name, sub in properties.items():
        sub = _openai_strict(sub)
        closed[name] = sub if name in required else _nullable(sub)
    return {
        **node,
        "type": "object",
        "properties": closed,
        "required": list(properties),
        "additionalProperties": False,
    }


def _nullable(node: Schema) -> Schema:
    """`node` that also admits null (how strict mode spells "optional")."""
    kind = node.get("type")
    if "anyOf" in node:
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    if isinstance(kind, str):
        out = {**node, "type": [kind, "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    if isinstance(kind, list) and "null" not in kind:
        return {**node, "type": [*kind, "null"]}
    return {"anyOf": [node, {"type": "null"}]}


def _strict_ok(node: Any) -> bool:
    """False when some part is unconstrained or a free-form object."""
    if not isinstance(node, dict):
        return True
    node = _normalise(node)
    if not _KINDED.intersection(node):
        return False
    kind = node.get("type")
    is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
    if is_object and not node.get("properties"):
        return False
    children = [node.get("items"), *node.get("anyOf", [])]
    children += list(node.get("properties", {}).values())
    return all(_strict_ok(child) for child in children if child is not None)


_KINDED = frozenset({"type", "anyOf", "enum", "const"})


def _merge_all_of(node: Schema) -> Schema:
    """Fold `allOf` parts into one schema (properties and required combined)."""
    parts = node.pop("allOf", None)
    if not isinstance(parts, list):
        return node
    for part in parts:
        if not isinstance(part, dict):
            continue
        part = _merge_all_of(dict(part))
        props = {**part.get("properties", {}), **node.get("properties", {})}
        props = {**node.get("properties", {}), **props}
        required = [*node.get("required", []), *part.get("required", [])]
        node = {**part, **node}
        if props:
            node["properties"] = props
        if required:
            node["required"] = list(dict.fromkeys(required))
    return node


def for_anthropic(schema: Schema) -> tuple[Schema, bool]:
    """A tool `input_schema` for `schema`, and whether it was wrapped."""
    if needs_wrapping(schema):
        return wrap(schema), True
    return copy.deepcopy(schema), False


def for_gemini(schema: Schema) -> tuple[Schema, bool]:
    """A Gemini `responseSchema` for `schema`, and whether it was wrapped.

    Raises `UnsupportedSchema` when Gemini cannot express it (a free-form
    object); the adapter then asks for JSON in words instead.
    """
    flat = inline_refs(schema)
    wrapped = needs_wrapping(flat) and not _is_nullable_object(flat)
    return _gemini(wrap(flat) if wrapped else flat), wrapped


def _is_nullable_object(node: Schema) -> bool:
    return node.get("type") == ["object", "null"] or node.get("type") == [
        "null",
        "object",
    ]


def _gemini(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    node = _gemini_types(_normalise(node))
    if "anyOf" in node:
        node = _gemini_any_of(node)
        if "anyOf" not in node:
            return _gemini(node)
    out = {k: v for k, v in node.items() if k in _GEMINI_KEYS}
    _gemini_enum(out)
    _gemini_format(out)
    if "anyOf" in out:
        out["anyOf"] = [_gemini(option) for option in out["anyOf"]]
    if "items" in out:
        out["items"] = _gemini(out["items"])
    if "properties" in out:
        out["properties"] = {k: _gemini(v) for k, v in out["properties"].items()}
        out["propertyOrdering"] = list(out["properties"])
    if out.get("type") == "object" and not out.get("properties"):
        raise UnsupportedSchema("Gemini cannot describe an object without properties")
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].upper()
    return out


def _normalise(node: Schema) -> Schema:
    """allOf folded, oneOf as anyOf, const as a one-value enum."""
    node = _merge_all_of(dict(node))
    if "oneOf" in node:
        node["anyOf"] = node.pop("oneOf")
    if "const" in node:
        node["enum"] = [node.pop("const")]
    return node


def _gemini_types(node: Schema) -> Schema:
    """Type lists become `nullable`, or `anyOf` when several types remain."""
    kind = node.get("type")
    if not isinstance(kind, list):
        return node
    rest = [k for k in kind if k != "null"]
    node = {k: v for k, v in node.items() if k != "type"}
    if len(rest) < len(kind):
        node["nullable"] = True
    if len(rest) == 1:
        node["type"] = rest[0]
    elif rest:
        node["anyOf"] = [{"type": k} for k in rest]
    return node


def _gemini_any_of(node: Schema) -> Schema:
    """Null options become `nullable`; a single remaining option is merged in."""
    options = [o for o in node["anyOf"] if o != {"type": "null"}]
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if len(options) < len(node["anyOf"]):
        rest["nullable"] = True
    if len(options) == 1:
        return {**options[0], **rest}
    rest["anyOf"] = options
    return rest


def _gemini_enum(node: Schema) -> None:
    values = node.get("enum")
    if values is None:
        return
    if all(isinstance(v, str) for v in values if v is not None):
        node["enum"] = [v for v in values if v is not None]
        node["type"] = "string"
        if None in values:
            node["nullable"] = True
    else:
        # Gemini enums are strings only; the original schema still checks.
        node.pop("enum")


def _gemini_format(node: Schema) -> None:
    allowed = _GEMINI_FORMATS.get(str(node.get("type")), set())
    if node.get("format") not in allowed:
        node.pop("format", None)
