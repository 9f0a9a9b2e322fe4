"""End to end: `python -m mcp_bridge serve` over stdio against the fake provider.

Each test starts the real command with a TOML file pointing at the fault-
injecting fake provider (tools/fake_provider) and talks to it through
`mcp.Client` with `StdioServerParameters`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests import fake_fixtures
from tests.server.test_plan_tool import CYCLE, GOOD, plan_json
from tests.server.test_verify_tool import judgement
from tools.fake_provider import FakeProvider

fake_provider = fake_fixtures.fake_provider

Session = Callable[..., AbstractAsyncContextManager[Client]]


def write_config(path: Path, fake: FakeProvider, names: list[str], state: str) -> None:
    blocks = [
        f'state = "{state}"',
        "[hedging]\nenabled = false",
        "[routing]\nsame_provider_retry = false",
    ]
    for priority, name in enumerate(names, 1):
        blocks.append(
            "[[providers]]\n"
            f'name = "{name}"\nprotocol = "openai"\n'
            f'base_url = "{fake.base_url("openai")}"\n'
            f'model = "{name}-model"\napi_key_env = "FAKE_KEY"\n'
            f"priority = {priority}"
        )
    path.write_text("\n\n".join(blocks) + "\n")


@pytest.fixture
def session(fake_provider: FakeProvider, tmp_path: Path) -> Session:
    """Start the bridge command over stdio with providers a, b, c on the fake."""
    state = f"sqlite:///{tmp_path / 'state.db'}"

    @asynccontextmanager
    async def start(names: tuple[str, ...] = ("a", "b", "c")) -> AsyncIterator[Client]:
        config = tmp_path / "multibridge.toml"
        write_config(config, fake_provider, list(names), state)
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "mcp_bridge", "serve", "--config", str(config)],
            env={"FAKE_KEY": "fake-key-123456", "PYTHONPATH": str(Path.cwd())},
            cwd=str(Path.cwd()),
        )
        async with Client(params) as client:
            yield client

    return start


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert isinstance(data, dict)
    return data


async def test_tools_list_shows_three_tools_with_flat_schemas(session: Session) -> None:
    async with session() as client:
        tools = (await client.list_tools()).tools
    assert sorted(t.name for t in tools) == ["complete", "plan", "verify"]
    for tool in tools:
        schema = tool.input_schema
        assert schema["type"] == "object"
        assert not {"oneOf", "anyOf", "allOf"} & schema.keys()
        assert tool.output_schema is not None
        # plan stores its plans; complete and verify change nothing locally.
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (tool.name != "plan")
        assert tool.description and len(tool.description) > 80


async def test_complete_with_and_without_a_schema(
    session: Session, fake_provider: FakeProvider
) -> None:
    fake_provider.queue_reply("a-model", "plain answer")
    fake_provider.queue_reply("a-model", {"n": 4})
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    async with session() as client:
        plain = structured(await client.call_tool("complete", {"prompt": "hi"}))
        typed = structured(
            await client.call_tool("complete", {"prompt": "n?", "json_schema": schema})
        )
    assert plain["text"] == "plain answer" and plain["provider"] == "a"
    assert typed["data"] == {"n": 4}


async def test_invalid_json_fails_over_and_never_reaches_the_caller(
    session: Session, fake_provider: FakeProvider
) -> None:
    fake_provider.queue_reply("a-model", "this is not json")
    fake_provider.queue_reply("a-model", "still not json")
    fake_provider.queue_reply("b-model", {"n": 1})
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    async with session() as client:
        data = structured(
            await client.call_tool("complete", {"prompt": "n?", "json_schema": schema})
        )
    assert data["data"] == {"n": 1} and data["provider"] == "b"
    assert data["attempts"][0]["outcome"] == "invalid_response"
    assert (
        data["attempts"][-1] | {"provider": "b", "outcome": "ok"}
        == data["attempts"][-1]
    )


async def test_plan_failover_revision_and_verify_of_a_stored_step(
    session: Session, fake_provider: FakeProvider
) -> None:
    fake_provider.queue_reply("a-model", CYCLE)
    fake_provider.queue_reply("a-model", CYCLE)
    fake_provider.queue_reply("b-model", GOOD)
    revised = plan_json(
        ("s1", "Write code", []), ("s2", "Test it", ["s1"]), ("s3", "Docs", ["s2"])
    )
    fake_provider.queue_reply("a-model", revised)
    fake_provider.queue_reply("c-model", judgement("pass"))
    async with session() as client:
        first = structured(await client.call_tool("plan", {"goal": "ship"}))
        second = structured(
            await client.call_tool(
                "plan", {"plan_id": first["plan_id"], "feedback": "add docs"}
            )
        )
        checked = structured(
            await client.call_tool(
                "verify",
                {"subject": "ok", "plan_id": first["plan_id"], "step_id": "s3"},
            )
        )
    assert first["provider"] == "b"
    assert [a["outcome"] for a in first["attempts"]][:2] == [
        "invalid_response",
        "invalid_response",
    ]
    assert second["revision"] == 2 and second["provider"] == "a"
    assert [s["id"] for s in second["steps"]] == ["s1", "s2", "s3"]
    # The revision was written by a, so b or c judges; b has no reply queued
    # and answers with a schema sample, c with the scripted pass.
    assert "a" not in checked["provenance"]["providers"]
    assert checked["provenance"]["avoided"] == ["a"]


async def test_plans_survive_a_restart(
    session: Session, fake_provider: FakeProvider
) -> None:
    fake_provider.queue_reply("a-model", GOOD)
    async with session() as client:
        plan_id = structured(await client.call_tool("plan", {"goal": "ship"}))[
            "plan_id"
        ]
    async with session() as client:
        stored = await client.read_resource(f"plans://{plan_id}")
    assert json.loads(stored.contents[0].text)["plan_id"] == plan_id  # type: ignore[union-attr]


async def test_a_quorum_with_disagreement_reports_each_vote(
    session: Session, fake_provider: FakeProvider
) -> None:
    fake_provider.queue_reply("a-model", judgement("pass"))
    fake_provider.queue_reply("b-model", judgement("fail"))
    async with session(("a", "b")) as client:
        data = structured(
            await client.call_tool(
                "verify", {"subject": "x", "criteria": ["works"], "quorum": 2}
            )
        )
    assert data["verdict"] == "unclear"
    assert {v["provider"]: v["verdict"] for v in data["votes"]} == {
        "a": "pass",
        "b": "fail",
    }


async def test_files_errors_are_tool_errors_naming_the_path(
    session: Session, tmp_path: Path
) -> None:
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01")
    async with session() as client:
        missing = await client.call_tool(
            "complete", {"prompt": "x", "files": [str(tmp_path / "nope.txt")]}
        )
        blob = await client.call_tool(
            "complete", {"prompt": "x", "files": [str(binary)]}
        )
        folder = await client.call_tool("plan", {"goal": "x", "files": [str(tmp_path)]})
    assert missing.is_error and "nope.txt does not exist" in missing.content[0].text  # type: ignore[union-attr]
    assert blob.is_error and "looks binary" in blob.content[0].text  # type: ignore[union-attr]
    assert folder.is_error and "is a directory" in folder.content[0].text  # type: ignore[union-attr]


async def test_progress_arrives_and_a_cancelled_call_leaves_the_session_usable(
    session: Session, fake_provider: FakeProvider
) -> None:
    fake_provider.set_fault("a-model", "no_response")
    messages: list[str] = []
    progressed = anyio.Event()

    async def on_progress(
        value: float, total: float | None, message: str | None
    ) -> None:
        messages.append(message or "")
        if "trying a" in (message or ""):
            progressed.set()

    async with session() as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: client.call_tool(
                    "complete", {"prompt": "hi"}, progress_callback=on_progress
                )
            )
            with anyio.fail_after(10):
                await fake_provider.until_requests(1)
                await progressed.wait()
            tg.cancel_scope.cancel()
        # That the upstream request itself is cancelled is shown with events in
        # test_complete_tool; here the session must stay usable afterwards.
        fake_provider.clear_faults()
        after = structured(await client.call_tool("complete", {"prompt": "again"}))
    assert any("trying a" in m for m in messages)
    assert after["provider"] == "a"
    assert len(fake_provider.requests_for("a-model")) == 2
