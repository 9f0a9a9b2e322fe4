"""The published tool schemas: plain, equivalent restatements."""

from __future__ import annotations

from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel

from mcp_bridge.server._schema import lean
from tests.server._upstream import Bridge, make_config


class Inner(BaseModel):
    title: str
    note: str | None = None


class Outer(BaseModel):
    items: list[Inner]
    count: int | float | None = None
    kind: str = "title"


def test_lean_inlines_refs_drops_titles_and_lists_nullable_types() -> None:
    schema = lean(Outer.model_json_schema())

    assert "$defs" not in schema and "title" not in schema
    item = schema["properties"]["items"]["items"]
    assert set(item["properties"]) == {"title", "note"}  # a property named title stays
    assert item["properties"]["note"]["type"] == ["string", "null"]
    assert schema["properties"]["count"]["type"] == ["integer", "number", "null"]
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
        for s in (original, lean(original))
    ]
    assert verdicts[0] == verdicts[1]


async def test_every_tool_publishes_lean_schemas(bridge: Bridge) -> None:
    async with bridge(make_config("a")) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == {"complete", "plan", "verify"}
    for tool in tools:
        for schema in (tool.input_schema, tool.output_schema):
            text = str(schema)
            assert "$ref" not in text and "anyOf" not in text, tool.name


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
    assert "anyOf" not in str(leaner["properties"]["tags"])
    assert "anyOf" not in str(leaner["properties"]["inner"])
    verdicts = [
        jsonschema.Draft202012Validator(s).is_valid(value) for s in (original, leaner)
    ]
    assert verdicts[0] == verdicts[1]
