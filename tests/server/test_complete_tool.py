"""The complete tool, in memory, over the real router and a scripted upstream."""

from __future__ import annotations

from pathlib import Path

import anyio

from tests.server._upstream import HANG, Bridge, Upstream, make_config

SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
}


async def test_a_prompt_is_answered_with_provenance(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", "hello there")
    async with bridge(make_config("a", "b")) as client:
        result = await client.call_tool("complete", {"prompt": "hi"})
    assert not result.is_error
    data = result.structured_content
    assert data is not None
    assert data["text"] == "hello there"
    assert data["provider"] == "a"
    assert data["usage"] == {"input_tokens": 11, "output_tokens": 7}
    assert [a["outcome"] for a in data["attempts"]] == ["ok"]
    assert "Answered by a (a-model)" in result.content[0].text  # type: ignore[union-attr]


async def test_a_down_provider_fails_over_to_the_next(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", 503)
    upstream.queue("b-model", "from b")
    async with bridge(make_config("a", "b")) as client:
        result = await client.call_tool("complete", {"prompt": "hi"})
    data = result.structured_content
    assert data is not None and data["provider"] == "b"
    assert [a["provider"] for a in data["attempts"]] == ["a", "b"]


async def test_a_schema_answer_comes_back_as_data(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", {"n": 3})
    async with bridge(make_config("a")) as client:
        result = await client.call_tool(
            "complete", {"prompt": "count", "json_schema": SCHEMA}
        )
    assert result.structured_content is not None
    assert result.structured_content["data"] == {"n": 3}


async def test_invalid_json_never_reaches_the_caller(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", "not json", '{"n": "three"}')
    upstream.queue("b-model", {"n": 3})
    async with bridge(make_config("a", "b")) as client:
        result = await client.call_tool(
            "complete", {"prompt": "count", "json_schema": SCHEMA}
        )
    data = result.structured_content
    assert data is not None and data["data"] == {"n": 3}
    assert data["provider"] == "b"
    assert data["attempts"][0]["outcome"] == "invalid_response"


async def test_json_that_breaks_the_schema_is_repaired_on_the_same_provider(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", '{"n": "three"}', {"n": 3})
    async with bridge(make_config("a", "b")) as client:
        result = await client.call_tool(
            "complete", {"prompt": "count", "json_schema": SCHEMA}
        )
    data = result.structured_content
    assert data is not None and data["data"] == {"n": 3}
    assert data["provider"] == "a"
    assert [a["outcome"] for a in data["attempts"]] == ["invalid_response", "repaired"]
    repair = upstream.bodies("a-model")[1]["messages"]
    assert repair[-2]["content"] == '{"n": "three"}'
    assert "does not satisfy the requested schema" in repair[-1]["content"]


async def test_every_provider_failing_is_a_tool_error_listing_attempts(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", 503)
    upstream.queue("b-model", 500)
    async with bridge(make_config("a", "b")) as client:
        result = await client.call_tool("complete", {"prompt": "hi"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "a (a-model)" in text and "b (b-model)" in text
    assert "bridge://providers" in text
    # Both failed fast: raising timeout_s would not help, so it is not advised.
    assert "timeout_s" not in text


async def test_wrong_arguments_are_tool_errors_naming_the_field(
    bridge: Bridge, tmp_path: Path
) -> None:
    async with bridge(make_config("a")) as client:
        both = await client.call_tool(
            "complete",
            {"prompt": "x", "messages": [{"role": "user", "content": "y"}]},
        )
        missing = await client.call_tool(
            "complete", {"prompt": "x", "files": [str(tmp_path / "gone.txt")]}
        )
    assert both.is_error and "give either prompt" in both.content[0].text  # type: ignore[union-attr]
    assert missing.is_error and "does not exist" in missing.content[0].text  # type: ignore[union-attr]


async def test_no_configured_provider_says_how_to_add_one(bridge: Bridge) -> None:
    async with bridge(make_config()) as client:
        result = await client.call_tool("complete", {"prompt": "hi"})
    assert result.is_error
    assert "no provider is configured" in result.content[0].text  # type: ignore[union-attr]
    assert "multibridge-mcp doctor" in result.content[0].text  # type: ignore[union-attr]


async def test_files_are_attached_to_the_prompt(
    bridge: Bridge, upstream: Upstream, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("the secret word is teal")
    upstream.queue("a-model", "teal")
    async with bridge(make_config("a")) as client:
        await client.call_tool("complete", {"prompt": "word?", "files": [str(notes)]})
    sent = upstream.bodies("a-model")[0]["messages"][-1]["content"]
    assert "the secret word is teal" in sent and str(notes) in sent


async def test_a_long_answer_is_cut_to_the_result_limit_with_a_note(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", "x" * 5000)
    async with bridge(make_config("a", max_result_chars=2000)) as client:
        result = await client.call_tool("complete", {"prompt": "long"})
    data = result.structured_content
    assert data is not None
    assert data["truncated"] is True
    assert "max_result_chars" in data["note"]
    assert len(data["text"]) < 2000


async def test_progress_includes_router_events_and_heartbeats(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", HANG)
    seen: list[tuple[float, str | None]] = []
    heartbeats = anyio.Event()

    async def on_progress(
        value: float, total: float | None, message: str | None
    ) -> None:
        seen.append((value, message))
        if sum("still working" in (m or "") for _, m in seen) >= 2:
            heartbeats.set()

    config = make_config("a")
    async with (
        bridge(config, heartbeat_s=0.01) as client,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(
            lambda: client.call_tool(
                "complete", {"prompt": "hi"}, progress_callback=on_progress
            )
        )
        with anyio.fail_after(5):
            await heartbeats.wait()
        tg.cancel_scope.cancel()
    values = [v for v, _ in seen]
    assert values == sorted(set(values))
    assert any("trying a" in (m or "") for _, m in seen)


async def test_cancelling_the_call_cancels_the_upstream_request(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", HANG)
    async with bridge(make_config("a")) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: client.call_tool("complete", {"prompt": "hi"}))
            with anyio.fail_after(5):
                await upstream.arrived.wait()
            tg.cancel_scope.cancel()
        with anyio.fail_after(5):
            await upstream.cancelled.wait()
    assert upstream.cancelled.is_set()
