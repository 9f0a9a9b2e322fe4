"""The verify tool: mechanical verdicts, stored steps, independence and quorum."""

from __future__ import annotations

from typing import Any

from tests.server._upstream import Bridge, Upstream, make_config
from tests.server.test_plan_tool import GOOD


def judgement(*verdicts: str, confidence: float = 0.9) -> dict[str, Any]:
    return {
        "checks": [
            {"criterion": f"c{i}", "verdict": v, "reason": f"because {v}"}
            for i, v in enumerate(verdicts)
        ],
        "issues": ["a nit"] if "fail" in verdicts else [],
        "confidence": confidence,
    }


async def test_any_failed_check_fails_the_work(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", judgement("pass", "fail"))
    async with bridge(make_config("a")) as client:
        result = await client.call_tool(
            "verify", {"subject": "code", "criteria": ["has tests", "no TODO"]}
        )
    data = result.structured_content
    assert data is not None
    assert data["verdict"] == "fail"
    assert [c["criterion"] for c in data["checks"]] == ["has tests", "no TODO"]
    assert data["provenance"]["providers"] == ["a"]
    assert data["votes"] is None


async def test_a_stored_step_is_checked_by_a_provider_other_than_its_author(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", GOOD)
    upstream.queue("b-model", judgement("pass"))
    async with bridge(make_config("a", "b")) as client:
        planned = await client.call_tool("plan", {"goal": "ship"})
        assert planned.structured_content is not None
        plan_id = planned.structured_content["plan_id"]
        result = await client.call_tool(
            "verify", {"subject": "tests green", "plan_id": plan_id, "step_id": "s2"}
        )
    data = result.structured_content
    assert data is not None and data["verdict"] == "pass"
    assert data["provenance"]["providers"] == ["b"]
    assert data["provenance"]["avoided"] == ["a"]
    assert data["checks"][0]["criterion"] == "Test it is visible"
    sent = upstream.bodies("b-model")[0]["messages"][1]["content"]
    assert "step s2 (Test it)" in sent


async def test_an_unknown_step_lists_the_plans_steps(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", GOOD)
    async with bridge(make_config("a")) as client:
        planned = await client.call_tool("plan", {"goal": "ship"})
        assert planned.structured_content is not None
        plan_id = planned.structured_content["plan_id"]
        result = await client.call_tool(
            "verify", {"subject": "x", "plan_id": plan_id, "step_id": "s9"}
        )
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert f"step_id s9 is not in plan {plan_id}; steps are s1, s2" in text


async def test_a_quorum_that_disagrees_is_unclear_with_both_votes(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", judgement("pass"))
    upstream.queue("b-model", judgement("fail"))
    async with bridge(make_config("a", "b")) as client:
        result = await client.call_tool(
            "verify", {"subject": "x", "criteria": ["works"], "quorum": 2}
        )
    data = result.structured_content
    assert data is not None
    assert data["verdict"] == "unclear"
    assert data["agreement"] == 0.5
    assert sorted((v["provider"], v["verdict"]) for v in data["votes"]) == [
        ("a", "pass"),
        ("b", "fail"),
    ]
    assert "could not be decided" in data["reason"]


async def test_a_quorum_not_met_is_unclear_never_pass(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", judgement("pass"))
    upstream.queue("b-model", 503)
    upstream.queue("c-model", 503)
    async with bridge(make_config("a", "b", "c")) as client:
        result = await client.call_tool(
            "verify", {"subject": "x", "criteria": ["works"], "quorum": 2}
        )
    data = result.structured_content
    assert data is not None
    assert data["verdict"] == "unclear"
    assert "quorum of 2 not met" in data["reason"]
    tried = {a["provider"] for a in data["provenance"]["attempts"]}
    assert tried == {"a", "b", "c"}


async def test_no_provider_able_to_judge_is_unclear_with_the_reason(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", 503)
    async with bridge(make_config("a")) as client:
        result = await client.call_tool("verify", {"subject": "x", "criteria": ["ok"]})
    data = result.structured_content
    assert data is not None and data["verdict"] == "unclear"
    assert data["confidence"] == 0.0
    assert "server_error" in data["reason"]


async def test_a_judgement_with_the_wrong_number_of_checks_is_repaired(
    bridge: Bridge, upstream: Upstream
) -> None:
    upstream.queue("a-model", judgement("pass"), judgement("pass", "pass"))
    async with bridge(make_config("a")) as client:
        result = await client.call_tool(
            "verify", {"subject": "x", "criteria": ["one", "two"]}
        )
    data = result.structured_content
    assert data is not None and data["verdict"] == "pass"
    assert [a["outcome"] for a in data["provenance"]["attempts"]] == [
        "invalid_response",
        "repaired",
    ]
