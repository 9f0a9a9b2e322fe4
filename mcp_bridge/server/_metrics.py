"""Prometheus metrics of the HTTP service, in a registry of their own.

Labels carry only names from the configuration (provider, tool) and fixed
vocabularies (attempt outcomes, breaker states); never a key, a token or a
prompt. Breaker gauges are refreshed from the shared state at scrape time, so
every replica reports what any replica learned.

With several worker processes (`[http] workers`), values are kept in
prometheus_client's multiprocess files and a scrape of any worker adds up
every worker's counters and histograms; a gauge reports the value most
recently set by any of them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from mcp_bridge.canonical import Attempt
from mcp_bridge.config import BridgeConfig
from mcp_bridge.resilience import ProviderStatus

__all__ = ["CONTENT_TYPE", "BridgeMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_TOOLS = frozenset({"complete", "plan", "verify"})
_STATES = ("closed", "open", "half_open", "disabled")
_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


class BridgeMetrics:
    """The service's counters, histograms and gauges."""

    def __init__(self, config: BridgeConfig, *, shared_dir: str | None = None) -> None:
        """`shared_dir`: the multiprocess directory when several workers serve."""
        self._shared_dir = shared_dir
        if shared_dir is not None:
            _share_values(shared_dir)
        self.registry = CollectorRegistry()
        self._prices = {
            p.name: (p.price_input_per_mtok, p.price_output_per_mtok)
            for p in config.providers
        }
        # Labelled children by (metric, labels): labels() takes a lock and
        # builds a tuple on every call, and each call observes several.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._define_calls()
        self._define_providers()

    def _labelled(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _define_calls(self) -> None:
        r = self.registry
        self.tool_calls = Counter(
            "multibridge_tool_calls", "Tool calls by tool and outcome.",
            ["tool", "outcome"], registry=r,
        )  # fmt: skip
        self.tool_seconds = Histogram(
            "multibridge_tool_call_duration_seconds", "Tool call duration.",
            ["tool"], buckets=_BUCKETS, registry=r,
        )  # fmt: skip
        self.attempts = Counter(
            "multibridge_attempts", "Upstream attempts by provider and outcome.",
            ["provider", "outcome"], registry=r,
        )  # fmt: skip
        self.attempt_seconds = Histogram(
            "multibridge_attempt_duration_seconds", "Upstream attempt latency.",
            ["provider"], buckets=_BUCKETS, registry=r,
        )  # fmt: skip

    def _define_providers(self) -> None:
        r = self.registry
        self.tokens = Counter(
            "multibridge_tokens", "Tokens reported by providers.",
            ["provider", "direction"], registry=r,
        )  # fmt: skip
        self.cost = Counter(
            "multibridge_estimated_cost_usd",
            "Estimated cost from the configured per-million-token prices.",
            ["provider"], registry=r,
        )  # fmt: skip
        self.breaker = Gauge(
            "multibridge_breaker_state",
            "1 for the provider's current breaker state, 0 for the others.",
            ["provider", "state"], registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.usable = Gauge(
            "multibridge_providers_usable", "Providers that may be called now.",
            registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.degraded = Gauge(
            "multibridge_state_store_degraded",
            "1 while the shared state store is unreachable (local state in use).",
            registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip

    def observe_attempt(self, attempt: Attempt) -> None:
        """Count one upstream attempt, its latency, tokens and cost."""
        provider, child = attempt.provider, self._labelled
        child(self.attempts, provider, attempt.outcome).inc()
        child(self.attempt_seconds, provider).observe(attempt.latency_ms / 1000)
        child(self.tokens, provider, "input").inc(attempt.input_tokens)
        child(self.tokens, provider, "output").inc(attempt.output_tokens)
        price_in, price_out = self._prices.get(provider, (0.0, 0.0))
        cost = attempt.input_tokens * price_in + attempt.output_tokens * price_out
        child(self.cost, provider).inc(cost / 1_000_000)

    def observe_tool(self, tool: str, outcome: str, seconds: float) -> None:
        """Count one tool call (unknown tool names are counted as "other")."""
        name = tool if tool in _TOOLS else "other"
        self._labelled(self.tool_calls, name, outcome).inc()
        self._labelled(self.tool_seconds, name).observe(seconds)

    def observe_status(
        self, statuses: Sequence[ProviderStatus], usable: int, degraded: bool
    ) -> None:
        """Set the breaker and availability gauges from the shared state."""
        for status in statuses:
            for state in _STATES:
                value = 1.0 if status.state == state else 0.0
                self.breaker.labels(status.name, state).set(value)
        self.usable.set(usable)
        self.degraded.set(1.0 if degraded else 0.0)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (of every worker)."""
        if self._shared_dir is None:
            return bytes(generate_latest(self.registry))
        from prometheus_client.multiprocess import MultiProcessCollector

        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self._shared_dir)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(merged))

    async def tool_middleware(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """MCP server middleware timing every tools/call."""
        if ctx.method != "tools/call":
            return await call_next(ctx)
        tool = str((ctx.params or {}).get("name", ""))
        started, outcome = time.monotonic(), "error"
        try:
            result = await call_next(ctx)
            outcome = "error" if _is_error(result) else "ok"
            return result
        finally:
            self.observe_tool(tool, outcome, time.monotonic() - started)


def _share_values(directory: str) -> None:
    """Keep metric values in `directory`'s files from now on, for every worker.

    prometheus_client picks its value store once, at import, from
    PROMETHEUS_MULTIPROC_DIR; setting both here makes the choice independent
    of import order, and the files follow each forked worker's own pid.
    """
    import os

    from prometheus_client import values

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def _is_error(result: HandlerResult) -> bool:
    if isinstance(result, dict):
        return bool(result.get("isError"))
    return bool(getattr(result, "is_error", False))
