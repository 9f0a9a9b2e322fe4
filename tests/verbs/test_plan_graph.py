"""Plan validation: a defective step graph is the model's fault."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_bridge.errors import InvalidResponse
from mcp_bridge.verbs.plan import PlanDraft, PlanStep, validate_plan_graph


def step(
    id: str, *deps: str, title: str | None = None, action: str = "do it"
) -> PlanStep:
    return PlanStep(
        id=id,
        title=title or f"step {id}",
        action=action,
        depends_on=list(deps),
        done_when=f"{id} is done",
    )


def draft(*steps: PlanStep) -> PlanDraft:
    return PlanDraft(summary="a plan", steps=list(steps))


def test_a_valid_graph_comes_back_tidied() -> None:
    plan = draft(step(" s1 "), step("s2", "s1", " s1"))
    checked = validate_plan_graph(plan, max_steps=5)
    assert [s.id for s in checked.steps] == ["s1", "s2"]
    assert checked.steps[1].depends_on == ["s1"]


def test_an_unknown_dependency_is_rejected_with_the_known_ids() -> None:
    with pytest.raises(InvalidResponse, match=r"s2 depends on s9.*ids are s1, s2"):
        validate_plan_graph(draft(step("s1"), step("s2", "s9")), max_steps=5)


def test_a_cycle_is_rejected_and_shown_as_a_path() -> None:
    plan = draft(step("s1", "s3"), step("s2", "s1"), step("s3", "s2"))
    with pytest.raises(InvalidResponse, match=r"cycle \(s1 -> s3 -> s2 -> s1\)"):
        validate_plan_graph(plan, max_steps=5)


def test_a_step_that_depends_on_itself_is_a_cycle() -> None:
    with pytest.raises(InvalidResponse, match="cycle"):
        validate_plan_graph(draft(step("s1", "s1")), max_steps=5)


def test_an_empty_action_is_rejected() -> None:
    with pytest.raises(InvalidResponse, match="s1 has an empty action"):
        validate_plan_graph(draft(step("s1", action="  ")), max_steps=5)


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(InvalidResponse, match="s1 is used twice"):
        validate_plan_graph(draft(step("s1"), step("s1", title="other")), max_steps=5)


def test_an_empty_plan_and_a_too_long_plan_are_rejected() -> None:
    with pytest.raises(InvalidResponse, match="no steps"):
        validate_plan_graph(draft(), max_steps=5)
    with pytest.raises(InvalidResponse, match="3 steps; give at most 2"):
        validate_plan_graph(draft(step("s1"), step("s2"), step("s3")), max_steps=2)


def test_an_id_that_is_not_a_short_identifier_is_rejected() -> None:
    with pytest.raises(InvalidResponse, match="not a short identifier"):
        validate_plan_graph(draft(step("step one")), max_steps=5)


def test_a_kept_step_must_keep_its_id_in_a_revision() -> None:
    previous = [step("s1", title="Write tests"), step("s2", title="Ship")]
    revised = draft(step("s1", title="write  TESTS"), step("s3", title="Ship"))
    with pytest.raises(InvalidResponse, match=r"'Ship' had id s2.*now has id s3"):
        validate_plan_graph(revised, max_steps=5, previous=previous)


def test_a_revision_may_edit_titles_and_add_new_ids() -> None:
    previous = [step("s1", title="Write tests"), step("s2", title="Ship")]
    revised = draft(
        step("s1", title="Write more tests"), step("s2", "s1", title="Ship"), step("s3")
    )
    checked = validate_plan_graph(revised, max_steps=5, previous=previous)
    assert [s.id for s in checked.steps] == ["s1", "s2", "s3"]


@given(st.integers(min_value=1, max_value=30))
def test_a_chain_of_any_length_is_acyclic_until_closed(length: int) -> None:
    chain = [step("s1")] + [step(f"s{i}", f"s{i - 1}") for i in range(2, length + 1)]
    validate_plan_graph(draft(*chain), max_steps=30)
    closed = [step("s1", f"s{length}"), *chain[1:]]
    with pytest.raises(InvalidResponse, match="cycle"):
        validate_plan_graph(draft(*closed), max_steps=30)
