"""The MCPServer: three tools, plan and provider resources, progress, errors.

Every message the calling model must read leaves as a `ToolError`; anything
else would reach the client as a bare "Error executing tool".
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.shared.inbound import find_invalid_x_mcp_header, x_mcp_header_map
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_bridge import __version__
from mcp_bridge.canonical import Message
from mcp_bridge.config import BridgeConfig
from mcp_bridge.errors import AllAttemptsFailed, ConfigError, InputError
from mcp_bridge.server._bound import bound_result
from mcp_bridge.server._memory import sweeping
from mcp_bridge.server._progress import Heartbeat, Reporter, heartbeat
from mcp_bridge.server._render import render_complete, render_plan, render_verify
from mcp_bridge.server._schema import lean
from mcp_bridge.verbs import (
    CompleteArgs,
    CompleteResult,
    PlanArgs,
    PlanResult,
    VerifyArgs,
    VerifyResult,
    run_complete,
    run_plan,
    run_verify,
)
from mcp_bridge.verbs._router import RouterLike

__all__ = ["RouterFactory", "ServedRouter", "build_server"]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)

NO_PROVIDER = (
    "no provider is configured: set OPENAI_API_KEY (or ANTHROPIC_API_KEY, "
    "GEMINI_API_KEY, DEEPSEEK_API_KEY, OPENROUTER_API_KEY, ...) in the "
    "server's environment or write multibridge.toml; run multibridge-mcp doctor"
)


class ServedRouter(RouterLike, Protocol):
    """The router as the server uses it: routing plus a health report."""

    async def status(self) -> Sequence[BaseModel]: ...


RouterFactory = Callable[[BridgeConfig], AbstractAsyncContextManager[ServedRouter]]


@dataclass
class _State:
    """What the lifespan opens and every request shares."""

    router: ServedRouter | None = None
    heartbeat: Heartbeat | None = None


def _default_factory(config: BridgeConfig) -> AbstractAsyncContextManager[ServedRouter]:
    from mcp_bridge.resilience import open_router

    return open_router(config)


def build_server(
    config: BridgeConfig,
    *,
    router_factory: RouterFactory | None = None,
    heartbeat_s: float = 5.0,
) -> MCPServer[_State]:
    """Build the MultiBridge MCP server; the router opens with its lifespan."""
    state = _State()
    factory = router_factory or _default_factory

    @asynccontextmanager
    async def lifespan(_: MCPServer[_State]) -> AsyncIterator[_State]:
        async with (
            factory(config) as router,
            heartbeat(heartbeat_s) as beat,
            sweeping(),
        ):
            state.router, state.heartbeat = router, beat
            try:
                yield state
            finally:
                state.router = state.heartbeat = None

    server: MCPServer[_State] = MCPServer(
        name="multibridge",
        title="MultiBridge",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        # MCPServer configures the root logger when nobody has; left at its
        # INFO default, an embedding program would log two lines per call.
        log_level=_root_level(),
    )
    _Tools(config, state).register(server)
    _register_resources(server, state)
    return server


def _root_level() -> Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]:
    level = logging.getLogger().getEffectiveLevel()
    if level <= logging.DEBUG:
        return "DEBUG"
    if level <= logging.INFO:
        return "INFO"
    if level <= logging.WARNING:
        return "WARNING"
    return "ERROR" if level <= logging.ERROR else "CRITICAL"


INSTRUCTIONS = """\
MultiBridge sends work to whichever configured LLM provider is healthy, with \
failover. Use `complete` to ask another model anything, `plan` to get a \
validated, stored step plan (revise it with plan_id and feedback), and \
`verify` to have a different model judge work against criteria or a plan \
step's done_when. Every result names the provider and lists each attempt."""

_ANNOTATIONS = {
    "destructive_hint": False,
    "idempotent_hint": False,
    "open_world_hint": True,
}


class _Tools:
    """The three tools, bound to the configuration and the shared state."""

    def __init__(self, config: BridgeConfig, state: _State):
        self.config = config
        self.state = state

    def register(self, server: MCPServer[_State]) -> None:
        # plan stores what it writes; the other two change nothing locally.
        for fn, title, description, read_only in (
            (self.complete, "Complete with any provider", COMPLETE_DESCRIPTION, True),
            (self.plan, "Plan with a validated step graph", PLAN_DESCRIPTION, False),
            (self.verify, "Verify work against criteria", VERIFY_DESCRIPTION, True),
        ):
            annotations = ToolAnnotations(
                title=title, read_only_hint=read_only, **_ANNOTATIONS
            )
            server.add_tool(
                fn,
                name=fn.__name__,
                title=title,
                description=description,
                annotations=annotations,
            )
            _publish_lean_schemas(server, fn.__name__)
        _skip_absent_header_checks(server)

    async def complete(
        self,
        ctx: Context,
        prompt: Annotated[
            str | None, Field(description="One user message. Give this or messages.")
        ] = None,
        messages: Annotated[
            list[Message] | None,
            Field(
                description="A conversation of {role: user|assistant, content} "
                "ending with a user turn. Give this or prompt."
            ),
        ] = None,
        system: Annotated[str | None, Field(description="System instructions.")] = None,
        max_tokens: Annotated[
            int | None, Field(description="Output token limit.")
        ] = None,
        temperature: Annotated[
            float | None, Field(description="Sampling temperature, 0 to 2.")
        ] = None,
        json_schema: Annotated[
            dict[str, Any] | None,
            Field(
                description="A JSON Schema; the answer is then validated JSON, "
                "returned in `data`."
            ),
        ] = None,
        files: Annotated[list[str], Field(description=FILES_HELP)] = [],  # noqa: B006
        providers: Annotated[
            list[str] | None, Field(description=PROVIDERS_HELP)
        ] = None,
        timeout_s: Annotated[float | None, Field(description=TIMEOUT_HELP)] = None,
    ) -> Annotated[CallToolResult, CompleteResult]:
        args = CompleteArgs(
            prompt=prompt,
            messages=messages,
            system=system,
            max_tokens=max_tokens,
            temperature=temperature,
            json_schema=json_schema,
            files=files,
            providers=providers,
            timeout_s=timeout_s,
        )
        result = await self._serve(
            ctx, "complete", lambda r, p: run_complete(r, args, progress=p)
        )
        return self._reply(result, render_complete)

    async def plan(
        self,
        ctx: Context,
        goal: Annotated[
            str | None,
            Field(description="What the plan should achieve (optional when revising)."),
        ] = None,
        context: Annotated[
            str | None, Field(description="Background: the codebase, the situation.")
        ] = None,
        files: Annotated[list[str], Field(description=FILES_HELP)] = [],  # noqa: B006
        constraints: Annotated[
            list[str], Field(description="Rules the plan must respect.")
        ] = [],  # noqa: B006
        max_steps: Annotated[
            int, Field(description="At most this many steps (1 to 50).")
        ] = 12,
        plan_id: Annotated[
            str | None,
            Field(description="Revise this stored plan; step ids are kept."),
        ] = None,
        feedback: Annotated[
            str | None, Field(description="What to change (with plan_id).")
        ] = None,
        providers: Annotated[
            list[str] | None, Field(description=PROVIDERS_HELP)
        ] = None,
        timeout_s: Annotated[float | None, Field(description=TIMEOUT_HELP)] = None,
    ) -> Annotated[CallToolResult, PlanResult]:
        args = PlanArgs(
            goal=goal,
            context=context,
            files=files,
            constraints=constraints,
            max_steps=max_steps,
            plan_id=plan_id,
            feedback=feedback,
            providers=providers,
            timeout_s=timeout_s,
        )
        result = await self._serve(
            ctx, "plan", lambda r, p: run_plan(r, args, progress=p)
        )
        return self._reply(result, render_plan)

    async def verify(
        self,
        ctx: Context,
        subject: Annotated[
            str,
            Field(description="The work to judge: text, code, a diff, command output."),
        ] = "",
        criteria: Annotated[
            list[str],
            Field(description="Checkable statements the work must satisfy."),
        ] = [],  # noqa: B006
        plan_id: Annotated[
            str | None, Field(description="A stored plan (from the plan tool).")
        ] = None,
        step_id: Annotated[
            str | None,
            Field(description="A step of plan_id; its done_when becomes a criterion."),
        ] = None,
        files: Annotated[list[str], Field(description=FILES_HELP)] = [],  # noqa: B006
        evidence: Annotated[
            str | None,
            Field(description="Supporting material: test output, logs, measurements."),
        ] = None,
        quorum: Annotated[
            int, Field(description="How many distinct providers must judge (1 to 3).")
        ] = 1,
        independent: Annotated[
            bool,
            Field(description="Prefer a provider other than the plan's author."),
        ] = True,
        providers: Annotated[
            list[str] | None, Field(description=PROVIDERS_HELP)
        ] = None,
        timeout_s: Annotated[float | None, Field(description=TIMEOUT_HELP)] = None,
    ) -> Annotated[CallToolResult, VerifyResult]:
        args = VerifyArgs(
            subject=subject,
            criteria=criteria,
            plan_id=plan_id,
            step_id=step_id,
            files=files,
            evidence=evidence,
            quorum=quorum,
            independent=independent,
            providers=providers,
            timeout_s=timeout_s,
        )
        result = await self._serve(
            ctx, "verify", lambda r, p: run_verify(r, args, progress=p)
        )
        return self._reply(result, render_verify)

    async def _serve(
        self,
        ctx: Context,
        label: str,
        call: Callable[[ServedRouter, Reporter], Awaitable[R]],
    ) -> R:
        """Run one verb with progress, mapping every expected error to a ToolError."""
        router, beat = self._router()

        async def send(value: float, message: str) -> None:
            await ctx.report_progress(value, message=message)

        try:
            with beat.watch(send, label) as reporter:
                return await call(router, reporter)
        except (InputError, ConfigError) as exc:
            raise ToolError(str(exc)) from exc
        except AllAttemptsFailed as exc:
            raise ToolError(_failure_message(exc)) from exc

    def _router(self) -> tuple[ServedRouter, Heartbeat]:
        if not any(p.enabled for p in self.config.providers):
            raise ToolError(NO_PROVIDER)
        if self.state.router is None or self.state.heartbeat is None:
            raise ToolError("the bridge is not started yet; retry in a moment")
        return self.state.router, self.state.heartbeat

    def _reply(self, result: R, render: Callable[[R], str]) -> CallToolResult:
        try:
            bounded = bound_result(result, self.config.limits.max_result_chars)
        except InputError as exc:
            raise ToolError(str(exc)) from exc
        return CallToolResult(
            content=[TextContent(type="text", text=render(bounded))],
            structured_content=bounded.model_dump(mode="json"),
        )


def _publish_lean_schemas(server: MCPServer[_State], name: str) -> None:
    # The SDK reads both fields live (the output schema is cached on first
    # use, so this runs before any listing); see _schema for why.
    tool = server._tool_manager.get_tool(name)
    if tool is None:
        raise RuntimeError(f"tool {name} was not registered")
    tool.parameters = lean(tool.parameters)
    metadata = tool.fn_metadata
    if metadata.output_schema is not None:
        metadata.output_schema = lean(metadata.output_schema, null_first=True)


def _skip_absent_header_checks(server: MCPServer[_State]) -> None:
    # Over HTTP the SDK compares Mcp-Param-* headers with the arguments of
    # every tools/call, walking each position of the tool's input schema twice
    # to find x-mcp-header annotations (ours have about 60 positions and
    # none). The lookup it calls may answer None for "nothing to validate":
    # so it does for a schema without annotations, found once per schema.
    lowlevel = server._lowlevel_server
    lookup = lowlevel.get_tool_input_schema
    if lookup is None:
        return
    verdicts: dict[str, tuple[Mapping[str, Any], bool]] = {}

    def input_schema(name: str) -> Mapping[str, Any] | None:
        schema = lookup(name)
        if schema is None:
            return None
        seen = verdicts.get(name)
        if seen is None or seen[0] is not schema:
            annotated = bool(x_mcp_header_map(schema)) or (
                find_invalid_x_mcp_header(schema) is not None
            )
            seen = verdicts[name] = (schema, annotated)
        return schema if seen[1] else None

    lowlevel.get_tool_input_schema = input_schema


def _failure_message(exc: AllAttemptsFailed) -> str:
    # The router's message already lists every attempt and skipped provider.
    advice = "Retry later, raise timeout_s, or check" if exc.timed_out else "Check"
    return (
        f"every provider failed: {exc}\n{advice} the providers with the "
        "bridge://providers resource or `multibridge-mcp doctor`."
    )


def _register_resources(server: MCPServer[_State], state: _State) -> None:
    def router() -> ServedRouter:
        if state.router is None:
            raise ResourceNotFoundError("the bridge is not started yet")
        return state.router

    @server.resource(
        "plans://{plan_id}",
        name="plan",
        description="A stored plan, latest revision, as JSON.",
        mime_type="application/json",
    )
    async def read_plan(plan_id: str) -> str:
        plan = await router().store.get_plan(plan_id)
        if plan is None:
            raise ResourceNotFoundError(f"plan {plan_id} is not stored")
        return json.dumps(plan, indent=2, ensure_ascii=False)

    @server.resource(
        "plans://index",
        name="plans",
        description="Stored plans, newest first: id, goal, revision, provider.",
        mime_type="application/json",
    )
    async def list_plans() -> str:
        plans = await router().store.list_plans()
        return json.dumps([_plan_entry(p) for p in plans], indent=2, ensure_ascii=False)

    @server.resource(
        "bridge://providers",
        name="providers",
        description="Each provider's health: breaker state, latency, last error.",
        mime_type="application/json",
    )
    async def providers() -> str:
        report = await router().status()
        return json.dumps([s.model_dump(mode="json") for s in report], indent=2)


def _plan_entry(plan: dict[str, Any]) -> dict[str, Any]:
    keys = ("plan_id", "revision", "goal", "provider", "model", "updated_at")
    entry = {key: plan.get(key) for key in keys}
    entry["uri"] = f"plans://{plan.get('plan_id')}"
    entry["steps"] = len(plan.get("steps", []))
    return entry


FILES_HELP = (
    "Local text files the bridge reads and attaches (paths on the bridge's "
    "machine; size-limited)."
)
PROVIDERS_HELP = (
    "Restrict to these provider names, in this order (see bridge://providers). "
    "Leave out to let the bridge choose."
)
TIMEOUT_HELP = "Total deadline in seconds, failover included (default from config)."

COMPLETE_DESCRIPTION = """\
Ask a language model through MultiBridge, which routes to a healthy provider \
and fails over when one is down, slow or returns invalid output. Use it for a \
second opinion, for a task suited to another model, or to get JSON that is \
guaranteed to match a schema (give json_schema). Returns the text (and `data` \
when a schema was given), the provider and model that answered, and every \
attempt made."""

PLAN_DESCRIPTION = """\
Write a step plan for a goal: each step has a stable id, an action, its \
dependencies and a checkable done_when criterion. The dependency graph is \
validated (no unknown ids, no cycles); invalid plans are repaired or another \
provider is used. The plan is stored: revise it by calling again with plan_id \
and feedback (step ids are kept), read it at plans://{plan_id}, and check a \
finished step with verify(plan_id, step_id)."""

VERIFY_DESCRIPTION = """\
Have a model judge work (text, code, a diff, command output) against \
criteria, or against a stored plan step's done_when (plan_id + step_id). Each \
criterion gets pass, fail or unclear with a reason; the verdict follows \
mechanically (any fail is fail). By default it prefers a provider other than \
the plan's author; quorum 2-3 asks distinct providers and reports their \
agreement. When the bridge cannot judge, the verdict is unclear, never pass."""
