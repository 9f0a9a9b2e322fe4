"""The canonical prompts carry everything a model needs, for any model."""

from __future__ import annotations

from mcp_bridge.verbs import prompts


def test_the_plan_prompt_carries_goal_context_constraints_and_limit() -> None:
    text = prompts.plan_prompt(
        "ship it", context="a CLI", constraints=["no new deps"], max_steps=4
    )
    assert "ship it" in text and "a CLI" in text and "- no new deps" in text
    assert "at most 4 steps" in text


def test_the_revision_prompt_shows_the_plan_with_ids_and_asks_to_keep_them() -> None:
    plan = {
        "goal": "ship it",
        "summary": "s",
        "steps": [{"id": "s7", "title": "Build", "action": "make"}],
    }
    text = prompts.revision_prompt(
        plan, "add docs", context=None, constraints=[], max_steps=5
    )
    assert '"id": "s7"' in text
    assert "add docs" in text
    assert "Keep the id of every step you keep" in text


def test_the_verify_prompt_numbers_criteria_and_asks_for_one_check_each() -> None:
    text = prompts.verify_prompt(
        "diff --git", ["tests pass", "no TODO"], evidence="ok", files_block=""
    )
    assert "1. tests pass\n2. no TODO" in text
    assert "exactly 2 checks" in text
    assert "<evidence>\nok\n</evidence>" in text


def test_files_are_appended_only_when_there_are_some() -> None:
    assert prompts.attach("hello", "") == "hello"
    assert prompts.attach("hello", "<file>").endswith("Attached files:\n<file>")


def test_the_system_prompts_name_no_vendor() -> None:
    for text in (prompts.PLAN_SYSTEM, prompts.VERIFY_SYSTEM):
        lowered = text.lower()
        assert not any(v in lowered for v in ("claude", "gpt", "gemini", "openai"))
