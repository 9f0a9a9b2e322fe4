"""The logic of the three MCP tools: `complete`, `plan` and `verify`.

This package is named `verbs` rather than `tools` on purpose: the repository's
top-level `tools/` folder holds repository tooling (the fake provider,
benchmarks), not the MCP tools. Each verb builds a canonical prompt, sends it
through the router with a validator, and returns a pydantic result model; the
MCP wiring lives in `mcp_bridge.server`.
"""

from mcp_bridge.verbs.complete import CompleteArgs, CompleteResult, run_complete
from mcp_bridge.verbs.files import AttachedFile, read_files, render_files
from mcp_bridge.verbs.plan import (
    PlanArgs,
    PlanResult,
    PlanStep,
    run_plan,
    validate_plan_graph,
)
from mcp_bridge.verbs.verify import (
    Check,
    Provenance,
    Verdict,
    VerifyArgs,
    VerifyResult,
    Vote,
    run_verify,
    verdict_from_checks,
)

__all__ = [
    "AttachedFile",
    "Check",
    "CompleteArgs",
    "CompleteResult",
    "PlanArgs",
    "PlanResult",
    "PlanStep",
    "Provenance",
    "Verdict",
    "VerifyArgs",
    "VerifyResult",
    "Vote",
    "read_files",
    "render_files",
    "run_complete",
    "run_plan",
    "run_verify",
    "validate_plan_graph",
    "verdict_from_checks",
]
