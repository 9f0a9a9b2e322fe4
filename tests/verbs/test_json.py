"""Parsing a model's JSON answer, and rejecting it with a useful message."""

from __future__ import annotations

import pytest

from mcp_bridge.canonical import ChatResponse
from mcp_bridge.errors import InputError, InvalidResponse
from mcp_bridge.verbs._json import check_schema, json_answer


def test_a_fenced_answer_is_unwrapped() -> None:
    assert json_answer(ChatResponse(text='```json\n{"n": 1}\n```')) == {"n": 1}


def test_the_protocols_parse_wins_over_the_text() -> None:
    assert json_answer(ChatResponse(text="ignored", data={"n": 2})) == {"n": 2}


def test_prose_is_not_json() -> None:
    with pytest.raises(InvalidResponse, match="not valid JSON"):
        json_answer(ChatResponse(text="Sure! Here it is"))


def test_an_invalid_caller_schema_is_an_input_error() -> None:
    with pytest.raises(InputError, match="json_schema is not a valid JSON Schema"):
        check_schema({"type": "nonsense"})
