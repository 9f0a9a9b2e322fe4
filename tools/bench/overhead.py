"""Overhead: a `complete` call through the bridge against floor + direct call."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx2

from tools.bench._clients import TRANSPORTS, Call, open_session, timed, tool_call
from tools.bench._env import Bench
from tools.bench._report import Section, Target
from tools.bench._stats import summary

__all__ = ["PROMPT", "direct_call", "one_sample", "run"]

PROMPT = {"prompt": "Say hi in five words.", "max_tokens": 32}
STDIO_TARGET_MS = 1.0

METHOD = """\
Each row times sequential calls (after a warm-up) from one client session;
per transport the floor, the bridge (and, once, the direct call) are timed in
turns, one call each, so that machine drift affects them alike.
`bridge` is the `complete` tool with one OpenAI-protocol provider on the fake
provider (zero think time, streamed answer); `floor` is a no-op tool on a
minimal MCPServer over the same transport (in-memory `mcp.Client(server)`, a
stdio child process, or a `--http` child on a free port, stateless); `direct`
is the exact request the bridge sent (read back from the fake's request log),
sent with httpx2 to the same fake and read to the end. Added latency =
bridge - (floor + direct), at p50 and at p99."""


def bridge_data(bench: Bench) -> dict[str, Any]:
    """One healthy OpenAI-protocol provider, memory state."""
    return bench.config_data([bench.provider("primary")])


async def one_sample(bench: Bench, transport: str = "memory") -> float:
    """One timed `complete` call over `transport` (the smallest unit; for tests)."""
    async with open_session(bench, bridge_data(bench), transport) as client:
        samples = await timed(tool_call(client, "complete", PROMPT), 1, 0)
    return samples[0]


def _sent_request(bench: Bench) -> dict[str, Any]:
    log = bench.fake.control("GET", "requests?model=primary-model")["requests"]
    if not log:
        raise RuntimeError("the bridge sent nothing to the fake provider")
    return dict(log[-1])


def replayable(bench: Bench) -> tuple[str, dict[str, str], Any]:
    """URL, headers and JSON body of the bridge's last upstream request."""
    sent = _sent_request(bench)
    headers = {k: v for k, v in sent["headers"].items() if k.lower() in _KEEP}
    return bench.fake.url + sent["path"], headers, sent["body"]


@asynccontextmanager
async def direct_call(bench: Bench) -> AsyncIterator[Call]:
    """The bridge's last upstream request, replayed with httpx2."""
    url, headers, body = replayable(bench)
    async with httpx2.AsyncClient() as client:

        async def call() -> None:
            async with client.stream("POST", url, json=body, headers=headers) as r:
                r.raise_for_status()
                async for _ in r.aiter_bytes():
                    pass

        yield call


_KEEP = {"authorization", "content-type", "accept"}


async def alternating(
    calls: list[Call], samples: int, warmup: int
) -> list[list[float]]:
    """Latencies (ms) of each call, taken in turns so that a drift in the
    machine's load affects every path alike."""
    for call in calls:
        await timed(call, warmup, 0)
    out: list[list[float]] = [[] for _ in calls]
    for _ in range(samples):
        for call, latencies in zip(calls, out, strict=True):
            latencies += await timed(call, 1, 0)
    return out


async def run(bench: Bench, *, quick: bool) -> Section:
    """Measure every transport; return the section with the stdio target."""
    samples, warmup = (60, 10) if quick else (400, 40)
    started = time.perf_counter()
    bench.fake.reset()
    rows: list[dict[str, Any]] = []
    direct: dict[str, float] = {}
    for transport in TRANSPORTS:
        async with (
            open_session(bench, None, transport) as floor,
            open_session(bench, bridge_data(bench), transport) as bridge,
        ):
            calls = [
                tool_call(floor, "noop", {"prompt": PROMPT["prompt"]}),
                tool_call(bridge, "complete", PROMPT),
            ]
            await calls[1]()  # The direct call replays this request.
            async with AsyncExitStack() as stack:
                if not direct:
                    calls.append(await stack.enter_async_context(direct_call(bench)))
                measured = await alternating(calls, samples, warmup)
        for label, lat in zip(("floor", "bridge"), measured, strict=False):
            rows.append({"transport": transport, "path": label, **summary(lat)})
        if not direct:
            direct = summary(measured[2])
    rows.insert(0, {"transport": "-", "path": "direct httpx2", **direct})
    section = Section(
        key="overhead",
        title="Overhead: complete through the bridge vs SDK floor + direct call",
        method=METHOD,
        settings={"samples": samples, "warmup": warmup, "state": "memory"},
        rows=rows + _added_rows(rows, direct),
    )
    section.targets.append(_stdio_target(section.rows))
    section.seconds = time.perf_counter() - started
    return section


def _added_rows(
    rows: list[dict[str, Any]], direct: dict[str, float]
) -> list[dict[str, Any]]:
    added = []
    for transport in TRANSPORTS:
        pick = {r["path"]: r for r in rows if r["transport"] == transport}
        added.append(
            {
                "transport": transport,
                "path": "added = bridge - (floor + direct)",
                "p50_ms": round(_added(pick, direct, "p50_ms"), 3),
                "p99_ms": round(_added(pick, direct, "p99_ms"), 3),
            }
        )
    return added


def _added(pick: dict[str, dict[str, Any]], direct: dict[str, float], q: str) -> float:
    return float(pick["bridge"][q] - pick["floor"][q] - direct[q])


def _stdio_target(rows: list[dict[str, Any]]) -> Target:
    row = next(r for r in rows if r["transport"] == "stdio" and "added" in r["path"])
    value = row["p50_ms"]
    return Target(
        "added latency p50 on stdio",
        f"{value:.3f} ms",
        f"<= {STDIO_TARGET_MS} ms",
        value <= STDIO_TARGET_MS,
    )
