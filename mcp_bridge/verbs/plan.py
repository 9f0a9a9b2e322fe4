"""The `plan` verb: a validated step graph, stored so it can be revised and checked.

A plan that fails validation (unknown dependency, cycle, empty action,
duplicate id, or a kept step that lost its id in a revision) is the model's
fault: the validator raises `InvalidResponse` and the router repairs or fails
over, so an invalid plan never reaches the caller.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from mcp_bridge.canonical import Attempt, ChatRequest, ChatResponse, Message
from mcp_bridge.errors import InputError, InvalidResponse
from mcp_bridge.verbs import prompts
from mcp_bridge.verbs._args import check_providers, check_timeout, stored_plan
from mcp_bridge.verbs._json import model_answer
from mcp_bridge.verbs._router import ProgressFn, RouterLike
from mcp_bridge.verbs.files import read_files, render_files

__all__ = [
    "PLAN_SCHEMA",
    "PlanArgs",
    "PlanDraft",
    "PlanResult",
    "PlanStep",
    "run_plan",
    "validate_plan_graph",
]

logger = logging.getLogger(__name__)

MAX_STEPS_LIMIT = 50
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")


class PlanStep(BaseModel):
    """One step: what to do, what it waits for, and how to tell it is done."""

    id: str = Field(description="Stable id, kept across revisions (s1, s2, ...).")
    title: str
    action: str
    depends_on: list[str] = Field(default_factory=list)
    done_when: str = Field(description="A checkable acceptance criterion.")


class PlanDraft(BaseModel):
    """What the model returns; the bridge adds ids and provenance."""

    summary: str
    steps: list[PlanStep]
    assumptions: list[str] = Field(default_factory=list)
    risks: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)


class PlanResult(PlanDraft):
    """A stored plan revision with its provenance."""

    plan_id: str
    revision: int
    goal: str
    provider: str
    model: str
    attempts: list[Attempt]
    note: str | None = None


class PlanArgs(BaseModel):
    """The `plan` tool's arguments."""

    goal: str | None = None
    context: str | None = None
    files: list[str] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    max_steps: int = 12
    plan_id: str | None = None
    feedback: str | None = None
    providers: list[str] | None = None
    timeout_s: float | None = None


def _string_list() -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}}


_STEP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "action": {"type": "string"},
        "depends_on": _string_list(),
        "done_when": {"type": "string"},
    },
    "required": ["id", "title", "action", "depends_on", "done_when"],
    "additionalProperties": False,
}

PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "steps": {"type": "array", "items": _STEP_SCHEMA},
        "assumptions": _string_list(),
        "risks": _string_list(),
        "open_questions": _string_list(),
    },
    "required": ["summary", "steps", "assumptions", "risks", "open_questions"],
    "additionalProperties": False,
}
"""The JSON shape asked of the model, inline and strict-mode friendly."""


def validate_plan_graph(
    draft: PlanDraft,
    *,
    max_steps: int,
    previous: Sequence[PlanStep] = (),
) -> PlanDraft:
    """Return a tidied draft, or raise `InvalidResponse` naming the defect."""
    steps = [_tidy(step) for step in draft.steps]
    if not steps:
        raise InvalidResponse("the plan has no steps; give at least one step")
    if len(steps) > max_steps:
        raise InvalidResponse(
            f"the plan has {len(steps)} steps; give at most {max_steps}"
        )
    _check_fields(steps)
    _check_ids(steps)
    _check_dependencies(steps)
    _check_kept_ids(steps, previous)
    return draft.model_copy(update={"steps": steps})


def _tidy(step: PlanStep) -> PlanStep:
    return step.model_copy(
        update={
            "id": step.id.strip(),
            "title": step.title.strip(),
            "action": step.action.strip(),
            "done_when": step.done_when.strip(),
            "depends_on": list(dict.fromkeys(d.strip() for d in step.depends_on)),
        }
    )


def _check_fields(steps: Sequence[PlanStep]) -> None:
    for step in steps:
        for field in ("title", "action", "done_when"):
            if not getattr(step, field):
                raise InvalidResponse(
                    f"step {step.id or '(no id)'} has an empty {field}; "
                    f"every step needs a {field}"
                )


def _check_ids(steps: Sequence[PlanStep]) -> None:
    seen: set[str] = set()
    for step in steps:
        if not _ID_PATTERN.match(step.id):
            raise InvalidResponse(
                f"step id {step.id!r} is not a short identifier; use ids like s1, s2"
            )
        if step.id in seen:
            raise InvalidResponse(
                f"step id {step.id} is used twice; give every step a unique id"
            )
        seen.add(step.id)


def _check_dependencies(steps: Sequence[PlanStep]) -> None:
    ids = {step.id for step in steps}
    for step in steps:
        unknown = [d for d in step.depends_on if d not in ids]
        if unknown:
            raise InvalidResponse(
                f"step {step.id} depends on {', '.join(unknown)}, which "
                f"{'is' if len(unknown) == 1 else 'are'} not a step of this plan; "
                f"the step ids are {', '.join(s.id for s in steps)}"
            )
    cycle = _find_cycle({step.id: step.depends_on for step in steps})
    if cycle:
        raise InvalidResponse(
            f"the dependencies form a cycle ({' -> '.join(cycle)}); "
            "reorder the steps so that no step waits for itself"
        )


def _find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one cycle as a closed path of ids, or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for root in graph:
        if state.get(root):
            continue
        path = [root]
        stack = [iter(graph[root])]
        state[root] = 1
        while stack:
            node = next(stack[-1], None)
            if node is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(node) == 1:
                return [*path[path.index(node) :], node]
            elif not state.get(node):
                state[node] = 1
                path.append(node)
                stack.append(iter(graph[node]))
    return None


def _check_kept_ids(steps: Sequence[PlanStep], previous: Sequence[PlanStep]) -> None:
    # A step whose title is unchanged is the same step: it must keep its id so
    # that callers holding the id (verify, progress notes) still find it.
    old_by_title = {_norm(step.title): step.id for step in previous}
    for step in steps:
        old_id = old_by_title.get(_norm(step.title))
        if old_id is not None and old_id != step.id:
            raise InvalidResponse(
                f"step {step.title!r} had id {old_id} in the previous revision but "
                f"now has id {step.id}; keep the id of every step you keep"
            )


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


async def run_plan(
    router: RouterLike, args: PlanArgs, *, progress: ProgressFn | None = None
) -> PlanResult:
    """Write or revise a plan through the router, validate it and store it."""
    stored = await _load_base(router, args)
    goal = _goal(args, stored)
    files_block = render_files(await read_files(args.files, router.config.limits))
    previous = [PlanStep.model_validate(s) for s in (stored or {}).get("steps", [])]
    request = _request(args, stored, goal, files_block)

    def validate(response: ChatResponse) -> PlanDraft:
        draft = model_answer(response, PlanDraft)
        return validate_plan_graph(draft, max_steps=args.max_steps, previous=previous)

    result = await router.call(
        request,
        providers=check_providers(args.providers),
        timeout_s=args.timeout_s,
        validate=validate,
        progress=progress,
    )
    draft: PlanDraft = result.value
    plan = PlanResult(
        **draft.model_dump(),
        plan_id=stored["plan_id"] if stored else _new_plan_id(),
        revision=int(stored["revision"]) + 1 if stored else 1,
        goal=goal,
        provider=result.provider,
        model=result.model,
        attempts=result.attempts,
    )
    await _save(router, plan, stored)
    return plan


async def _load_base(router: RouterLike, args: PlanArgs) -> dict[str, Any] | None:
    check_timeout(args.timeout_s)
    if not 1 <= args.max_steps <= MAX_STEPS_LIMIT:
        raise InputError(
            f"max_steps must be between 1 and {MAX_STEPS_LIMIT} (got {args.max_steps})"
        )
    if args.plan_id is None:
        if args.feedback:
            raise InputError(
                "feedback revises a stored plan: give plan_id too, or leave "
                "feedback out to write a new plan"
            )
        return None
    advice = "leave plan_id out to write a new plan"
    return await stored_plan(router, args.plan_id, advice)


def _goal(args: PlanArgs, stored: dict[str, Any] | None) -> str:
    goal = (args.goal or "").strip()
    if not goal and stored:
        return str(stored.get("goal", ""))
    if not goal:
        raise InputError("goal is empty; describe what the plan should achieve")
    return goal


def _request(
    args: PlanArgs, stored: dict[str, Any] | None, goal: str, files_block: str
) -> ChatRequest:
    if stored:
        text = prompts.revision_prompt(
            {**stored, "goal": goal},
            args.feedback,
            context=args.context,
            constraints=args.constraints,
            max_steps=args.max_steps,
            files_block=files_block,
        )
    else:
        text = prompts.plan_prompt(
            goal,
            context=args.context,
            constraints=args.constraints,
            max_steps=args.max_steps,
            files_block=files_block,
        )
    return ChatRequest(
        messages=[Message(role="user", content=text)],
        system=prompts.PLAN_SYSTEM,
        json_schema=PLAN_SCHEMA,
        schema_name="plan",
        temperature=0.2,
    )


def _new_plan_id() -> str:
    return "p_" + uuid.uuid4().hex[:12]


async def _save(
    router: RouterLike, plan: PlanResult, stored: dict[str, Any] | None
) -> None:
    now = time.time()
    record = plan.model_dump(mode="json", exclude={"note"})
    record["created_at"] = stored.get("created_at", now) if stored else now
    record["updated_at"] = now
    await router.store.save_plan(plan.plan_id, record)
    logger.info(
        "stored plan %s revision %d from %s", plan.plan_id, plan.revision, plan.provider
    )
