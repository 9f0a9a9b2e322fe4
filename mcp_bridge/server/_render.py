"""Readable text renderings of the three results, sent beside structuredContent."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mcp_bridge.canonical import Attempt
from mcp_bridge.verbs import CompleteResult, PlanResult, VerifyResult

__all__ = ["render_complete", "render_plan", "render_verify"]


def render_complete(result: CompleteResult) -> str:
    """The answer, then one provenance line."""
    body = result.text
    if result.data is not None:
        body = json.dumps(result.data, indent=2, ensure_ascii=False)
    footer = _provenance(result.provider, result.model, result.attempts)
    return "\n\n".join(p for p in (body, _note(result.note), footer) if p)


def render_plan(result: PlanResult) -> str:
    """The plan as a Markdown list with ids, dependencies and done-when."""
    lines = [
        f"# Plan {result.plan_id} (revision {result.revision})",
        f"Goal: {result.goal}",
        "",
        result.summary,
        "",
    ]
    for step in result.steps:
        after = f" (after {', '.join(step.depends_on)})" if step.depends_on else ""
        lines.append(f"- [{step.id}] {step.title}{after}: {step.action}")
        lines.append(f"  done when: {step.done_when}")
    for title, items in (
        ("Assumptions", result.assumptions),
        ("Risks", result.risks),
        ("Open questions", result.open_questions),
    ):
        lines += _section(title, items)
    lines += ["", _provenance(result.provider, result.model, result.attempts)]
    return "\n".join(lines + _optional(_note(result.note)))


def render_verify(result: VerifyResult) -> str:
    """The verdict, each check, the issues and who judged."""
    lines = [f"Verdict: {result.verdict.upper()} (confidence {result.confidence:.2f})"]
    if result.reason:
        lines.append(f"Reason: {result.reason}")
    lines += [f"- [{c.verdict}] {c.criterion}: {c.reason}" for c in result.checks]
    lines += _section("Issues", result.issues)
    if result.votes:
        votes = ", ".join(f"{v.provider}={v.verdict}" for v in result.votes)
        lines += ["", f"Votes: {votes} (agreement {result.agreement or 0:.2f})"]
    judges = ", ".join(result.provenance.providers) or "no provider"
    lines += ["", f"Judged by {judges}; {_attempts(result.provenance.attempts)}"]
    return "\n".join(lines + _optional(_note(result.note)))


def _section(title: str, items: Sequence[str]) -> list[str]:
    if not items:
        return []
    return ["", f"{title}:", *(f"- {item}" for item in items)]


def _provenance(provider: str, model: str, attempts: Sequence[Attempt]) -> str:
    return f"Answered by {provider} ({model}); {_attempts(attempts)}"


def _attempts(attempts: Sequence[Attempt]) -> str:
    parts = [f"{a.provider} {a.outcome}" for a in attempts]
    return f"{len(attempts)} attempt(s): {', '.join(parts)}" if parts else "no attempts"


def _note(note: str | None) -> str:
    return f"Note: {note}" if note else ""


def _optional(text: str) -> list[str]:
    return ["", text] if text else []
