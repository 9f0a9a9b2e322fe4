"""Schema rewriting for OpenAI strict mode, Gemini and Anthropic tools."""

from __future__ import annotations

import jsonschema
import pytest

from mcp_bridge.protocols.schema import (
    UnsupportedSchema,
    drop_optional_nulls,
    for_anthropic,
    for_gemini,
    for_openai,
    inline_refs,
    unwrap,
    wrap,
)

WITH_REFS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "owner": {"$ref": "#/$defs/person"},
        "members": {"type": "array", "items": {"$ref": "#/$defs/person"}},
    },
    "required": ["owner"],
    "$defs": {
        "person": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "email": {"type": "string", "format": "email"},
                "site": {"type": "string", "format": "uri"},
            },
            "required": ["name"],
            "additionalProperties": True,
        }
    },
}


def test_local_refs_are_inlined_and_defs_dropped() -> None:
    flat = inline_refs(WITH_REFS)

    assert "$defs" not in flat
    assert flat["properties"]["owner"]["properties"]["name"] == {
        "type": "string",
        "minLength": 1,
    }
    assert flat["properties"]["members"]["items"] == flat["properties"]["owner"]


def test_recursive_refs_end_in_an_open_schema() -> None:
    tree = {
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
    }
    flat = inline_refs(tree)

    depth, node = 0, flat
    while node:
        node = node["properties"]["children"]["items"]
        depth += 1
    assert 1 < depth < 20


def test_openai_strict_closes_objects_and_makes_optionals_nullable() -> None:
    wire = for_openai(WITH_REFS, strict=True)

    assert wire.strict and not wire.wrapped
    assert "$schema" not in wire.schema
    assert wire.schema["required"] == ["owner", "members"]
    assert wire.schema["additionalProperties"] is False
    members = wire.schema["properties"]["members"]
    assert members["type"] == ["array", "null"]
    person = members["items"]
    assert person == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "email": {"type": ["string", "null"], "format": "email"},
            "site": {"type": ["string", "null"]},
        },
        "required": ["name", "email", "site"],
        "additionalProperties": False,
    }


def test_openai_strict_turns_one_of_into_any_of_and_merges_all_of() -> None:
    schema = {
        "type": "object",
        "allOf": [
            {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}},
        ],
    }
    wire = for_openai(schema, strict=True)

    assert wire.schema["required"] == ["a", "b"]
    assert wire.schema["properties"]["b"] == {
        "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]
    }


def test_openai_strict_is_given_up_for_free_form_objects() -> None:
    schema = {"type": "object", "properties": {"meta": {"type": "object"}}}

    assert for_openai(schema, strict=True).strict is False


def test_openai_wraps_a_top_level_array() -> None:
    wire = for_openai({"type": "array", "items": {"type": "integer"}}, strict=True)

    assert wire.wrapped
    assert wire.schema["required"] == ["value"]
    assert wire.schema["properties"]["value"]["type"] == "array"


def test_openai_non_strict_keeps_keywords() -> None:
    wire = for_openai(WITH_REFS, strict=False)

    assert wire.strict is False
    owner = wire.schema["properties"]["owner"]
    assert owner["properties"]["site"]["format"] == "uri"
    assert owner["additionalProperties"] is True


def test_strict_nulls_are_dropped_so_the_original_schema_accepts_the_answer() -> None:
    answer = {
        "owner": {"name": "Ann", "email": None, "site": None},
        "members": None,
    }
    cleaned = drop_optional_nulls(answer, WITH_REFS)

    assert cleaned == {"owner": {"name": "Ann"}}
    jsonschema.validate(cleaned, WITH_REFS)


def test_nulls_allowed_by_the_original_schema_are_kept() -> None:
    schema = {"type": "object", "properties": {"note": {"type": ["string", "null"]}}}

    assert drop_optional_nulls({"note": None}, schema) == {"note": None}


def test_gemini_gets_the_openapi_subset() -> None:
    schema, wrapped = for_gemini(WITH_REFS)

    assert not wrapped
    assert "$schema" not in schema
    person = schema["properties"]["owner"]
    assert person == {
        "type": "OBJECT",
        "properties": {
            "name": {"type": "STRING", "minLength": 1},
            "email": {"type": "STRING"},
            "site": {"type": "STRING"},
        },
        "required": ["name"],
        "propertyOrdering": ["name", "email", "site"],
    }


def test_gemini_type_lists_and_null_options_become_nullable() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": ["integer", "null"]},
            "b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "c": {"type": ["string", "number"]},
            "d": {"enum": ["x", "y", None]},
            "e": {"const": "fixed"},
            "f": {"type": "integer", "enum": [1, 2]},
        },
    }
    props = for_gemini(schema)[0]["properties"]

    assert props["a"] == {"type": "INTEGER", "nullable": True}
    assert props["b"] == {"type": "STRING", "nullable": True}
    assert props["c"] == {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]}
    assert props["d"] == {"type": "STRING", "enum": ["x", "y"], "nullable": True}
    assert props["e"] == {"type": "STRING", "enum": ["fixed"]}
    assert props["f"] == {"type": "INTEGER"}


def test_gemini_wraps_non_object_top_levels() -> None:
    schema, wrapped = for_gemini({"type": "string", "enum": ["yes", "no"]})

    assert wrapped
    assert schema["properties"]["value"] == {"type": "STRING", "enum": ["yes", "no"]}
    assert "additionalProperties" not in schema


def test_gemini_refuses_a_free_form_object() -> None:
    with pytest.raises(UnsupportedSchema):
        for_gemini({"type": "object", "properties": {"x": {"type": "object"}}})


def test_anthropic_keeps_object_schemas_and_wraps_the_rest() -> None:
    assert for_anthropic(WITH_REFS) == (WITH_REFS, False)
    wrapped, was_wrapped = for_anthropic(
        {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    )
    assert was_wrapped and wrapped["type"] == "object"


def test_wrap_and_unwrap_round_trip() -> None:
    schema = {
        "type": "array",
        "items": {"$ref": "#/$defs/x"},
        "$defs": {"x": {"type": "integer"}},
    }
    wrapped = wrap(schema)

    jsonschema.validate({"value": [1, 2]}, wrapped)
    assert unwrap({"value": [1, 2]}) == [1, 2]
    assert unwrap({"value": 1, "other": 2}) == {"value": 1, "other": 2}
