"""The `verify` verb: judge work against criteria, with an optional quorum.

The overall verdict follows from the checks (see `verdicts`); when the bridge
could not judge (providers unavailable, quorum not met) the verdict is
`unclear` with a reason, never a silent pass.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import BaseModel, Field

from mcp_bridge.canonical import Attempt, CallResult, ChatRequest, ChatResponse, Message
from mcp_bridge.errors import (
    AllAttemptsFailed,
    BridgeError,
    InputError,
    InvalidResponse,
)
from mcp_bridge.verbs import prompts
from mcp_bridge.verbs._args import check_providers, check_timeout, stored_plan
from mcp_bridge.verbs._json import model_answer
from mcp_bridge.verbs._router import ProgressFn, RouterLike, Validator
from mcp_bridge.verbs.files import read_files, render_files
from mcp_bridge.verbs.verdicts import (
    Ballot,
    Check,
    Judgement,
    Verdict,
    Vote,
    combine_ballots,
    verdict_from_checks,
)

__all__ = [
    "JUDGEMENT_SCHEMA",
    "Check",
    "Provenance",
    "Verdict",
    "VerifyArgs",
    "VerifyResult",
    "Vote",
    "run_verify",
    "verdict_from_checks",
]

logger = logging.getLogger(__name__)

MAX_QUORUM = 3


class VerifyArgs(BaseModel):
    """The `verify` tool's arguments."""

    subject: str = ""
    criteria: list[str] = Field(default_factory=list)
    plan_id: str | None = None
    step_id: str | None = None
    files: list[str] = Field(default_factory=list)
    evidence: str | None = None
    quorum: int = 1
    independent: bool = True
    providers: list[str] | None = None
    timeout_s: float | None = None


class Provenance(BaseModel):
    """Who judged, and every attempt made on the way."""

    providers: list[str]
    models: list[str]
    attempts: list[Attempt]
    avoided: list[str] = Field(default_factory=list)
    """Providers put last for independence (the plan's author)."""


class VerifyResult(BaseModel):
    """A verdict derived from per-criterion checks, with provenance."""

    verdict: Verdict
    confidence: float = Field(ge=0.0, le=1.0)
    checks: list[Check]
    issues: list[str]
    votes: list[Vote] | None = None
    """Each provider's verdict, when quorum > 1."""
    agreement: float | None = None
    """The share of votes that agree with the most common verdict (quorum > 1)."""
    reason: str | None = None
    """Why the verdict is unclear, when it is."""
    provenance: Provenance
    note: str | None = None


_CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "criterion": {"type": "string"},
        "verdict": {"type": "string", "enum": ["pass", "fail", "unclear"]},
        "reason": {"type": "string"},
    },
    "required": ["criterion", "verdict", "reason"],
    "additionalProperties": False,
}

JUDGEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "checks": {"type": "array", "items": _CHECK_SCHEMA},
        "issues": {"type": "array", "items": {"type": "string"}},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["checks", "issues", "confidence"],
    "additionalProperties": False,
}
"""The JSON shape asked of each judge, inline and strict-mode friendly."""


@dataclass
class _Task:
    """What the judges share: the request, the deadline, and what happened."""

    request: ChatRequest
    criteria: list[str]
    deadline: float
    avoid: list[str]
    progress: ProgressFn | None
    ballots: list[Ballot] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def run_verify(
    router: RouterLike, args: VerifyArgs, *, progress: ProgressFn | None = None
) -> VerifyResult:
    """Judge `args.subject` against its criteria with `args.quorum` providers."""
    _check(args, router)
    plan = await _load_plan(router, args)
    criteria, context = _criteria(args, plan)
    files_block = render_files(await read_files(args.files, router.config.limits))
    if not (args.subject.strip() or files_block or (args.evidence or "").strip()):
        raise InputError(
            "subject is empty; give the work to judge (text, code, a diff, "
            "command output) in subject, or attach it with files"
        )
    text = prompts.verify_prompt(
        args.subject,
        criteria,
        evidence=args.evidence,
        context=context,
        files_block=files_block,
    )
    author = str(plan.get("provider", "")) if plan and args.independent else ""
    task = _Task(
        request=_request(text),
        criteria=criteria,
        deadline=anyio.current_time() + _timeout(router, args),
        avoid=[author] if author else [],
        progress=progress,
    )
    await _gather_ballots(router, task, args)
    return _result(task, args.quorum)


def _check(args: VerifyArgs, router: RouterLike) -> None:
    check_timeout(args.timeout_s)
    if not 1 <= args.quorum <= MAX_QUORUM:
        raise InputError(f"quorum must be 1, 2 or 3 (got {args.quorum})")
    if args.step_id and not args.plan_id:
        raise InputError("step_id names a step of a stored plan: give plan_id too")
    for index, criterion in enumerate(args.criteria):
        if not criterion.strip():
            raise InputError(f"criteria[{index}] is empty; remove it or write it out")
    names = check_providers(args.providers)
    if names is not None and len(names) < args.quorum:
        raise InputError(
            f"quorum {args.quorum} needs {args.quorum} distinct providers, but "
            f"providers lists {len(names)}; list more providers or lower quorum"
        )
    for name in names or []:
        if router.config.provider(name) is None:
            known = ", ".join(p.name for p in router.config.providers) or "none"
            raise InputError(
                f"providers: {name} is not a configured provider; configured: {known}"
            )


async def _load_plan(router: RouterLike, args: VerifyArgs) -> dict[str, Any] | None:
    if not args.plan_id:
        return None
    return await stored_plan(router, args.plan_id, "check the id")


def _criteria(
    args: VerifyArgs, plan: dict[str, Any] | None
) -> tuple[list[str], str | None]:
    criteria = [c.strip() for c in args.criteria]
    if plan is None:
        if not criteria:
            raise InputError(
                "criteria is empty; give a list of checkable statements, or "
                "plan_id with step_id to check a stored step's done_when"
            )
        return criteria, None
    steps: list[dict[str, Any]] = list(plan.get("steps", []))
    if args.step_id:
        step = _find_step(steps, args.step_id, str(plan.get("plan_id")))
        context = (
            f"The work is step {step['id']} ({step['title']}) of a plan for: "
            f"{plan.get('goal', '')}\nThe step's action: {step['action']}"
        )
        return [str(step["done_when"]), *criteria], context
    if not criteria:
        criteria = [str(step["done_when"]) for step in steps]
    return criteria, f"The work belongs to a plan for: {plan.get('goal', '')}"


def _find_step(
    steps: list[dict[str, Any]], step_id: str, plan_id: str
) -> dict[str, Any]:
    for step in steps:
        if step.get("id") == step_id:
            return step
    ids = ", ".join(str(s.get("id")) for s in steps) or "none"
    raise InputError(f"step_id {step_id} is not in plan {plan_id}; steps are {ids}")


def _timeout(router: RouterLike, args: VerifyArgs) -> float:
    return args.timeout_s or router.config.timeouts.total_s


def _request(text: str) -> ChatRequest:
    return ChatRequest(
        messages=[Message(role="user", content=text)],
        system=prompts.VERIFY_SYSTEM,
        json_schema=JUDGEMENT_SCHEMA,
        schema_name="judgement",
        temperature=0.0,
    )


def _validator(criteria: Sequence[str]) -> Validator:
    def validate(response: ChatResponse) -> Judgement:
        judgement = model_answer(response, Judgement)
        if len(judgement.checks) != len(criteria):
            raise InvalidResponse(
                f"there are {len(criteria)} criteria but {len(judgement.checks)} "
                "checks; return exactly one check per criterion, in order"
            )
        # Our wording of each criterion wins over the model's copy of it.
        checks = [
            c.model_copy(update={"criterion": text})
            for c, text in zip(judgement.checks, criteria, strict=True)
        ]
        return judgement.model_copy(update={"checks": checks})

    return validate


async def _gather_ballots(router: RouterLike, task: _Task, args: VerifyArgs) -> None:
    """Ask `quorum` distinct providers; top up from untried ones while time is left."""
    names = check_providers(args.providers)
    if args.quorum == 1:
        await _judge(router, task, names)
        return
    candidates = _candidates(router, names, task.avoid)
    groups = [
        g for g in (candidates[i :: args.quorum] for i in range(args.quorum)) if g
    ]
    async with anyio.create_task_group() as tg:
        for group in groups:
            tg.start_soon(_judge, router, task, group)
    while len(task.ballots) < args.quorum:
        tried = {a.provider for a in task.attempts}
        rest = [c for c in candidates if c not in tried]
        if not rest or anyio.current_time() >= task.deadline:
            break
        await _judge(router, task, rest)


def _candidates(
    router: RouterLike, names: list[str] | None, avoid: Sequence[str]
) -> list[str]:
    if names is None:
        enabled = [p for p in router.config.providers if p.enabled]
        names = [p.name for p in sorted(enabled, key=lambda p: p.priority)]
    # The author goes last so that an independent provider judges first.
    return sorted(names, key=lambda n: n in avoid)


async def _judge(router: RouterLike, task: _Task, providers: list[str] | None) -> None:
    remaining = task.deadline - anyio.current_time()
    if remaining <= 0:
        task.failures.append("the deadline passed before a provider could be asked")
        return
    try:
        result: CallResult = await router.call(
            task.request,
            providers=providers,
            timeout_s=remaining,
            validate=_validator(task.criteria),
            avoid=task.avoid,
            progress=task.progress,
        )
    except AllAttemptsFailed as exc:
        task.attempts += [a for a in exc.attempts if isinstance(a, Attempt)]
        task.failures.append(str(exc))
        return
    except InputError:
        raise
    except BridgeError as exc:
        task.failures.append(str(exc))
        return
    task.attempts += result.attempts
    task.ballots.append(Ballot(result.provider, result.model, result.value))


def _result(task: _Task, quorum: int) -> VerifyResult:
    combined = combine_ballots(task.criteria, task.ballots, quorum=quorum)
    reason = combined.reason
    if reason and task.failures:
        reason += "; " + "; ".join(task.failures)
    logger.info(
        "verify: %s from %d ballot(s) of quorum %d",
        combined.verdict,
        len(task.ballots),
        quorum,
    )
    return VerifyResult(
        verdict=combined.verdict,
        confidence=combined.confidence,
        checks=combined.checks,
        issues=combined.issues,
        votes=combined.votes if quorum > 1 else None,
        agreement=combined.agreement if quorum > 1 else None,
        reason=reason,
        provenance=Provenance(
            providers=[b.provider for b in task.ballots],
            models=[b.model for b in task.ballots],
            attempts=task.attempts,
            avoided=task.avoid,
        ),
    )
