"""Anthropic Messages: request bodies, event streams, tool-call answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcp_bridge.canonical import ChatRequest, Message
from mcp_bridge.errors import ContentFiltered, InvalidResponse, Overloaded
from tests.protocols.fakes import (
    KEYS,
    TIMEOUTS,
    Upstream,
    ask,
    json_upstream,
    named_sse,
    provider,
)

START = (
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-test-20250101",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    },
)
PING = ("ping", {"type": "ping"})
BLOCK_START = (
    "content_block_start",
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    },
)
BLOCK_STOP = ("content_block_stop", {"type": "content_block_stop", "index": 0})
STOP = ("message_stop", {"type": "message_stop"})


def text(fragment: str) -> tuple[str, dict[str, Any]]:
    delta = {"type": "text_delta", "text": fragment}
    return "content_block_delta", {
        "type": "content_block_delta",
        "index": 0,
        "delta": delta,
    }


def partial_json(fragment: str) -> tuple[str, dict[str, Any]]:
    delta = {"type": "input_json_delta", "partial_json": fragment}
    return "content_block_delta", {
        "type": "content_block_delta",
        "index": 0,
        "delta": delta,
    }


def message_delta(reason: str, output: int = 15) -> tuple[str, dict[str, Any]]:
    return (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": {"output_tokens": output},
        },
    )


HELLO = named_sse(
    START,
    BLOCK_START,
    PING,
    text("Hello"),
    text("!"),
    BLOCK_STOP,
    message_delta("end_turn"),
    STOP,
)
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


async def test_plain_request_has_the_documented_body_and_headers() -> None:
    upstream = Upstream(body=HELLO)
    await upstream.adapter(provider("anthropic")).send(ask("Hi"), TIMEOUTS)

    request = upstream.requests[0]
    assert str(request.url) == "https://api.anthropic.example/v1/messages"
    assert request.headers["x-api-key"] == KEYS["anthropic"]
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert upstream.bodies[0] == {
        "model": "claude-test",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }


async def test_system_is_top_level_and_roles_alternate_from_the_user() -> None:
    upstream = Upstream(body=HELLO)
    request = ChatRequest(
        system="Be brief.",
        messages=[
            Message(role="assistant", content="Earlier answer"),
            Message(role="user", content="One"),
            Message(role="user", content="Two"),
        ],
        max_tokens=99,
        temperature=1.5,
        stop=["END"],
    )
    await upstream.adapter(provider("anthropic")).send(request, TIMEOUTS)

    body = upstream.bodies[0]
    assert body["system"] == "Be brief."
    assert body["messages"] == [
        {"role": "user", "content": "Continue."},
        {"role": "assistant", "content": "Earlier answer"},
        {"role": "user", "content": "One\n\nTwo"},
    ]
    assert (body["max_tokens"], body["temperature"], body["stop_sequences"]) == (
        99,
        1.0,
        ["END"],
    )


async def test_schema_requests_force_a_tool_call_and_parse_its_input() -> None:
    tool_start = (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "count",
                "input": {},
            },
        },
    )
    body = named_sse(
        START,
        tool_start,
        partial_json(""),
        partial_json('{"n": '),
        partial_json("4}"),
        BLOCK_STOP,
        message_delta("tool_use"),
        STOP,
    )
    upstream = Upstream(body=body)
    response = await upstream.adapter(
        provider("anthropic", structured_output="tool")
    ).send(ask(json_schema=SCHEMA, schema_name="count"), TIMEOUTS)

    sent = upstream.bodies[0]
    assert sent["tools"] == [
        {
            "name": "count",
            "description": "Record the answer. Its input is the complete answer.",
            "input_schema": SCHEMA,
        }
    ]
    assert sent["tool_choice"] == {"type": "tool", "name": "count"}
    assert response.data == {"n": 4}
    assert response.finish_reason == "stop"


async def test_a_non_object_schema_is_wrapped_for_the_tool_and_unwrapped() -> None:
    body = named_sse(
        START, partial_json('{"value": ["x"]}'), message_delta("tool_use"), STOP
    )
    upstream = Upstream(body=body)
    schema = {"type": "array", "items": {"type": "string"}}
    response = await upstream.adapter(
        provider("anthropic", structured_output="tool")
    ).send(ask(json_schema=schema), TIMEOUTS)

    input_schema = upstream.bodies[0]["tools"][0]["input_schema"]
    assert input_schema["type"] == "object"
    assert input_schema["properties"]["value"] == schema
    assert response.data == ["x"]


async def test_streamed_answer_has_text_usage_and_model() -> None:
    response = (
        await Upstream(body=HELLO).adapter(provider("anthropic")).send(ask(), TIMEOUTS)
    )

    assert response.text == "Hello!"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (25, 15)
    assert response.model == "claude-test-20250101"
    assert response.finish_reason == "stop"


async def test_max_tokens_stop_reason_is_a_truncated_answer() -> None:
    body = named_sse(START, text("Once"), message_delta("max_tokens"), STOP)
    response = (
        await Upstream(body=body).adapter(provider("anthropic")).send(ask(), TIMEOUTS)
    )

    assert response.truncated


async def test_a_stream_without_message_stop_is_invalid() -> None:
    body = named_sse(START, text("Hello"), message_delta("end_turn"))

    with pytest.raises(InvalidResponse, match="completion signal"):
        await Upstream(body=body).adapter(provider("anthropic")).send(ask(), TIMEOUTS)


async def test_an_empty_200_stream_is_invalid() -> None:
    with pytest.raises(InvalidResponse):
        await Upstream(body=b"").adapter(provider("anthropic")).send(ask(), TIMEOUTS)


async def test_an_overloaded_error_event_mid_stream_is_overloaded() -> None:
    error = (
        "error",
        {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
        },
    )
    body = named_sse(START, text("Hel"), error)

    with pytest.raises(Overloaded) as caught:
        await Upstream(body=body).adapter(provider("anthropic")).send(ask(), TIMEOUTS)
    assert caught.value.provider == "anthropic-fake"
    assert caught.value.model == "claude-test"


async def test_stop_reason_refusal_is_content_filtered() -> None:
    body = named_sse(START, text("I"), message_delta("refusal"), STOP)

    with pytest.raises(ContentFiltered):
        await Upstream(body=body).adapter(provider("anthropic")).send(ask(), TIMEOUTS)


async def test_a_whole_message_is_parsed_when_streaming_is_off() -> None:
    message = {
        "id": "msg_02",
        "type": "message",
        "role": "assistant",
        "model": "claude-test-20250101",
        "content": [{"type": "text", "text": "Hi there"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 5},
    }
    upstream = json_upstream(200, message)
    response = await upstream.adapter(provider("anthropic", stream=False)).send(
        ask(), TIMEOUTS
    )

    assert "stream" not in upstream.bodies[0]
    assert response.text == "Hi there"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (15, 3)


async def test_a_whole_tool_use_message_gives_the_tool_input() -> None:
    message = {
        "type": "message",
        "model": "claude-test",
        "content": [
            {"type": "tool_use", "id": "t", "name": "answer", "input": {"n": 2}}
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    config = provider("anthropic", stream=False, structured_output="tool")
    response = (
        await json_upstream(200, message)
        .adapter(config)
        .send(ask(json_schema=SCHEMA), TIMEOUTS)
    )

    assert response.data == {"n": 2}
    assert json.loads(response.text) == {"n": 2}


async def test_probe_gets_v1_models_with_the_version_header() -> None:
    upstream = json_upstream(200, {"data": [], "has_more": False})
    await upstream.adapter(provider("anthropic")).probe(1.0)

    request = upstream.requests[0]
    assert str(request.url) == "https://api.anthropic.example/v1/models"
    assert request.headers["anthropic-version"] == "2023-06-01"
