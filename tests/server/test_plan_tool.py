"""The plan tool: validated graphs, failover on a bad plan, stable ids, resources."""

from __future__ import annotations

import json
from typing import Any

from tests.server._upstream import Bridge, Upstream, make_config


def plan_json(*steps: tuple[str, str, list[str]]) -> dict[str, Any]:
    return {
        "summary": "do the thing",
        "steps": [
            {
                "id": sid,
                "title": title,
                "action": f"{title.lower()} now",
                "depends_on": deps,
                "done_when": f"{title} is visible",
            }
            for sid, title, deps in steps
        ],
        "assumptions": ["a repo exists"],
        "risks": [],
        "open_questions": [],
    }


GOOD = plan_json(("s1", "Write code", []), ("s2", "Test it", ["s1"]))
CYCLE = plan_json(("s1", "Write code", ["s2"]), ("s2", "Test it", ["s1"]))


async def test_a_plan_is_validated_stored_and_readable_as_a_resource(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", GOOD)
    async with bridge(make_config("a")) as client:
        result = await client.call_tool("plan", {"goal": "ship a feature"})
        plan = result.structured_content
        assert plan is not None and not result.is_error
        stored = await client.read_resource(f"plans://{plan['plan_id']}")
        index = await client.read_resource("plans://index")
    assert plan["revision"] == 1
    assert [s["id"] for s in plan["steps"]] == ["s1", "s2"]
    assert plan["provider"] == "a"
    body = json.loads(stored.contents[0].text)  # type: ignore[union-attr]
    assert body["goal"] == "ship a feature" and body["provider"] == "a"
    listing = json.loads(index.contents[0].text)  # type: ignore[union-attr]
    assert listing[0]["plan_id"] == plan["plan_id"]


async def test_a_cyclic_plan_is_repaired_or_failed_over_never_returned(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", CYCLE, CYCLE)
    upstream.queue("b-model", GOOD)
    async with bridge(make_config("a", "b")) as client:
        result = await client.call_tool("plan", {"goal": "ship"})
    plan = result.structured_content
    assert plan is not None and plan["provider"] == "b"
    outcomes = [(a["provider"], a["outcome"]) for a in plan["attempts"]]
    assert outcomes == [
        ("a", "invalid_response"),
        ("a", "invalid_response"),
        ("b", "ok"),
    ]
    repair = upstream.bodies("a-model")[1]["messages"][-1]["content"]
    assert "cycle (s1 -> s2 -> s1)" in repair


async def test_a_revision_keeps_step_ids_and_sends_the_current_plan(
    bridge: Bridge, upstream: Upstream
) -> None:
    renumbered = plan_json(
        ("s1", "Write docs", []), ("s2", "Write code", []), ("s3", "Test it", ["s2"])
    )
    kept = plan_json(
        ("s1", "Write code", []), ("s2", "Test it", ["s1"]), ("s3", "Write docs", [])
    )
    upstream.queue("a-model", GOOD, renumbered, kept)
    async with bridge(make_config("a")) as client:
        first = await client.call_tool("plan", {"goal": "ship"})
        assert first.structured_content is not None
        plan_id = first.structured_content["plan_id"]
        second = await client.call_tool(
            "plan", {"plan_id": plan_id, "feedback": "add docs"}
        )
    revised = second.structured_content
    assert revised is not None and revised["plan_id"] == plan_id
    assert revised["revision"] == 2
    assert [s["id"] for s in revised["steps"]] == ["s1", "s2", "s3"]
    sent = upstream.bodies("a-model")[1]["messages"][1]["content"]
    assert '"id": "s2"' in sent and "add docs" in sent
    repair = upstream.bodies("a-model")[2]["messages"][-1]["content"]
    assert "keep the id" in repair


async def test_revising_an_unknown_plan_is_a_tool_error(bridge: Bridge) -> None:
    async with bridge(make_config("a")) as client:
        result = await client.call_tool("plan", {"plan_id": "p_nope", "feedback": "x"})
    assert result.is_error
    assert "plan_id p_nope is not a stored plan" in result.content[0].text  # type: ignore[union-attr]
