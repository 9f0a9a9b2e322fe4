"""The published tool schemas: plain, equivalent restatements."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from mcp_bridge.server import build_server
from mcp_bridge.server._schema import lean
from tests.server._upstream import Bridge, make_config


class Inner(BaseModel):
    title: str
    note: str | None = None


class Outer(BaseModel):
    items: list[Inner]
    count: int | float | None = None
    kind: str = "title"


def test_lean_inlines_refs_and_drops_titles_but_keeps_portable_unions() -> None:
    schema = lean(Outer.model_json_schema())

    assert "$defs" not in schema and "title" not in schema
    item = schema["properties"]["items"]["items"]
    assert set(item["properties"]) == {"title", "note"}  # a property named title stays
    assert "title" not in item["properties"]["note"]
    # A type array would mean the same but breaks single-type client dialects.
    assert item["properties"]["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert schema["properties"]["kind"]["default"] == "title"


@pytest.mark.parametrize(
    "value",
    [
        {"items": [{"title": "a"}], "count": None},
        {"items": [{"title": "a", "note": "n"}], "count": 2.5},
        {"items": [{"title": 3}]},
        {"items": [], "count": "many"},
        {"count": 1},
    ],
)
def test_lean_accepts_exactly_what_the_original_accepts(value: dict[str, Any]) -> None:
    original = Outer.model_json_schema()
    verdicts = [
        jsonschema.Draft202012Validator(s).is_valid(value)
        for s in (original, lean(original), lean(original, null_first=True))
    ]
    assert verdicts[0] == verdicts[1] == verdicts[2]


def test_output_schemas_try_null_first_and_build_no_error_for_a_null() -> None:
    schema = lean(Outer.model_json_schema(), null_first=True)
    note = schema["properties"]["items"]["items"]["properties"]["note"]
    assert note["anyOf"] == [{"type": "null"}, {"type": "string"}]
    validator = jsonschema.Draft202012Validator(note)
    assert validator.is_valid(None) and validator.is_valid("n")
    assert not validator.is_valid(3)


async def test_every_tool_publishes_lean_schemas(bridge: Bridge) -> None:
    async with bridge(make_config("a")) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == {"complete", "plan", "verify"}
    for tool in tools:
        for schema in (tool.input_schema, tool.output_schema):
            assert "$ref" not in str(schema), tool.name
            assert not _schema_keys(schema) & {"title", "$defs"}, tool.name
            assert all(isinstance(t, str) for t in _types(schema)), tool.name
        output = tool.output_schema or {}
        assert output["properties"]["note"]["anyOf"][0] == {"type": "null"}


def _schema_keys(node: Any) -> set[str]:
    """Keywords used anywhere in a schema (property names excluded)."""
    if isinstance(node, list):
        return set().union(*map(_schema_keys, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    keys = set(node)
    for key, value in node.items():
        if key == "properties":
            keys |= set().union(*map(_schema_keys, value.values())) if value else set()
        elif key not in ("default", "enum", "const", "examples"):
            keys |= _schema_keys(value)
    return keys


def _types(node: Any) -> list[Any]:
    if isinstance(node, list):
        return [t for item in node for t in _types(item)]
    if not isinstance(node, dict):
        return []
    found = [node["type"]] if "type" in node else []
    return found + [
        t
        for key, value in node.items()
        if key not in ("default", "enum", "const", "examples")
        for t in _types(value)
    ]


class Nested(BaseModel):
    tags: list[str] | None = None
    inner: Inner | None = None
    mode: Literal["a", "b"] | None = None


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"tags": None, "inner": None, "mode": None},
        {"tags": ["x"], "inner": {"title": "t"}, "mode": "a"},
        {"tags": [1]},
        {"inner": {"note": "no title"}},
        {"mode": "c"},
    ],
)
def test_nullable_arrays_and_objects_keep_their_meaning(value: dict[str, Any]) -> None:
    original = Nested.model_json_schema()
    leaner = lean(original)
    assert "$ref" not in str(leaner)
    nulls_first = lean(original, null_first=True)
    verdicts = [
        jsonschema.Draft202012Validator(s).is_valid(value)
        for s in (original, leaner, nulls_first)
    ]
    assert verdicts[0] == verdicts[1] == verdicts[2]


def test_header_checks_are_skipped_only_for_tools_without_x_mcp_header() -> None:
    server = build_server(make_config())
    lookup = server._lowlevel_server.get_tool_input_schema
    assert lookup is not None
    assert [lookup(name) for name in ("complete", "plan", "verify")] == [None] * 3

    def routed(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
    ) -> str:
        return region

    server.add_tool(routed)
    schema = lookup("routed")
    assert schema is not None and schema["properties"]["region"]["x-mcp-header"]
    assert lookup("no-such-tool") is None
