"""Google Gemini: request bodies, SSE streams and whole responses."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_bridge.canonical import ChatRequest, Message
from mcp_bridge.errors import ContentFiltered, InvalidResponse, RateLimited
from tests.protocols.fakes import (
    KEYS,
    TIMEOUTS,
    Upstream,
    ask,
    json_upstream,
    provider,
    sse,
)


def response(
    text: str | None, finish: str | None = None, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if text is not None:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    if finish:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": "gemini-test-001",
    }
    if usage:
        body["usageMetadata"] = usage
    return body


USAGE = {"promptTokenCount": 8, "candidatesTokenCount": 4, "totalTokenCount": 12}
HELLO = sse(response("Hel"), response("lo", "STOP", USAGE))
SCHEMA = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["tags"],
    "additionalProperties": False,
}


async def test_plain_request_has_the_documented_url_body_and_headers() -> None:
    upstream = Upstream(body=HELLO)
    await upstream.adapter(provider("gemini")).send(ask("Hi"), TIMEOUTS)

    request = upstream.requests[0]
    assert str(request.url) == (
        "https://gemini.example/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == KEYS["gemini"]
    assert "key=" not in str(request.url)
    assert upstream.bodies[0] == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"maxOutputTokens": 512},
    }


async def test_system_instruction_roles_and_generation_config() -> None:
    upstream = Upstream(body=HELLO)
    request = ChatRequest(
        system="Be brief.",
        messages=[
            Message(role="user", content="Hi"),
            Message(role="assistant", content="Hello"),
            Message(role="user", content="Bye"),
        ],
        max_tokens=50,
        temperature=0.5,
        stop=["STOP"],
    )
    await upstream.adapter(provider("gemini")).send(request, TIMEOUTS)

    assert upstream.bodies[0] == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "Bye"}]},
        ],
        "generationConfig": {
            "maxOutputTokens": 50,
            "temperature": 0.5,
            "stopSequences": ["STOP"],
        },
    }


async def test_schema_requests_send_a_rewritten_response_schema() -> None:
    upstream = Upstream(body=sse(response('{"tags": ["a"]}', "STOP")))
    config = provider("gemini", structured_output="native")
    result = await upstream.adapter(config).send(ask(json_schema=SCHEMA), TIMEOUTS)

    generation = upstream.bodies[0]["generationConfig"]
    assert generation["responseMimeType"] == "application/json"
    assert generation["responseSchema"] == {
        "type": "OBJECT",
        "properties": {"tags": {"type": "ARRAY", "items": {"type": "STRING"}}},
        "required": ["tags"],
        "propertyOrdering": ["tags"],
    }
    assert result.data == {"tags": ["a"]}


async def test_a_free_form_object_schema_is_asked_for_in_words() -> None:
    upstream = Upstream(body=sse(response('{"any": 1}', "STOP")))
    schema = {"type": "object"}
    result = await upstream.adapter(
        provider("gemini", structured_output="native")
    ).send(ask(json_schema=schema), TIMEOUTS)

    body = upstream.bodies[0]
    assert "responseSchema" not in body["generationConfig"]
    assert "JSON Schema" in body["systemInstruction"]["parts"][0]["text"]
    assert result.data == {"any": 1}


async def test_non_streaming_uses_generate_content() -> None:
    upstream = json_upstream(200, response("Whole", "STOP", USAGE))
    result = await upstream.adapter(provider("gemini", stream=False)).send(
        ask(), TIMEOUTS
    )

    assert str(upstream.requests[0].url).endswith("/models/gemini-test:generateContent")
    assert result.text == "Whole"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (8, 4)


async def test_streamed_answer_has_text_usage_and_model_version() -> None:
    result = (
        await Upstream(body=HELLO).adapter(provider("gemini")).send(ask(), TIMEOUTS)
    )

    assert result.text == "Hello"
    assert result.model == "gemini-test-001"
    assert result.usage.output_tokens == 4
    assert result.finish_reason == "stop"


async def test_thought_parts_are_not_answer_text() -> None:
    thought = response(None)
    thought["candidates"][0]["content"] = {
        "role": "model",
        "parts": [{"text": "thinking...", "thought": True}],
    }
    usage = {**USAGE, "thoughtsTokenCount": 10}
    upstream = Upstream(body=sse(thought, response("42", "STOP", usage)))
    result = await upstream.adapter(provider("gemini")).send(ask(), TIMEOUTS)

    assert result.text == "42"
    assert result.usage.output_tokens == 14


async def test_max_tokens_is_a_truncated_answer() -> None:
    upstream = Upstream(body=sse(response("Once"), response(" upon", "MAX_TOKENS")))
    result = await upstream.adapter(provider("gemini")).send(ask(), TIMEOUTS)

    assert result.truncated


async def test_a_stream_without_a_finish_reason_is_invalid() -> None:
    upstream = Upstream(body=sse(response("Hel"), response("lo")))

    with pytest.raises(InvalidResponse):
        await upstream.adapter(provider("gemini")).send(ask(), TIMEOUTS)


@pytest.mark.parametrize(
    "reason", ["SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST"]
)
async def test_safety_finish_reasons_are_content_filtered(reason: str) -> None:
    upstream = Upstream(body=sse(response("", reason)))

    with pytest.raises(ContentFiltered, match=reason):
        await upstream.adapter(provider("gemini")).send(ask(), TIMEOUTS)


async def test_a_blocked_prompt_is_content_filtered() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": USAGE}

    with pytest.raises(ContentFiltered, match="blockReason SAFETY"):
        await (
            Upstream(body=sse(blocked))
            .adapter(provider("gemini"))
            .send(ask(), TIMEOUTS)
        )


async def test_an_error_event_in_the_stream_is_classified() -> None:
    error = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
        }
    }
    upstream = Upstream(body=sse(response("Hel"), error))

    with pytest.raises(RateLimited):
        await upstream.adapter(provider("gemini")).send(ask(), TIMEOUTS)


async def test_probe_gets_the_models_list() -> None:
    upstream = json_upstream(200, {"models": []})
    await upstream.adapter(provider("gemini")).probe(1.0)

    assert str(upstream.requests[0].url) == "https://gemini.example/v1beta/models"
    assert upstream.requests[0].headers["x-goog-api-key"] == KEYS["gemini"]
