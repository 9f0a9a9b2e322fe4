"""OpenAI Chat Completions: request bodies, streamed and whole answers, edge cases."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx2
import pytest

from mcp_bridge.canonical import ChatRequest, Message
from mcp_bridge.config import PRESETS
from mcp_bridge.errors import ContentFiltered, InvalidResponse
from mcp_bridge.protocols import adapter_for
from tests.protocols.fakes import (
    KEYS,
    SSE_HEADERS,
    TIMEOUTS,
    Upstream,
    ask,
    json_upstream,
    provider,
    sse,
)

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
    "required": ["city"],
}


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict:
    delta = {} if content is None else {"content": content}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-test-2025",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


USAGE = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "model": "gpt-test-2025",
    "choices": [],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}
HELLO_STREAM = sse(
    {
        **chunk(""),
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
    },
    chunk("Hel"),
    chunk("lo!"),
    chunk(finish="stop"),
    USAGE,
    "[DONE]",
)


def stream(body: bytes | list[bytes]) -> Upstream:
    return Upstream(body=body)


async def test_plain_request_has_the_documented_body_and_headers() -> None:
    upstream = stream(HELLO_STREAM)
    await upstream.adapter(provider("openai")).send(ask("Hi"), TIMEOUTS)

    request = upstream.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.openai.example/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEYS['openai']}"
    assert request.headers["content-type"] == "application/json"
    assert upstream.bodies[0] == {
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 512,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_the_output_limit_goes_in_max_completion_tokens_when_configured() -> None:
    """OpenAI's reasoning models refuse max_tokens; the preset switches the key."""
    upstream = stream(HELLO_STREAM)
    adapter = upstream.adapter(
        provider("openai", max_tokens_field="max_completion_tokens")
    )
    await adapter.send(ask("Hi"), TIMEOUTS)

    body = upstream.bodies[0]
    assert body["max_completion_tokens"] == 512
    assert "max_tokens" not in body


async def test_system_text_comes_first_and_sampling_settings_are_sent() -> None:
    upstream = stream(HELLO_STREAM)
    request = ChatRequest(
        system="Be brief.",
        messages=[
            Message(role="user", content="Hi"),
            Message(role="assistant", content="Hello"),
            Message(role="user", content="Bye"),
        ],
        max_tokens=64,
        temperature=0.2,
        stop=["\n\n"],
    )
    await upstream.adapter(provider("openai")).send(request, TIMEOUTS)

    body = upstream.bodies[0]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    assert (body["max_tokens"], body["temperature"], body["stop"]) == (
        64,
        0.2,
        ["\n\n"],
    )


async def test_no_authorization_header_is_sent_without_a_key() -> None:
    upstream = stream(HELLO_STREAM)
    await upstream.adapter(provider("openai", api_key=None)).send(ask(), TIMEOUTS)

    assert "authorization" not in upstream.requests[0].headers


async def test_json_schema_mode_sends_a_strict_response_format() -> None:
    answer = sse(chunk('{"city": "Oslo", "zip": null}'), chunk(finish="stop"), "[DONE]")
    upstream = stream(answer)
    config = provider("openai", structured_output="json_schema", strict_schema=True)
    response = await upstream.adapter(config).send(
        ask(json_schema=SCHEMA, schema_name="address"), TIMEOUTS
    )

    assert upstream.bodies[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "address",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "zip": {"type": ["string", "null"]},
                },
                "required": ["city", "zip"],
                "additionalProperties": False,
            },
        },
    }
    assert "messages" in upstream.bodies[0]
    assert upstream.bodies[0]["messages"][0]["role"] == "user"
    assert response.data == {"city": "Oslo"}


async def test_json_object_mode_puts_the_schema_in_the_system_text() -> None:
    upstream = stream(sse(chunk('{"city": "Oslo"}'), chunk(finish="stop")))
    config = provider("openai", structured_output="json_object")
    await upstream.adapter(config).send(
        ask(json_schema=SCHEMA, system="Be exact."), TIMEOUTS
    )

    body = upstream.bodies[0]
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("Be exact.\n\n")
    assert json.dumps(SCHEMA, separators=(",", ":")) in system["content"]


async def test_prompt_mode_accepts_a_fenced_json_answer() -> None:
    fenced = "```json\n[1, 2, 3]\n```"
    upstream = stream(sse(chunk(fenced), chunk(finish="stop")))
    config = provider("openai", structured_output="prompt")
    response = await upstream.adapter(config).send(
        ask(json_schema={"type": "array", "items": {"type": "integer"}}), TIMEOUTS
    )

    assert "response_format" not in upstream.bodies[0]
    assert upstream.bodies[0]["messages"][0]["role"] == "system"
    assert response.data == [1, 2, 3]


async def test_a_wrapped_top_level_array_is_unwrapped_in_the_answer() -> None:
    upstream = stream(sse(chunk('{"value": ["a", "b"]}'), chunk(finish="stop")))
    config = provider("openai", structured_output="json_schema", strict_schema=True)
    schema = {"type": "array", "items": {"type": "string"}}
    response = await upstream.adapter(config).send(ask(json_schema=schema), TIMEOUTS)

    sent = upstream.bodies[0]["response_format"]["json_schema"]["schema"]
    assert sent["properties"]["value"] == schema
    assert response.data == ["a", "b"]
    assert json.loads(response.text) == ["a", "b"]


async def test_an_answer_that_violates_the_schema_is_invalid() -> None:
    upstream = stream(sse(chunk('{"zip": "0150"}'), chunk(finish="stop")))
    config = provider("openai", structured_output="json_schema")

    with pytest.raises(InvalidResponse, match="'city' is a required property"):
        await upstream.adapter(config).send(ask(json_schema=SCHEMA), TIMEOUTS)


async def test_a_non_json_answer_to_a_schema_request_is_invalid() -> None:
    upstream = stream(sse(chunk("Sure! Oslo."), chunk(finish="stop")))
    config = provider("openai", structured_output="prompt")

    with pytest.raises(InvalidResponse, match="not valid JSON"):
        await upstream.adapter(config).send(ask(json_schema=SCHEMA), TIMEOUTS)


async def test_streamed_answer_is_assembled_with_usage_model_and_timing() -> None:
    upstream = stream(HELLO_STREAM)
    seen: list[int] = []
    response = await upstream.adapter(provider("openai")).send(
        ask(), TIMEOUTS, seen.append
    )

    assert response.text == "Hello!"
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 3)
    assert response.model == "gpt-test-2025"
    assert response.ttft_ms is not None and response.latency_ms >= response.ttft_ms
    assert seen[-1] == 6


async def test_on_chunk_reports_growth_chunk_by_chunk() -> None:
    parts = [sse(chunk("ab")), sse(chunk("cde")), sse(chunk(finish="stop"))]
    seen: list[int] = []
    await stream(parts).adapter(provider("openai")).send(ask(), TIMEOUTS, seen.append)

    assert seen == [2, 5]


async def test_a_stream_without_done_after_finish_reason_is_complete() -> None:
    upstream = stream(sse(chunk("Hi"), chunk(finish="stop")))
    response = await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)

    assert response.text == "Hi"


async def test_done_without_a_finish_reason_is_invalid() -> None:
    upstream = stream(sse(chunk("Hi"), "[DONE]"))

    with pytest.raises(InvalidResponse, match="without its completion signal"):
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)


async def test_a_cut_stream_is_invalid_never_a_shorter_success() -> None:
    upstream = stream(sse(chunk("The answer is")))

    with pytest.raises(InvalidResponse):
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)


async def test_a_chunk_cut_mid_json_is_invalid() -> None:
    upstream = stream(sse(chunk("Hi"))[:-2] + b'\n\ndata: {"choices": [{"ind')

    with pytest.raises(InvalidResponse, match="malformed stream chunk"):
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)


async def test_an_empty_200_stream_is_invalid() -> None:
    with pytest.raises(InvalidResponse):
        await stream(b"").adapter(provider("openai")).send(ask(), TIMEOUTS)


async def test_a_malformed_chunk_is_invalid() -> None:
    upstream = stream(sse(chunk("Hi"), "{not json", chunk(finish="stop")))

    with pytest.raises(InvalidResponse, match="malformed"):
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)


async def test_finish_reason_length_reports_a_truncated_answer() -> None:
    upstream = stream(sse(chunk("Once upon"), chunk(finish="length")))
    response = await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)

    assert response.truncated
    assert response.text == "Once upon"


async def test_truncated_json_names_the_output_limit() -> None:
    upstream = stream(sse(chunk('{"city": "Os'), chunk(finish="length")))
    config = provider("openai", structured_output="json_schema")

    with pytest.raises(InvalidResponse, match="max_tokens"):
        await upstream.adapter(config).send(ask(json_schema=SCHEMA), TIMEOUTS)


async def test_finish_reason_content_filter_is_content_filtered() -> None:
    upstream = stream(sse(chunk("I"), chunk(finish="content_filter")))

    with pytest.raises(ContentFiltered):
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)


async def test_a_refusal_delta_is_content_filtered() -> None:
    refusal = chunk()
    refusal["choices"][0]["delta"] = {"refusal": "I can't help with that."}
    upstream = stream(sse(refusal, chunk(finish="stop")))

    with pytest.raises(ContentFiltered, match="can't help"):
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)


async def test_reasoning_deltas_count_as_activity_but_not_as_text() -> None:
    thinking = chunk()
    thinking["choices"][0]["delta"] = {"reasoning_content": "Let me think"}
    upstream = stream(sse(thinking, chunk("42"), chunk(finish="stop")))
    response = await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)

    assert response.text == "42"


async def test_a_whole_body_is_parsed_when_streaming_is_off() -> None:
    body = {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "model": "gpt-test-2025",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }
    upstream = json_upstream(200, body)
    response = await upstream.adapter(provider("openai", stream=False)).send(
        ask(), TIMEOUTS
    )

    assert "stream" not in upstream.bodies[0]
    assert "stream_options" not in upstream.bodies[0]
    assert response.text == "Hello!"
    assert response.usage.input_tokens == 9
    assert response.model == "gpt-test-2025"


async def test_a_json_body_to_a_streaming_request_is_parsed_whole() -> None:
    body = {
        "model": "m",
        "choices": [
            {"index": 0, "message": {"content": "ok"}, "finish_reason": "length"}
        ],
    }
    response = (
        await json_upstream(200, body).adapter(provider("openai")).send(ask(), TIMEOUTS)
    )

    assert (response.text, response.finish_reason) == ("ok", "length")


async def test_a_whole_body_without_choices_is_invalid() -> None:
    upstream = json_upstream(200, {"object": "chat.completion", "choices": []})

    with pytest.raises(InvalidResponse, match="no choices"):
        await upstream.adapter(provider("openai", stream=False)).send(ask(), TIMEOUTS)


async def test_an_html_200_body_is_invalid() -> None:
    upstream = json_upstream(200, "<html>gateway</html>")
    upstream.headers["content-type"] = "application/json"

    with pytest.raises(InvalidResponse, match="not JSON"):
        await upstream.adapter(provider("openai", stream=False)).send(ask(), TIMEOUTS)


async def test_probe_gets_the_models_list_with_the_key() -> None:
    upstream = json_upstream(200, {"object": "list", "data": []})
    await upstream.adapter(provider("openai")).probe(1.0)

    request = upstream.requests[0]
    assert (request.method, str(request.url)) == (
        "GET",
        "https://api.openai.example/v1/models",
    )
    assert request.headers["authorization"] == f"Bearer {KEYS['openai']}"


MISTRAL_REJECTS_STREAM_OPTIONS = {
    "object": "error",
    "message": {
        "detail": [
            {
                "type": "extra_forbidden",
                "loc": ["body", "stream_options", "include_usage"],
                "msg": "Extra inputs are not permitted",
                "input": True,
            }
        ]
    },
    "type": "invalid_request_error",
    "param": None,
    "code": None,
}


class StrictServer:
    """Refuses stream_options with Mistral's 422, streams otherwise."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(await request.aread())
        self.bodies.append(body)
        if "stream_options" in body:
            return httpx2.Response(422, json=MISTRAL_REJECTS_STREAM_OPTIONS)
        return httpx2.Response(200, headers=SSE_HEADERS, content=HELLO_STREAM)


async def test_a_server_that_forbids_stream_options_is_asked_again_without_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = StrictServer()
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    adapter = adapter_for(provider("openai"), client)

    first = await adapter.send(ask("Hi"), TIMEOUTS)
    second = await adapter.send(ask("Again"), TIMEOUTS)

    assert first.text == second.text == "Hello!"
    assert ["stream_options" in body for body in server.bodies] == [True, False, False]
    assert "set stream_usage = false" in caplog.text


async def test_the_mistral_preset_never_sends_stream_options() -> None:
    upstream = stream(HELLO_STREAM)
    preset = {k: v for k, v in PRESETS["mistral"].items() if k != "protocol"}
    mistral = provider("openai", **preset)
    await upstream.adapter(mistral).send(ask("Hi"), TIMEOUTS)

    assert "stream_options" not in upstream.bodies[0]
    assert "max_completion_tokens" not in upstream.bodies[0]


class GroqLikeServer:
    """Refuses response_format in a stream, as Groq does; answers whole bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(await request.aread())
        self.bodies.append(body)
        if body.get("stream") and "response_format" in body:
            refusal = {
                "error": {
                    "message": "`response_format` does not support streaming",
                    "type": "invalid_request_error",
                }
            }
            return httpx2.Response(400, json=refusal)
        answer = {
            "id": "chatcmpl-9",
            "object": "chat.completion",
            "model": "llama-test",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": '{"city": "Oslo"}'},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 5},
        }
        return httpx2.Response(200, json=answer)


async def test_a_server_refusing_streamed_structured_output_gets_whole_requests() -> (
    None
):
    server = GroqLikeServer()
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    adapter = adapter_for(provider("openai", structured_output="json_object"), client)

    first = await adapter.send(ask("Where?", json_schema=SCHEMA), TIMEOUTS)
    second = await adapter.send(ask("Again?", json_schema=SCHEMA), TIMEOUTS)

    assert first.data == second.data == {"city": "Oslo"}
    assert [body.get("stream", False) for body in server.bodies] == [True, False, False]


@pytest.mark.parametrize("stream", [True, False])
async def test_a_gzip_compressed_answer_is_decoded(stream: bool) -> None:
    # Uncompressed bodies are read raw (a layer less per chunk); compressed
    # ones must still go through the decoder.
    if stream:
        body, kind = HELLO_STREAM, "text/event-stream"
    else:
        whole = {
            "model": "gpt-test-2025",
            "choices": [{"index": 0, "message": {"content": "Hello!"}}],
        }
        body, kind = json.dumps(whole).encode(), "application/json"
    headers = {"content-type": kind, "content-encoding": "gzip"}
    packed = gzip.compress(body)
    upstream = Upstream(body=[packed[:7], packed[7:]], headers=headers)
    config = provider("openai", stream=stream)

    response = await upstream.adapter(config).send(ask(), TIMEOUTS)

    assert response.text == "Hello!"
