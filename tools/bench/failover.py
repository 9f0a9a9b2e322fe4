"""Failover: time to an answer and traffic to a faulty primary, per fault class.

Each class gets a fresh in-process bridge (memory state, so breakers start
closed) served to an in-memory MCP client; the primary (OpenAI protocol) is
faulty, the secondary (Anthropic protocol) healthy, both on the fake provider.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from mcp import Client

from mcp_bridge.config import BridgeConfig
from mcp_bridge.resilience import open_router
from mcp_bridge.server import build_server
from mcp_bridge.server.app import ServedRouter
from tools.bench._env import FAST_TIMEOUTS, PROTOCOLS, Bench, free_port
from tools.bench._recorder import Recorder
from tools.bench._report import Section, Target
from tools.bench._stats import summary

__all__ = ["FAULT_CLASSES", "run"]

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}
FAULT_CLASSES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("healthy baseline", None, {}),
    ("healthy secondary alone", None, {"only": "secondary"}),
    ("refused", "REFUSED", {}),
    ("reset", "reset", {}),
    ("500 once", "server_error_once", {}),
    ("503 persistent", "unavailable", {}),
    ("529 overloaded", "overloaded_529", {}),
    ("429 Retry-After 2", "rate_limit", {"retry_after": 2}),
    ("no response", "no_response", {}),
    ("slow first token 3 s", "slow_first_token", {"delay_ms": 3000}),
    ("stream stall", "stream_stall", {}),
    ("stream cut", "stream_cut", {}),
    ("healthy baseline (schema)", None, {}),
    ("invalid JSON for schema", "invalid_json", {"kind": "schema"}),
]
RANDOM_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("ok", {}),
    ("reset", {}),
    ("server_error", {}),
    ("unavailable", {}),
    ("overloaded_529", {}),
    ("rate_limit", {"retry_after": 1}),
    ("no_response", {}),
    ("slow_first_token", {"delay_ms": 3000}),
    ("stream_stall", {}),
    ("stream_cut", {}),
    ("malformed_chunk", {}),
    ("flap", {"fault": "unavailable"}),
]
PROMPT = {"prompt": "Say hi in five words.", "max_tokens": 32}
NAMES = tuple(PROTOCOLS)
SILENT_ALLOWANCE_MS = 5.0
"""What a timed-out attempt may cost beyond its timeout: the event loop's
timers wake up to 1 ms late (epoll counts whole milliseconds), and the
cancelled exchange unwinds and closes its connection (about 1 ms here)."""
BREAKER = {"consecutive_failures": 3, "base_cooldown_s": 1.0, "max_cooldown_s": 2.0}

METHOD = """\
Per fault class, a fresh in-process bridge (memory state, hedging off) answers
sequential `complete` calls over the in-memory MCP client. The primary is the
faulty provider (OpenAI protocol), the secondary (Anthropic protocol) is
healthy; both are served by the fake provider. Before the fault is set, one call
per healthy provider warms the connections; `first` is then the first faulty
call (breaker closed), the percentiles cover every call, and
`primary requests` counts what the fake provider logged for the primary's
model (for `refused`, the connection attempts the bridge made). `healthy
secondary alone` sends every call to the secondary: answers that fail over
come from it, so the failover targets compare against its latency."""

TARGETS_METHOD = """\
Same set-up. 429: the primary always answers 429 with Retry-After N; calls
run back to back for N + 1.5 s and the bridge's own send times to the primary
(recorded by a wrapping httpx2 transport) are compared. Breaker: the primary
always answers 503; concurrent callers loop, and every request to the primary
after the breaker opened must come at least 0.8 x the base cooldown after the
previous one (the cooldown is jittered +-20 %). Random faults: three
providers; before each batch of concurrent calls the primary and the
secondary each get a fault drawn at random (including `ok`), the tertiary
(Gemini protocol) stays healthy; every call carries `timeout_s`."""


def _data(bench: Bench, fault: str | None, **tables: Any) -> dict[str, Any]:
    primary = bench.provider("primary")
    if fault == "REFUSED":
        primary["base_url"] = f"http://127.0.0.1:{free_port()}/v1"
    providers = [primary, bench.provider("secondary")]
    return bench.config_data(providers, breaker=BREAKER, **tables)


@asynccontextmanager
async def recorded_bridge(
    config: BridgeConfig, recorder: Recorder
) -> AsyncIterator[Client]:
    """An in-memory client on a bridge whose upstream traffic is recorded."""

    def factory(cfg: BridgeConfig) -> AbstractAsyncContextManager[ServedRouter]:
        return open_router(cfg, transport=recorder)

    server = build_server(config, router_factory=factory)
    async with Client(server) as client:
        yield client


async def _ask(client: Client, args: dict[str, Any]) -> tuple[float, str | None]:
    """One call: latency in ms and the provider that answered (None on error)."""
    start = anyio.current_time()
    result = await client.call_tool("complete", args)
    ms = (anyio.current_time() - start) * 1000.0
    if result.is_error or not result.structured_content:
        return ms, None
    return ms, str(result.structured_content.get("provider"))


async def _warm(client: Client, ask: dict[str, Any], names: list[str]) -> None:
    """One call per named provider, so that measured calls find warm connections."""
    for name in names:
        await client.call_tool("complete", {**ask, "providers": [name]})


async def fault_row(
    bench: Bench, label: str, fault: str | None, args: dict[str, Any], calls: int
) -> dict[str, Any]:
    """`calls` sequential calls with `fault` on the primary; one table row."""
    bench.fake.reset()
    ask: dict[str, Any] = dict(PROMPT)
    if "schema" in label:
        ask["json_schema"] = SCHEMA
    if "only" in args:
        ask["providers"] = [args["only"]]
    recorder = Recorder(NAMES)
    served: Counter[str] = Counter()
    latencies: list[float] = []
    async with recorded_bridge(bench.load(_data(bench, fault)), recorder) as client:
        warm = ["secondary"] if fault == "REFUSED" else ["primary", "secondary"]
        await _warm(client, ask, warm)
        bench.fake.control("DELETE", "requests")
        recorder.sent.clear()
        if fault not in (None, "REFUSED"):
            bench.fake.set_fault("primary-model", fault, **args)
        for _ in range(calls):
            ms, provider = await _ask(client, ask)
            latencies.append(ms)
            served[provider or "error"] += 1
    logged = len(bench.fake.control("GET", "requests?model=primary-model")["requests"])
    sent = len(recorder.times("primary"))
    stats = summary(latencies)
    return {
        "fault on primary": label,
        "first_ms": round(latencies[0], 1),
        "p50_ms": stats["p50_ms"],
        "p99_ms": stats["p99_ms"],
        "max_ms": stats["max_ms"],
        "answered": f"{calls - served['error']}/{calls}",
        "primary requests": sent if fault == "REFUSED" else logged,
        "served by": ", ".join(f"{k} {v}" for k, v in served.most_common()),
    }


async def retry_after_row(bench: Bench, wait_s: int) -> tuple[dict[str, Any], Target]:
    """429 with Retry-After: no request to the primary sooner than `wait_s`."""
    bench.fake.reset()
    bench.fake.set_fault("primary-model", "rate_limit", retry_after=wait_s)
    recorder = Recorder(NAMES)
    async with recorded_bridge(bench.load(_data(bench, None)), recorder) as client:
        end = anyio.current_time() + wait_s + 1.5
        calls = 0
        while anyio.current_time() < end:
            await _ask(client, PROMPT)
            calls += 1
            await anyio.sleep(0.02)
    times = recorder.times("primary")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    shortest = min(gaps) if gaps else float("inf")
    row = {
        "scenario": f"429 Retry-After {wait_s} s",
        "calls": calls,
        "primary requests": len(times),
        "shortest gap_s": round(shortest, 3) if gaps else None,
    }
    ok = len(times) >= 2 and shortest >= wait_s
    target = Target(
        f"429 Retry-After {wait_s} s never retried early",
        f"{len(times)} requests, shortest gap {row['shortest gap_s']} s",
        f">= {wait_s} s",
        ok,
    )
    return row, target


async def breaker_row(
    bench: Bench, duration_s: float, callers: int
) -> tuple[dict[str, Any], Target]:
    """An always-503 primary under concurrent callers: one probe per cooldown."""
    bench.fake.reset()
    bench.fake.set_fault("primary-model", "unavailable")
    recorder = Recorder(NAMES)
    calls = 0
    async with recorded_bridge(bench.load(_data(bench, None)), recorder) as client:
        end = anyio.current_time() + duration_s

        async def caller() -> None:
            nonlocal calls
            while anyio.current_time() < end:
                await _ask(client, PROMPT)
                calls += 1

        async with anyio.create_task_group() as group:
            for _ in range(callers):
                group.start_soon(caller)
    sent = [s for s in recorder.sent if s.provider == "primary"]
    threshold = int(BREAKER["consecutive_failures"])
    opened = sorted(s.end for s in sent)[threshold - 1] if len(sent) >= threshold else 0
    probes = [s.start for s in sent if s.start > opened]
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    floor_s = 0.8 * BREAKER["base_cooldown_s"]
    shortest = min(gaps) if gaps else None
    row = {
        "scenario": f"breaker: 503 primary, {callers} callers, {duration_s:.0f} s",
        "calls": calls,
        "primary requests": len(sent),
        "before open": len(sent) - len(probes),
        "probes after open": len(probes),
        "shortest gap_s": round(shortest, 3) if shortest is not None else None,
    }
    ok = bool(probes) and (shortest is None or shortest >= floor_s)
    target = Target(
        "open breaker: at most one probe per cooldown",
        f"{len(probes)} probes in {duration_s:.0f} s, "
        f"shortest gap {row['shortest gap_s']} s",
        f">= {floor_s:.1f} s apart",
        ok,
    )
    return row, target


async def random_row(
    bench: Bench, calls: int, batch: int, deadline_s: float, seed: int = 7
) -> tuple[dict[str, Any], Target]:
    """Random faults on two of three providers; every call answered in time."""
    rng = random.Random(seed)
    bench.fake.reset()
    providers = [bench.provider(n) for n in NAMES]
    data = bench.config_data(providers, breaker=BREAKER)
    recorder = Recorder(NAMES)
    latencies: list[float] = []
    failed = late = 0
    async with recorded_bridge(bench.load(data), recorder) as client:
        for _ in range(calls // batch):
            for name in ("primary", "secondary"):
                fault, args = rng.choice(RANDOM_FAULTS)
                # Through the control API: a flap's args carry their own "fault".
                body = {"model": f"{name}-model", "fault": fault, "args": args}
                bench.fake.control("POST", "faults", body)
            results: list[tuple[float, str | None]] = []

            async def one(into: list[tuple[float, str | None]]) -> None:
                into.append(await _ask(client, {**PROMPT, "timeout_s": deadline_s}))

            async with anyio.create_task_group() as group:
                for _ in range(batch):
                    group.start_soon(one, results)
            for ms, provider in results:
                latencies.append(ms)
                failed += provider is None
                late += ms > deadline_s * 1000.0
    total = len(latencies)
    stats = summary(latencies)
    row = {
        "scenario": f"random faults on 2 of 3 providers, {total} calls",
        "calls": total,
        "answered": total - failed,
        "over deadline": late,
        "p50_ms": stats["p50_ms"],
        "p99_ms": stats["p99_ms"],
        "max_ms": stats["max_ms"],
    }
    ok = failed == 0 and late == 0 and total > 0
    target = Target(
        f"{total} calls with random faults answered within {deadline_s:.0f} s",
        f"{total - failed} answered, {late} late",
        "100 % in time",
        ok,
    )
    return row, target


def _class_targets(rows: list[dict[str, Any]]) -> list[Target]:
    by = {r["fault on primary"]: r for r in rows}
    # Both answers come from the secondary (another protocol, another stream
    # shape), so its own healthy latency is the yardstick.
    second = by["healthy secondary alone"]
    refused = by["refused"]["first_ms"] - second["p50_ms"]
    timeout_ms = FAST_TIMEOUTS["first_token_timeout_s"] * 1000
    silent_limit = timeout_ms + second["p99_ms"] + SILENT_ALLOWANCE_MS
    silent = by["no response"]["first_ms"]
    return [
        Target(
            "refusing primary adds < 50 ms (first call vs healthy secondary p50)",
            f"{refused:.1f} ms",
            "< 50 ms",
            refused < 50,
        ),
        Target(
            "silent primary costs <= first-token timeout + secondary latency",
            f"{silent:.1f} ms (first call)",
            f"<= {silent_limit:.1f} ms (timeout + healthy secondary p99"
            f" + {SILENT_ALLOWANCE_MS:g} ms)",
            silent <= silent_limit,
        ),
    ]


async def run(bench: Bench, *, quick: bool) -> list[Section]:
    """Both failover sections: per fault class, and the resilience targets."""
    calls = 20 if quick else 100
    started = time.perf_counter()
    rows = [await fault_row(bench, *fc, calls) for fc in FAULT_CLASSES]
    classes = Section(
        key="failover",
        title="Failover time per fault class on the primary",
        method=METHOD,
        settings={"calls per class": calls, **FAST_TIMEOUTS, **BREAKER},
        rows=rows,
        targets=_class_targets(rows),
        seconds=time.perf_counter() - started,
    )
    started = time.perf_counter()
    extra = [
        await retry_after_row(bench, 1 if quick else 2),
        await breaker_row(bench, 4.0 if quick else 8.0, 20),
        await random_row(bench, 200 if quick else 1000, 25, 10.0),
    ]
    targets = Section(
        key="resilience",
        title="Resilience targets: Retry-After, breaker probes, random faults",
        method=TARGETS_METHOD,
        settings={**FAST_TIMEOUTS, **BREAKER, "hedging": "off"},
        rows=[r for r, _ in extra],
        targets=[t for _, t in extra],
        seconds=time.perf_counter() - started,
    )
    return [classes, targets]
