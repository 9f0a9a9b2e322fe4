"""The fake provider speaks each vendor's wire format and plays every fault."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import jsonschema
import pytest

from tests import fake_fixtures
from tools.fake_provider import (
    FAULTS,
    FakeProcess,
    FakeProvider,
    parse_model_fault,
    refused_base_url,
    sample_for_schema,
)

fake_provider = fake_fixtures.fake_provider
PROTOCOLS = ["openai", "anthropic", "gemini"]
PROMPT = "What is the capital of France, in one word please?"
EXPECTED_TEXT = f"fake answer to: {PROMPT[:40]}"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 3},
        "score": {"type": "integer", "minimum": 5, "maximum": 9},
        "kind": {"enum": ["plan", "verdict"]},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}, "minItems": 2},
        "note": {"type": ["string", "null"]},
        "ok": {"type": "boolean"},
    },
    "required": ["title", "score", "kind", "steps", "ok"],
    "additionalProperties": False,
    "$defs": {
        "step": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "after": {"type": "array"}},
            "required": ["id"],
        }
    },
}


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    # Plain HTTP on loopback: skipping the TLS context saves ~0.1 s per test.
    async with httpx2.AsyncClient(timeout=5.0, verify=False) as http:
        yield http


def chat_url(fake: FakeProvider, protocol: str, model: str, stream: bool) -> str:
    if protocol == "openai":
        return fake.base_url("openai") + "/chat/completions"
    if protocol == "anthropic":
        return fake.base_url("anthropic") + "/v1/messages"
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"{fake.base_url('gemini')}/models/{model}:{method}"


def chat_body(protocol: str, model: str, stream: bool, **extra: Any) -> dict[str, Any]:
    if protocol == "gemini":
        contents = [{"role": "user", "parts": [{"text": PROMPT}]}]
        return {"contents": contents, **extra}
    body = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": stream,
        **extra,
    }
    if protocol == "anthropic":
        body.setdefault("max_tokens", 256)
    return body


async def call(
    http: httpx2.AsyncClient,
    fake: FakeProvider,
    protocol: str,
    model: str = "fake-ok",
    stream: bool = False,
    **extra: Any,
) -> httpx2.Response:
    url = chat_url(fake, protocol, model, stream)
    with anyio.fail_after(5):
        return await http.post(url, json=chat_body(protocol, model, stream, **extra))


def events(raw: bytes) -> list[tuple[str | None, str]]:
    """Split an SSE body into (event name, data) pairs."""
    found: list[tuple[str | None, str]] = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data.append(line.removeprefix("data:").strip())
        if data:
            found.append((name, "\n".join(data)))
    return found


def streamed_text(protocol: str, raw: bytes) -> str:
    """Concatenate the answer text of a well-formed stream."""
    pieces = []
    for _, data in events(raw):
        if data == "[DONE]":
            continue
        event = json.loads(data)
        if protocol == "openai":
            pieces += [c["delta"].get("content") or "" for c in event["choices"]]
        elif protocol == "anthropic" and event["type"] == "content_block_delta":
            delta = event["delta"]
            pieces.append(delta.get("text", delta.get("partial_json", "")))
        elif protocol == "gemini":
            for candidate in event["candidates"]:
                parts = candidate.get("content", {}).get("parts", [])
                pieces += [p["text"] for p in parts]
    return "".join(pieces)


def whole_text(protocol: str, body: dict[str, Any]) -> str:
    if protocol == "openai":
        return str(body["choices"][0]["message"]["content"])
    if protocol == "anthropic":
        return "".join(b.get("text", "") for b in body["content"])
    parts = body["candidates"][0].get("content", {}).get("parts", [])
    return "".join(p["text"] for p in parts)


async def test_openai_whole_answer_is_a_chat_completion(fake_provider, client):
    response = await call(client, fake_provider, "openai")

    body = response.json()
    assert response.status_code == 200
    assert body["object"] == "chat.completion"
    assert body["model"] == "fake-ok"
    assert body["choices"][0]["message"]["content"] == EXPECTED_TEXT
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_openai_stream_has_role_content_finish_usage_and_done(
    fake_provider, client
):
    options = {"include_usage": True}
    response = await call(
        client, fake_provider, "openai", stream=True, stream_options=options
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content.endswith(b"data: [DONE]\n\n")
    chunks = [json.loads(d) for _, d in events(response.content)[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert streamed_text("openai", response.content) == EXPECTED_TEXT


async def test_openai_stream_without_usage_option_sends_no_usage_chunk(
    fake_provider, client
):
    response = await call(client, fake_provider, "openai", stream=True)

    chunks = [json.loads(d) for _, d in events(response.content)[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_openai_json_schema_response_format_gets_a_valid_value(
    fake_provider, client
):
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}}
    response = await call(client, fake_provider, "openai", response_format=fmt)

    jsonschema.validate(json.loads(whole_text("openai", response.json())), SCHEMA)


async def test_openai_json_object_mode_gets_a_json_object(fake_provider, client):
    fmt = {"type": "json_object"}
    response = await call(client, fake_provider, "openai", response_format=fmt)

    assert isinstance(json.loads(whole_text("openai", response.json())), dict)


async def test_schema_written_in_the_prompt_is_followed_like_a_model_would(
    fake_provider, client
):
    system = f"Reply with JSON satisfying this JSON Schema: {json.dumps(SCHEMA)}"
    response = await call(client, fake_provider, "anthropic", system=system)

    jsonschema.validate(json.loads(whole_text("anthropic", response.json())), SCHEMA)


async def test_refused_base_url_refuses_connections(client):
    with anyio.fail_after(5), pytest.raises(httpx2.ConnectError):
        await client.get(refused_base_url("openai") + "/models")


async def test_anthropic_whole_answer_is_a_message(fake_provider, client):
    response = await call(client, fake_provider, "anthropic", model="claude-fake")

    body = response.json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": EXPECTED_TEXT}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["output_tokens"] > 0 and body["usage"]["input_tokens"] > 0


async def test_anthropic_stream_follows_the_documented_event_order(
    fake_provider, client
):
    response = await call(client, fake_provider, "anthropic", stream=True)

    pairs = events(response.content)
    names = [name for name, _ in pairs]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert all(json.loads(data)["type"] == name for name, data in pairs)
    assert json.loads(pairs[-2][1])["delta"]["stop_reason"] == "end_turn"
    assert streamed_text("anthropic", response.content) == EXPECTED_TEXT


async def test_anthropic_forced_tool_returns_schema_valid_tool_use(
    fake_provider, client
):
    tools = [{"name": "answer", "input_schema": SCHEMA}]
    choice = {"type": "tool", "name": "answer"}
    response = await call(
        client, fake_provider, "anthropic", tools=tools, tool_choice=choice
    )

    body = response.json()
    assert body["stop_reason"] == "tool_use"
    block = body["content"][0]
    assert block["type"] == "tool_use" and block["name"] == "answer"
    jsonschema.validate(block["input"], SCHEMA)


async def test_anthropic_forced_tool_streams_input_json_deltas(fake_provider, client):
    tools = [{"name": "answer", "input_schema": SCHEMA}]
    choice = {"type": "tool", "name": "answer"}
    response = await call(
        client, fake_provider, "anthropic", stream=True, tools=tools, tool_choice=choice
    )

    datas = [json.loads(d) for _, d in events(response.content)]
    deltas = [d["delta"]["type"] for d in datas if d["type"] == "content_block_delta"]
    assert set(deltas) == {"input_json_delta"}
    assert datas[1]["content_block"]["type"] == "tool_use"
    jsonschema.validate(
        json.loads(streamed_text("anthropic", response.content)), SCHEMA
    )


async def test_gemini_whole_answer_is_a_generate_content_response(
    fake_provider, client
):
    response = await call(client, fake_provider, "gemini", model="gemini-fake")

    body = response.json()
    candidate = body["candidates"][0]
    assert candidate["content"]["role"] == "model"
    assert candidate["finishReason"] == "STOP"
    assert whole_text("gemini", body) == EXPECTED_TEXT
    assert body["usageMetadata"]["candidatesTokenCount"] > 0
    assert body["modelVersion"] == "gemini-fake"


async def test_gemini_sse_stream_uses_crlf_frames_and_ends_with_finish_reason(
    fake_provider, client
):
    response = await call(client, fake_provider, "gemini", stream=True)

    assert response.content.endswith(b"\r\n\r\n")
    chunks = [json.loads(d) for _, d in events(response.content)]
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert streamed_text("gemini", response.content) == EXPECTED_TEXT


async def test_gemini_stream_without_alt_sse_is_one_json_array(fake_provider, client):
    url = fake_provider.base_url("gemini") + "/models/g:streamGenerateContent"
    with anyio.fail_after(5):
        response = await client.post(url, json=chat_body("gemini", "g", True))

    chunks = response.json()
    assert isinstance(chunks, list)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_gemini_openapi_response_schema_gets_a_valid_value(fake_provider, client):
    schema = {
        "type": "OBJECT",
        "properties": {
            "verdict": {"type": "STRING", "enum": ["pass", "fail"]},
            "reasons": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": 1},
            "confidence": {"type": "NUMBER", "nullable": True},
        },
        "required": ["verdict", "reasons"],
    }
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    response = await call(client, fake_provider, "gemini", generationConfig=config)

    value = json.loads(whole_text("gemini", response.json()))
    assert value["verdict"] == "pass" and len(value["reasons"]) == 1
    assert isinstance(value["confidence"], float | int)


@pytest.mark.parametrize(
    ("headers", "path", "key", "first"),
    [
        ({}, "/v1/models", "data", "id"),
        ({"anthropic-version": "2023-06-01"}, "/v1/models", "data", "display_name"),
        ({}, "/v1beta/models", "models", "supportedGenerationMethods"),
    ],
)
async def test_models_list_has_each_vendor_shape(
    fake_provider, client, headers, path, key, first
):
    with anyio.fail_after(5):
        response = await client.get(fake_provider.url + path, headers=headers)

    assert first in response.json()[key][0]


ERROR_SHAPES = [
    ("openai", "server_error", 500, "server_error"),
    ("openai", "unavailable", 503, "server_error"),
    ("openai", "auth", 401, "invalid_api_key"),
    ("openai", "quota", 429, "insufficient_quota"),
    ("openai", "model_not_found", 404, "model_not_found"),
    ("openai", "context_length", 400, "context_length_exceeded"),
    ("openai", "overloaded", 503, "server_error"),
    ("anthropic", "overloaded_529", 529, "overloaded_error"),
    ("anthropic", "overloaded", 503, "overloaded_error"),
    ("anthropic", "auth", 401, "authentication_error"),
    ("anthropic", "forbidden", 403, "permission_error"),
    ("anthropic", "model_not_found", 404, "not_found_error"),
    ("anthropic", "context_length", 400, "invalid_request_error"),
    ("anthropic", "quota", 400, "invalid_request_error"),
    ("anthropic", "server_error", 500, "api_error"),
    ("gemini", "auth", 400, "INVALID_ARGUMENT"),
    ("gemini", "unavailable", 503, "UNAVAILABLE"),
    ("gemini", "model_not_found", 404, "NOT_FOUND"),
    ("gemini", "context_length", 400, "INVALID_ARGUMENT"),
    ("gemini", "quota", 429, "RESOURCE_EXHAUSTED"),
    ("gemini", "server_error", 500, "INTERNAL"),
]


def error_kind(protocol: str, body: dict[str, Any]) -> str:
    """The field a client classifies on: OpenAI code or type, Anthropic type, status."""
    if protocol == "openai":
        return str(body["error"]["code"] or body["error"]["type"])
    if protocol == "anthropic":
        assert body["type"] == "error"
        return str(body["error"]["type"])
    assert body["error"]["code"] == body["error"].get("code")
    return str(body["error"]["status"])


@pytest.mark.parametrize(("protocol", "fault", "status", "kind"), ERROR_SHAPES)
async def test_error_fault_has_the_vendor_status_and_body(
    fake_provider, client, protocol, fault, status, kind
):
    response = await call(client, fake_provider, protocol, model=f"m+fault:{fault}")

    assert response.status_code == status
    assert error_kind(protocol, response.json()) == kind
    assert response.json()["error"]["message"]


async def test_openai_error_body_has_message_type_param_and_code(fake_provider, client):
    response = await call(client, fake_provider, "openai", model="fault:bad_request")

    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
async def test_rate_limit_sends_retry_after_seconds_when_asked(
    fake_provider, client, protocol
):
    model = "fault:rate_limit,retry_after=7,retry_after_ms=7000"
    response = await call(client, fake_provider, protocol, model=model)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["retry-after-ms"] == "7000"


async def test_rate_limit_without_argument_sends_no_retry_after(fake_provider, client):
    response = await call(client, fake_provider, "anthropic", model="fault:rate_limit")

    assert response.status_code == 429
    assert "retry-after" not in response.headers
    assert response.json()["error"]["type"] == "rate_limit_error"


async def test_gemini_rate_limit_carries_retry_info_in_the_body(fake_provider, client):
    model = "g+fault:rate_limit,retry_after=17"
    response = await call(client, fake_provider, "gemini", model=model)

    details = response.json()["error"]["details"]
    retry = [d for d in details if d["@type"].endswith("google.rpc.RetryInfo")]
    assert retry == [{"@type": retry[0]["@type"], "retryDelay": "17s"}]
    assert "retry-after" not in response.headers


async def test_server_error_once_fails_the_first_request_then_answers(
    fake_provider, client
):
    first = await call(client, fake_provider, "openai", model="fault:server_error_once")
    second = await call(
        client, fake_provider, "openai", model="fault:server_error_once"
    )

    assert (first.status_code, second.status_code) == (500, 200)


async def test_reset_fault_resets_the_tcp_connection(fake_provider, client):
    with pytest.raises(httpx2.ReadError) as caught:
        await call(client, fake_provider, "openai", model="fault:reset")

    causes: list[BaseException] = []
    error: BaseException | None = caught.value
    while error is not None and len(causes) < 10:
        causes.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(c, ConnectionResetError) for c in causes), causes


async def test_no_response_fault_holds_the_connection_silently(fake_provider):
    url = chat_url(fake_provider, "openai", "m", False)
    body = chat_body("openai", "fault:no_response", False)
    timeout = httpx2.Timeout(5.0, read=0.2)
    async with httpx2.AsyncClient(timeout=timeout, verify=False) as http:
        with anyio.fail_after(5), pytest.raises(httpx2.ReadTimeout):
            await http.post(url, json=body)

    assert fake_provider.requests[0].fault == "no_response"


async def test_slow_first_token_sends_headers_then_delays_the_first_event(
    fake_provider, client
):
    url = chat_url(fake_provider, "openai", "m", True)
    body = chat_body("openai", "fault:slow_first_token,delay_ms=150", True)
    with anyio.fail_after(5):
        async with client.stream("POST", url, json=body) as response:
            headers_at = time.monotonic()
            first = await response.aiter_raw().__anext__()
            first_at = time.monotonic()

    assert response.status_code == 200
    assert first.startswith(b"data: ")
    assert first_at - headers_at >= 0.12


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_stream_cut_closes_mid_body_without_a_terminal_event(
    fake_provider, client, protocol
):
    url = chat_url(fake_provider, protocol, "fault:stream_cut,chunks=1", True)
    body = chat_body(protocol, "fault:stream_cut,chunks=1", True)
    received = b""
    with anyio.fail_after(5), pytest.raises(httpx2.RemoteProtocolError):
        async with client.stream("POST", url, json=body) as response:
            async for raw in response.aiter_raw():
                received += raw

    assert received
    for marker in (b'finish_reason":"stop', b"message_stop", b"finishReason"):
        assert marker not in received


async def test_stream_stall_sends_some_events_then_nothing(fake_provider):
    url = chat_url(fake_provider, "anthropic", "m", True)
    body = chat_body("anthropic", "fault:stream_stall,chunks=2", True)
    received = b""
    timeout = httpx2.Timeout(5.0, read=0.2)
    async with httpx2.AsyncClient(timeout=timeout, verify=False) as http:
        with anyio.fail_after(5), pytest.raises(httpx2.ReadTimeout):
            async with http.stream("POST", url, json=body) as response:
                async for raw in response.aiter_raw():
                    received += raw

    names = [name for name, _ in events(received)]
    assert names.count("content_block_delta") == 2
    assert "message_stop" not in names


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_malformed_chunk_puts_invalid_json_in_one_event(
    fake_provider, client, protocol
):
    response = await call(
        client, fake_provider, protocol, model="fault:malformed_chunk", stream=True
    )

    broken = []
    for _, data in events(response.content):
        try:
            json.loads(data) if data != "[DONE]" else None
        except ValueError:
            broken.append(data)
    assert len(broken) == 1


@pytest.mark.parametrize(
    ("protocol", "marker"),
    [
        ("openai", b'"finish_reason":"stop"'),
        ("anthropic", b"message_stop"),
        ("gemini", b"finishReason"),
    ],
)
async def test_missing_terminal_ends_cleanly_without_the_completion_signal(
    fake_provider, client, protocol, marker
):
    model = "fault:missing_terminal"
    response = await call(client, fake_provider, protocol, model=model, stream=True)

    assert response.status_code == 200
    assert events(response.content)
    assert marker not in response.content


async def test_missing_terminal_whole_answer_has_a_null_finish_reason(
    fake_provider, client
):
    model = "fault:missing_terminal"
    response = await call(client, fake_provider, "openai", model=model)

    assert response.json()["choices"][0]["finish_reason"] is None


@pytest.mark.parametrize("stream", [True, False])
async def test_empty_stream_is_a_200_without_content(fake_provider, client, stream):
    model = "fault:empty_stream"
    response = await call(client, fake_provider, "openai", model=model, stream=stream)

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    ("protocol", "signal"),
    [
        ("openai", b'"finish_reason":"content_filter"'),
        ("anthropic", b'"stop_reason":"refusal"'),
        ("gemini", b'"finishReason":"SAFETY"'),
    ],
)
async def test_content_filter_answers_with_the_vendor_refusal(
    fake_provider, client, protocol, signal
):
    model = "fault:content_filter"
    whole = await call(client, fake_provider, protocol, model=model)
    streamed = await call(client, fake_provider, protocol, model=model, stream=True)

    assert signal in whole.content.replace(b'": "', b'":"')
    assert signal in streamed.content.replace(b'": "', b'":"')


async def test_content_filter_error_mode_is_a_400_with_the_filter_code(
    fake_provider, client
):
    model = "fault:content_filter,mode=error"
    response = await call(client, fake_provider, "openai", model=model)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content_filter"


async def test_invalid_json_fault_breaks_the_syntax_of_a_schema_answer(
    fake_provider, client
):
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}}
    model = "fault:invalid_json"
    response = await call(
        client, fake_provider, "openai", model=model, response_format=fmt
    )

    with pytest.raises(ValueError):
        json.loads(whole_text("openai", response.json()))


async def test_invalid_json_schema_kind_is_json_that_fails_the_schema(
    fake_provider, client
):
    config = {"responseMimeType": "application/json", "responseSchema": SCHEMA}
    model = "g+fault:invalid_json,kind=schema"
    response = await call(
        client, fake_provider, "gemini", model=model, generationConfig=config
    )

    value = json.loads(whole_text("gemini", response.json()))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(value, SCHEMA)


@pytest.mark.parametrize(
    ("protocol", "field", "value"),
    [
        ("openai", "finish_reason", "length"),
        ("anthropic", "stop_reason", "max_tokens"),
        ("gemini", "finishReason", "MAX_TOKENS"),
    ],
)
async def test_length_fault_reports_the_output_limit(
    fake_provider, client, protocol, field, value
):
    response = await call(client, fake_provider, protocol, model="fault:length")

    assert f'"{field}":"{value}"' in response.text.replace(": ", ":")


async def test_max_tokens_truncates_the_answer_with_finish_length(
    fake_provider, client
):
    response = await call(client, fake_provider, "openai", max_tokens=2)

    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == "fake answer"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_stream_error_fault_sends_an_error_event_mid_stream(
    fake_provider, client, protocol
):
    model = "fault:stream_error"
    response = await call(client, fake_provider, protocol, model=model, stream=True)

    last = json.loads(events(response.content)[-1][1])
    assert "error" in last


async def test_plain_and_detail_errors_are_not_vendor_shaped(fake_provider, client):
    plain = await call(client, fake_provider, "openai", model="fault:plain_error")
    detail = await call(
        client, fake_provider, "openai", model="fault:detail_error,status=422"
    )

    assert (plain.status_code, plain.text) == (500, "Internal Server Error")
    assert detail.status_code == 422 and "detail" in detail.json()


async def test_foreign_error_on_anthropic_endpoint_is_openai_shaped(
    fake_provider, client
):
    response = await call(
        client, fake_provider, "anthropic", model="fault:foreign_error"
    )

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


async def test_flap_alternates_down_and_up_every_n_requests(fake_provider, client):
    fake_provider.set_fault("flappy", "flap", every=2, down="overloaded_529")

    statuses = [
        (await call(client, fake_provider, "anthropic", model="flappy")).status_code
        for _ in range(6)
    ]

    assert statuses == [529, 529, 200, 200, 529, 529]


async def test_latency_is_added_before_the_answer(client):
    with FakeProvider(latency_ms=120) as fake:
        started = time.monotonic()
        response = await call(client, fake, "openai")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.1


async def test_request_log_records_method_path_headers_and_body(fake_provider, client):
    url = chat_url(fake_provider, "anthropic", "m", False)
    headers = {"x-api-key": "sk-ant-fake", "anthropic-version": "2023-06-01"}
    body = chat_body("anthropic", "claude-x", False)
    with anyio.fail_after(5):
        await client.post(url, json=body, headers=headers)

    entry = fake_provider.requests[0]
    assert (entry.method, entry.path, entry.protocol) == (
        "POST",
        "/v1/messages",
        "anthropic",
    )
    assert entry.headers["x-api-key"] == "sk-ant-fake"
    assert entry.body == body and entry.model == "claude-x"


async def test_gemini_request_log_keeps_the_query_and_model_from_the_path(
    fake_provider, client
):
    url = chat_url(fake_provider, "gemini", "gem-1", True) + "&key=AIza-test"
    with anyio.fail_after(5):
        await client.post(url, json=chat_body("gemini", "gem-1", True))

    entry = fake_provider.requests[0]
    assert entry.query == {"alt": "sse", "key": "AIza-test"}
    assert entry.model == "gem-1"


async def test_scripted_replies_are_served_in_order_then_the_default(
    fake_provider, client
):
    fake_provider.queue_reply("planner", "first reply")
    fake_provider.queue_reply("planner", {"steps": [{"id": "a", "after": ["a"]}]})

    texts = [
        whole_text(
            "openai", (await call(client, fake_provider, "openai", "planner")).json()
        )
        for _ in range(3)
    ]

    assert texts[0] == "first reply"
    assert json.loads(texts[1]) == {"steps": [{"id": "a", "after": ["a"]}]}
    assert texts[2] == EXPECTED_TEXT


async def test_scripted_json_reply_becomes_the_forced_tool_input(fake_provider, client):
    fake_provider.queue_reply("*", {"verdict": "fail"})
    tools = [{"name": "verdict", "input_schema": {"type": "object"}}]
    response = await call(
        client, fake_provider, "anthropic", tools=tools, tool_choice={"type": "any"}
    )

    assert response.json()["content"][0]["input"] == {"verdict": "fail"}


async def test_runtime_fault_with_count_expires_after_that_many_requests(
    fake_provider, client
):
    fake_provider.set_fault("m", "unavailable", count=2)

    statuses = [
        (await call(client, fake_provider, "openai", model="m")).status_code
        for _ in range(3)
    ]

    assert statuses == [503, 503, 200]


async def test_wildcard_fault_also_fails_the_models_list(fake_provider, client):
    fake_provider.set_fault("*", "server_error")
    with anyio.fail_after(5):
        response = await client.get(fake_provider.base_url("openai") + "/models")

    assert response.status_code == 500


async def test_clear_faults_and_reset_restore_normal_answers(fake_provider, client):
    fake_provider.set_fault("*", "auth")
    fake_provider.clear_faults()
    ok = await call(client, fake_provider, "openai")
    fake_provider.reset()

    assert ok.status_code == 200
    assert fake_provider.requests == []


async def test_control_api_sets_faults_queues_replies_and_reads_the_log(
    fake_provider, client
):
    control = fake_provider.url + "/_control"
    fault = {
        "model": "m",
        "fault": "rate_limit",
        "count": 1,
        "args": {"retry_after": 3},
    }
    with anyio.fail_after(5):
        await client.post(control + "/faults", json=fault)
        await client.post(control + "/replies", json={"model": "m", "text": "scripted"})
        listed = (await client.get(control + "/faults")).json()
        limited = await call(client, fake_provider, "openai", model="m")
        scripted = await call(client, fake_provider, "openai", model="m")
        log = (await client.get(control + "/requests?model=m")).json()
        await client.post(control + "/reset")
        after = (await client.get(control + "/requests")).json()

    assert listed["faults"]["m"]["args"] == {"retry_after": 3}
    assert limited.headers["retry-after"] == "3"
    assert whole_text("openai", scripted.json()) == "scripted"
    assert [e["fault"] for e in log["requests"]] == ["rate_limit", None]
    assert after == {"requests": []}


async def test_unknown_fault_is_refused_with_the_known_names(fake_provider, client):
    with pytest.raises(ValueError, match="stream_stall"):
        fake_provider.set_fault("m", "no-such-fault")
    with anyio.fail_after(5):
        response = await client.post(
            fake_provider.url + "/_control/faults", json={"model": "m", "fault": "x"}
        )

    assert response.status_code == 400


async def test_until_requests_returns_once_enough_requests_arrived(
    fake_provider, client
):
    async with anyio.create_task_group() as tg:
        tg.start_soon(call, client, fake_provider, "openai")
        with anyio.fail_after(5):
            await fake_provider.until_requests(1)

    assert len(fake_provider.requests) == 1


async def test_many_concurrent_streams_are_all_answered(fake_provider, client):
    results: list[int] = []

    async def one() -> None:
        response = await call(client, fake_provider, "openai", stream=True)
        results.append(response.status_code)

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(one)

    assert results == [200] * 100


def test_process_mode_prints_its_url_and_obeys_the_control_api():
    with FakeProcess() as fake:
        fake.set_fault("m", "server_error", count=1)
        url = fake.base_url("openai") + "/chat/completions"
        body = chat_body("openai", "m", False)
        statuses = [httpx2.post(url, json=body).status_code for _ in range(2)]

    assert fake.url.startswith("http://127.0.0.1:")
    assert statuses == [500, 200]


def test_sync_context_manager_serves_plain_http_clients():
    with FakeProvider() as fake:
        response = httpx2.get(fake.base_url("gemini") + "/models")

    assert response.json()["models"][0]["name"] == "models/fake-ok"


def test_model_name_faults_parse_arguments_and_aliases():
    assert parse_model_fault("gpt-4o+fault:stream_stall,chunks=3") == (
        "stream_stall",
        {"chunks": 3},
    )
    assert parse_model_fault("fault:server_error_once") == (
        "server_error",
        {"times": 1},
    )
    assert parse_model_fault("llama3:8b") is None
    assert parse_model_fault("nofault:x") is None


def test_every_fault_is_documented():
    assert all(FAULTS.values())
    assert {"reset", "no_response", "flap", "invalid_json"} <= set(FAULTS)


@pytest.mark.parametrize(
    "schema",
    [
        SCHEMA,
        {
            "type": "array",
            "items": {"type": "integer", "exclusiveMinimum": 0},
            "minItems": 3,
        },
        {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 2}]},
        {"type": "string", "format": "date-time"},
        {"allOf": [{"properties": {"a": {"const": 1}}}, {"required": ["a"]}]},
        {
            "$defs": {
                "node": {
                    "type": "object",
                    "properties": {
                        "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}
                    },
                }
            },
            "$ref": "#/$defs/node",
        },
    ],
)
def test_schema_sampler_produces_valid_values(schema):
    jsonschema.validate(sample_for_schema(schema), schema)
