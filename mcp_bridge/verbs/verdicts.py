"""From checks to a verdict, and from several providers' votes to one.

Pure functions: the verdict follows mechanically from the checks, so that no
model can turn a failed or uncertain check into a pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "Ballot",
    "Check",
    "Combined",
    "Judgement",
    "Verdict",
    "Vote",
    "combine_ballots",
    "verdict_from_checks",
]

Verdict = Literal["pass", "fail", "unclear"]


class Check(BaseModel):
    """One criterion and what the judge found."""

    criterion: str
    verdict: Verdict
    reason: str


class Judgement(BaseModel):
    """What one model returns when asked to verify."""

    checks: list[Check]
    issues: list[str] = Field(default_factory=list)
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class Vote(BaseModel):
    """One provider's overall verdict in a quorum."""

    provider: str
    model: str
    verdict: Verdict
    confidence: float


@dataclass(frozen=True)
class Ballot:
    """A judgement together with who gave it."""

    provider: str
    model: str
    judgement: Judgement


@dataclass(frozen=True)
class Combined:
    """The outcome of combining ballots."""

    verdict: Verdict
    confidence: float
    checks: list[Check]
    issues: list[str]
    votes: list[Vote]
    agreement: float
    reason: str | None


def verdict_from_checks(checks: Sequence[Check]) -> Verdict:
    """Any fail is a fail; otherwise any unclear is unclear; all pass is a pass."""
    verdicts = {check.verdict for check in checks}
    if "fail" in verdicts:
        return "fail"
    if "unclear" in verdicts or not checks:
        return "unclear"
    return "pass"


def combine_ballots(
    criteria: Sequence[str], ballots: Sequence[Ballot], *, quorum: int
) -> Combined:
    """Merge the ballots per criterion; a short quorum is never a pass."""
    if not ballots:
        return _nobody_judged(criteria)
    checks = [_merge_check(i, c, ballots) for i, c in enumerate(criteria)]
    votes = [_vote(b) for b in ballots]
    agreement = _agreement(votes)
    verdict = verdict_from_checks(checks)
    reason = _unclear_reason(checks) if verdict == "unclear" else None
    if len(ballots) < quorum:
        verdict = "unclear"
        reason = (
            f"quorum of {quorum} not met: only {len(ballots)} provider(s) "
            f"answered ({', '.join(b.provider for b in ballots)})"
        )
    return Combined(
        verdict=verdict,
        confidence=_confidence(votes, agreement, quorum),
        checks=checks,
        issues=list(dict.fromkeys(i for b in ballots for i in b.judgement.issues)),
        votes=votes,
        agreement=agreement,
        reason=reason,
    )


def _merge_check(index: int, criterion: str, ballots: Sequence[Ballot]) -> Check:
    found = [(b.provider, b.judgement.checks[index]) for b in ballots]
    verdicts = [check.verdict for _, check in found]
    if len(found) == 1:
        return Check(
            criterion=criterion, verdict=verdicts[0], reason=found[0][1].reason
        )
    reason = "; ".join(f"{p}: {c.verdict}, {c.reason}" for p, c in found)
    return Check(criterion=criterion, verdict=_merge_verdicts(verdicts), reason=reason)


def _merge_verdicts(verdicts: Sequence[Verdict]) -> Verdict:
    # Unanimity for pass; a majority for fail; any other split is unclear,
    # so that disagreement is shown to the caller instead of hidden.
    if all(v == verdicts[0] for v in verdicts):
        return verdicts[0]
    if verdicts.count("fail") * 2 > len(verdicts):
        return "fail"
    return "unclear"


def _vote(ballot: Ballot) -> Vote:
    return Vote(
        provider=ballot.provider,
        model=ballot.model,
        verdict=verdict_from_checks(ballot.judgement.checks),
        confidence=ballot.judgement.confidence,
    )


def _agreement(votes: Sequence[Vote]) -> float:
    counts = Counter(vote.verdict for vote in votes)
    return counts.most_common(1)[0][1] / len(votes)


def _confidence(votes: Sequence[Vote], agreement: float, quorum: int) -> float:
    mean = sum(vote.confidence for vote in votes) / len(votes)
    coverage = min(1.0, len(votes) / quorum)
    return round(mean * agreement * coverage, 3)


def _unclear_reason(checks: Sequence[Check]) -> str:
    unclear = [c for c in checks if c.verdict == "unclear"]
    if not unclear:
        return "no criterion was checked"
    listed = "; ".join(f"{c.criterion!r}: {c.reason}" for c in unclear)
    return f"{len(unclear)} criterion(s) could not be decided: {listed}"


def _nobody_judged(criteria: Sequence[str]) -> Combined:
    checks = [
        Check(criterion=c, verdict="unclear", reason="no provider judged it")
        for c in criteria
    ]
    return Combined(
        verdict="unclear",
        confidence=0.0,
        checks=checks,
        issues=[],
        votes=[],
        agreement=0.0,
        reason="no provider could judge the work",
    )
