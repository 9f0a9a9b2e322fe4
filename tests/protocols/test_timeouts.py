"""First-token and stall limits, and the caller's deadline above them."""

from __future__ import annotations

import anyio
import pytest

from mcp_bridge.errors import ProviderTimeout
from mcp_bridge.protocols import AttemptTimeouts
from tests.protocols.fakes import Upstream, ask, named_sse, provider, sse

FAST = AttemptTimeouts(connect_s=1.0, first_token_s=0.05, stall_s=0.05)
SLOW = AttemptTimeouts(connect_s=10.0, first_token_s=10.0, stall_s=10.0)

OPENAI_START = {"model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
OPENAI_DONE = {
    "model": "m",
    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
}
FIRST_CONTENT = {
    "openai": sse(OPENAI_START),
    "anthropic": named_sse(
        ("message_start", {"type": "message_start", "message": {"model": "c"}}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
        ),
    ),
    "gemini": sse({"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}),
}


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini"])
async def test_no_response_headers_is_a_first_token_timeout(protocol: str) -> None:
    upstream = Upstream(hang_before=True)

    with anyio.fail_after(5), pytest.raises(ProviderTimeout, match="first token"):
        await upstream.adapter(provider(protocol)).send(ask(), FAST)


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini"])
async def test_headers_but_no_event_is_a_first_token_timeout(protocol: str) -> None:
    upstream = Upstream(body=[], hang_after=True)

    with anyio.fail_after(5), pytest.raises(ProviderTimeout, match="first_token_s"):
        await upstream.adapter(provider(protocol)).send(ask(), FAST)


async def test_keep_alive_comments_do_not_count_as_a_first_token() -> None:
    upstream = Upstream(body=[b": OPENROUTER PROCESSING\n\n"] * 3, hang_after=True)

    with anyio.fail_after(5), pytest.raises(ProviderTimeout, match="first token"):
        await upstream.adapter(provider("openai")).send(ask(), FAST)


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini"])
async def test_silence_after_the_first_token_is_a_stall(protocol: str) -> None:
    upstream = Upstream(body=[FIRST_CONTENT[protocol]], hang_after=True)

    with anyio.fail_after(5), pytest.raises(ProviderTimeout, match="stalled") as caught:
        await upstream.adapter(provider(protocol)).send(ask(), FAST)
    assert "stall_s" in str(caught.value)


async def test_silence_after_finish_reason_still_returns_the_answer() -> None:
    upstream = Upstream(body=[sse(OPENAI_START, OPENAI_DONE)], hang_after=True)

    with anyio.fail_after(5):
        response = await upstream.adapter(provider("openai")).send(ask(), FAST)
    assert response.text == "Hi"


async def test_a_slow_whole_body_is_a_first_token_timeout() -> None:
    upstream = Upstream(hang_before=True)

    with anyio.fail_after(5), pytest.raises(ProviderTimeout, match="first token"):
        await upstream.adapter(provider("gemini", stream=False)).send(ask(), FAST)


async def test_the_callers_deadline_cancels_without_an_error() -> None:
    upstream = Upstream(body=[FIRST_CONTENT["openai"]], hang_after=True)

    with anyio.fail_after(5):
        with anyio.move_on_after(0.05) as scope:
            await upstream.adapter(provider("openai")).send(ask(), SLOW)
    assert scope.cancelled_caught


async def test_a_probe_that_never_answers_times_out() -> None:
    upstream = Upstream(hang_before=True)

    with anyio.fail_after(5), pytest.raises(ProviderTimeout, match="models list"):
        await upstream.adapter(provider("anthropic")).probe(0.05)


async def test_a_providers_own_first_token_limit_overrides_the_attempts() -> None:
    upstream = Upstream(hang_before=True)
    config = provider("openai", first_token_timeout_s=0.05)

    with anyio.fail_after(5), pytest.raises(ProviderTimeout, match=r"0\.05 s"):
        await upstream.adapter(config).send(ask(), SLOW)
