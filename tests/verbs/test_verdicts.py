"""Verdicts follow mechanically from checks; a short quorum is never a pass."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcp_bridge.verbs.verdicts import (
    Ballot,
    Check,
    Judgement,
    Verdict,
    combine_ballots,
    verdict_from_checks,
)

verdicts = st.sampled_from(["pass", "fail", "unclear"])


def checks(*found: Verdict) -> list[Check]:
    return [
        Check(criterion=f"c{i}", verdict=v, reason="r") for i, v in enumerate(found)
    ]


def ballot(provider: str, *found: Verdict, confidence: float = 0.8) -> Ballot:
    return Ballot(
        provider,
        f"{provider}-model",
        Judgement(checks=checks(*found), confidence=confidence),
    )


@given(st.lists(verdicts, min_size=1))
def test_the_verdict_follows_from_the_checks(found: list[Verdict]) -> None:
    verdict = verdict_from_checks(checks(*found))
    if "fail" in found:
        assert verdict == "fail"
    elif "unclear" in found:
        assert verdict == "unclear"
    else:
        assert verdict == "pass"


def test_no_checks_is_unclear_not_pass() -> None:
    assert verdict_from_checks([]) == "unclear"


def test_one_ballot_gives_its_own_checks_and_confidence() -> None:
    combined = combine_ballots(["c0", "c1"], [ballot("a", "pass", "pass")], quorum=1)
    assert combined.verdict == "pass"
    assert combined.confidence == 0.8
    assert combined.reason is None


def test_disagreement_on_a_criterion_is_unclear_with_both_reasons() -> None:
    combined = combine_ballots(
        ["c0"], [ballot("a", "pass"), ballot("b", "fail")], quorum=2
    )
    assert combined.verdict == "unclear"
    assert combined.agreement == 0.5
    assert "a: pass" in combined.checks[0].reason
    assert "b: fail" in combined.checks[0].reason
    assert [v.verdict for v in combined.votes] == ["pass", "fail"]


def test_a_majority_of_fails_is_a_fail() -> None:
    combined = combine_ballots(
        ["c0"],
        [ballot("a", "fail"), ballot("b", "fail"), ballot("c", "pass")],
        quorum=3,
    )
    assert combined.verdict == "fail"
    assert round(combined.agreement, 2) == 0.67


def test_a_quorum_not_met_is_unclear_even_when_every_vote_passes() -> None:
    combined = combine_ballots(["c0"], [ballot("a", "pass")], quorum=2)
    assert combined.verdict == "unclear"
    assert combined.reason is not None and "quorum of 2 not met" in combined.reason
    assert combined.confidence < 0.8


def test_no_ballot_at_all_is_unclear_with_zero_confidence() -> None:
    combined = combine_ballots(["c0", "c1"], [], quorum=1)
    assert combined.verdict == "unclear"
    assert combined.confidence == 0.0
    assert [c.verdict for c in combined.checks] == ["unclear", "unclear"]


@given(st.lists(st.lists(verdicts, min_size=2, max_size=2), min_size=1, max_size=3))
def test_a_combined_pass_needs_every_vote_to_pass(votes: list[list[Verdict]]) -> None:
    ballots = [ballot(f"p{i}", *v) for i, v in enumerate(votes)]
    combined = combine_ballots(["c0", "c1"], ballots, quorum=len(ballots))
    if combined.verdict == "pass":
        assert all(v == "pass" for vote in votes for v in vote)
