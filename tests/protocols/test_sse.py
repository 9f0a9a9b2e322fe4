"""SSE decoding: framing rules, and answers that do not depend on chunk splits."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_bridge.canonical import ChatResponse
from mcp_bridge.protocols._sse import SSEDecoder, SSEEvent
from tests.protocols.fakes import TIMEOUTS, Upstream, ask, named_sse, provider, sse


def decode(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


def test_events_end_at_a_blank_line_with_any_line_ending() -> None:
    body = b"event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\n\r\ndata: 3\r\rdata: 4\n\n"

    assert decode(body) == [
        SSEEvent("a", "1"),
        SSEEvent("b", "2"),
        SSEEvent("message", "3"),
        SSEEvent("message", "4"),
    ]


def test_comments_are_skipped_and_multi_line_data_is_joined() -> None:
    body = b": keep-alive\n\ndata: first\ndata:second\n\n"

    assert decode(body) == [SSEEvent("message", "first\nsecond")]


def test_an_unterminated_last_event_is_still_delivered() -> None:
    assert decode(b"data: [DONE]") == [SSEEvent("message", "[DONE]")]


def test_a_crlf_split_across_chunks_is_one_line_end() -> None:
    assert decode(b"data: x\r", b"\n\r", b"\ndata: y\r\n\r\n") == [
        SSEEvent("message", "x"),
        SSEEvent("message", "y"),
    ]


def test_a_multibyte_character_split_across_chunks_survives() -> None:
    encoded = "data: ☃é\n\n".encode()

    assert decode(encoded[:7], encoded[7:9], encoded[9:]) == [SSEEvent("message", "☃é")]


def _openai_body() -> bytes:
    chunks = [
        {"model": "m", "choices": [{"index": 0, "delta": {"content": piece}}]}
        for piece in ["Grüße, ", "wörld ", "☃\n", '{"a": 1}']
    ]
    done = {
        "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    usage = {
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7},
    }
    return sse(*chunks, done, usage, "[DONE]").replace(b"\n", b"\r\n")


def _anthropic_body() -> bytes:
    def delta(text: str) -> tuple[str, dict[str, object]]:
        return (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
        )

    return named_sse(
        (
            "message_start",
            {
                "type": "message_start",
                "message": {"model": "c", "usage": {"input_tokens": 3}},
            },
        ),
        ("ping", {"type": "ping"}),
        delta("Zürich "),
        delta("☃"),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 2},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    )


def _gemini_body() -> bytes:
    parts = ["Ça ", "va ", "☃"]
    events = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": p}]}}]}
        for p in parts
    ]
    events[-1]["candidates"][0]["finishReason"] = "STOP"
    events[-1]["usageMetadata"] = {"promptTokenCount": 2, "candidatesTokenCount": 3}
    return sse(*events)


BODIES = {
    "openai": _openai_body(),
    "anthropic": _anthropic_body(),
    "gemini": _gemini_body(),
}


def _split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    return [body[a:b] for a, b in itertools.pairwise(points)]


async def _answer(protocol: str, parts: list[bytes]) -> ChatResponse:
    return await Upstream(body=parts).adapter(provider(protocol)).send(ask(), TIMEOUTS)


def _comparable(response: ChatResponse) -> dict[str, object]:
    return response.model_dump(exclude={"latency_ms", "ttft_ms"})


@settings(max_examples=60, deadline=None)
@given(
    protocol=st.sampled_from(sorted(BODIES)),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
)
async def test_any_split_of_the_byte_stream_gives_the_same_answer(
    protocol: str, cuts: list[int]
) -> None:
    whole = await _answer(protocol, [BODIES[protocol]])
    split = await _answer(protocol, _split(BODIES[protocol], cuts))

    assert _comparable(split) == _comparable(whole)
    assert whole.text and whole.finish_reason == "stop"


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_the_decoder_yields_the_same_events_for_any_split(cuts: list[int]) -> None:
    body = BODIES["anthropic"] + b": comment\r\n\r\n" + BODIES["openai"]

    assert decode(*_split(body, cuts)) == decode(body)
    assert json.loads(decode(body)[0].data)["type"] == "message_start"
