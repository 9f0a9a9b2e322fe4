"""The one canonical prompt of each tool, written for any competent model.

There is no per-model text here: differences between providers (where the
system text goes, how JSON is requested) live in the protocol layer. The
expected JSON shape travels separately as the request's `json_schema`; the
prompts describe its meaning, not its syntax.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = [
    "PLAN_SYSTEM",
    "VERIFY_SYSTEM",
    "attach",
    "plan_prompt",
    "revision_prompt",
    "verify_prompt",
]

PLAN_SYSTEM = """\
You are a senior engineer who turns a goal into a short, executable plan.
Answer with one JSON object and nothing else, with these fields:
- summary: two or three sentences on the approach.
- steps: the ordered steps. Each step has
  - id: a short stable identifier such as "s1", "s2";
  - title: a few words;
  - action: what to do, concrete enough for another engineer or agent to do it;
  - depends_on: the ids of steps that must be finished first (may be empty);
  - done_when: one checkable acceptance criterion, phrased so that someone who
    sees the result can say pass or fail without asking you.
- assumptions: what you took for granted.
- risks: what could go wrong and how the plan guards against it.
- open_questions: what the requester should decide; empty when nothing.
Rules: every depends_on entry names an id of this plan; the dependencies form
no cycle; no step has an empty action; ids are unique. Prefer few, meaningful
steps over many trivial ones. Respect every constraint given."""

VERIFY_SYSTEM = """\
You are a strict, fair reviewer. You judge whether a piece of work meets each
acceptance criterion, using only the work, the evidence and the files shown.
Answer with one JSON object and nothing else, with these fields:
- checks: one entry per criterion, in the order given, each with
  - criterion: the criterion's text, copied;
  - verdict: "pass" when the material shows the criterion is met, "fail" when
    it shows it is not met, "unclear" when the material is not enough to tell;
  - reason: one or two sentences citing what in the material decided it.
- issues: concrete problems you noticed, including ones outside the criteria.
- confidence: a number from 0 to 1, how sure you are of your checks.
Never answer "pass" on trust: when something cannot be seen in the material,
the verdict for that criterion is "unclear"."""


def attach(text: str, files_block: str) -> str:
    """Append rendered files to a prompt section, when there are any."""
    if not files_block:
        return text
    return f"{text}\n\nAttached files:\n{files_block}"


def plan_prompt(
    goal: str,
    *,
    context: str | None,
    constraints: Sequence[str],
    max_steps: int,
    files_block: str = "",
) -> str:
    """The user message asking for a new plan."""
    parts = [f"Goal:\n{goal.strip()}"]
    parts += _context_parts(context, constraints)
    parts.append(
        f"Write a plan of at most {max_steps} steps, with ids s1, s2, ... in order."
    )
    return attach("\n\n".join(parts), files_block)


def revision_prompt(
    plan: dict[str, Any],
    feedback: str | None,
    *,
    context: str | None,
    constraints: Sequence[str],
    max_steps: int,
    files_block: str = "",
) -> str:
    """The user message asking to revise a stored plan, keeping step ids."""
    current = {key: plan.get(key) for key in _REVISABLE}
    parts = [
        f"Goal:\n{plan.get('goal', '')}",
        "Current plan (JSON):\n" + json.dumps(current, indent=2, ensure_ascii=False),
        f"Feedback to address:\n{(feedback or 'none given; improve the plan').strip()}",
    ]
    parts += _context_parts(context, constraints)
    parts.append(
        "Revise the plan to address the feedback, with at most "
        f"{max_steps} steps. Keep the id of every step you keep, even when you "
        "edit its text. Give new steps new ids that continue the numbering "
        "after the highest existing one; never reuse the id of a removed step "
        "for a different step."
    )
    return attach("\n\n".join(parts), files_block)


def verify_prompt(
    subject: str,
    criteria: Sequence[str],
    *,
    evidence: str | None,
    context: str | None = None,
    files_block: str = "",
) -> str:
    """The user message asking for a judgement against numbered criteria."""
    numbered = "\n".join(f"{i}. {c.strip()}" for i, c in enumerate(criteria, 1))
    parts = [f"Context:\n{context.strip()}"] if context and context.strip() else []
    parts += [
        f"Acceptance criteria ({len(criteria)}):\n{numbered}",
        f"Work to judge:\n<work>\n{subject.strip()}\n</work>",
    ]
    if evidence and evidence.strip():
        parts.append(f"Evidence:\n<evidence>\n{evidence.strip()}\n</evidence>")
    parts.append(f"Return exactly {len(criteria)} checks, one per criterion.")
    return attach("\n\n".join(parts), files_block)


_REVISABLE = ("summary", "steps", "assumptions", "risks", "open_questions")


def _context_parts(context: str | None, constraints: Sequence[str]) -> list[str]:
    parts = []
    if context and context.strip():
        parts.append(f"Context:\n{context.strip()}")
    if constraints:
        parts.append("Constraints:\n" + "\n".join(f"- {c}" for c in constraints))
    return parts
