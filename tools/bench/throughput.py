"""Throughput over streamable HTTP: raw JSON-RPC POSTs from many callers."""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from tools.bench._clients import FLOOR_ARGV, bridge_argv
from tools.bench._env import Bench, free_port, rss_mb, spawn_http
from tools.bench._report import Section, Target
from tools.bench._stats import percentile
from tools.bench._wire import Connection

__all__ = ["LATENCY_MS", "Load", "drive", "run"]

LATENCY_MS = 200.0
WORKERS = max(os.cpu_count() or 1, 2)
"""Worker processes for the multi-process row: one per core, as documented."""
PROTOCOL = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": PROTOCOL,
    "io.modelcontextprotocol/clientInfo": {"name": "mb-bench", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}

METHOD = f"""\
Three servers run as their own processes at once: the floor, the bridge
(`serve --http`, stateless, rate limit off, default attempt timeouts) and
the bridge with `--workers` set to the core count (state in SQLite, which
workers share), the documented set-up for a shared service. The fake
provider answers after a fixed {LATENCY_MS:.0f} ms. The load generator is one
process with one task and one kept-alive HTTP/1.1 connection per caller (a
minimal client on anyio streams; httpx2 cost more CPU than the servers
under test at 500 callers); each task sends a self-contained 2026-07-28
`tools/call` POST (no session, as a stateless agent would) and sends the
next as soon as the answer arrives. At each level the servers take turns:
each gets the same stretch of load in every round, and a row pools its
rounds (calls over total time, latencies together), so a slow spell of the
machine falls on all three alike. Only calls started within a turn count.
The floor is the no-op tool on a minimal MCPServer over the same HTTP
transport, waiting the same {LATENCY_MS:.0f} ms inside the tool, so the two
differ only by what the bridge does (routing, the upstream HTTP call and
SSE parsing, rendering). CPU % is user+system time over wall time of the
server's whole process tree (100 % = one core); the machine has the cores
listed above for every process. Peak RSS is the largest worker's VmHWM;
PSS is the tree's proportional memory at the end of the level (pages
shared copy-on-write counted once)."""


@dataclass
class Load:
    """What one level of concurrent callers achieved."""

    callers: int
    seconds: float = 0.0
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""
    client_cpu: float = 0.0


def tool_body(name: str, arguments: dict[str, Any], ident: int) -> bytes:
    """A JSON-RPC tools/call request for the 2026-07-28 protocol."""
    params = {"name": name, "arguments": arguments, "_meta": META}
    message = {"jsonrpc": "2.0", "id": ident, "method": "tools/call", "params": params}
    return json.dumps(message).encode()


def _headers(name: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": PROTOCOL,
        "mcp-method": "tools/call",
        "mcp-name": name,
    }


def _failure(status: int, data: bytes) -> str | None:
    if status != 200:
        return f"HTTP {status}: {data[:200]!r}"
    text = data.decode()
    if text.startswith(("event:", "data:", ":")):
        # An SSE answer (progress first): the result is the last data line.
        text = [ln for ln in text.splitlines() if ln.startswith("data:")][-1][5:]
    reply = json.loads(text)
    if "error" in reply:
        return str(reply["error"])[:200]
    if reply["result"].get("isError"):
        return str(reply["result"].get("content"))[:200]
    return None


async def drive(
    port: int, tool: str, arguments: dict[str, Any], callers: int, seconds: float
) -> Load:
    """`callers` concurrent loops of tool calls for `seconds`; the totals."""
    load = Load(callers)
    headers = _headers(tool)
    cpu0, start = time.process_time(), anyio.current_time()
    end = start + seconds

    async def caller(index: int) -> None:
        conn = Connection("127.0.0.1", port, "/mcp")
        n = 0
        try:
            while anyio.current_time() < end:
                n += 1
                body = tool_body(tool, arguments, index * 1_000_000 + n)
                sent = anyio.current_time()
                try:
                    problem = _failure(*await conn.post(body, headers))
                except (OSError, anyio.EndOfStream, anyio.BrokenResourceError) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                    await conn.aclose()
                _count(load, problem, (anyio.current_time() - sent) * 1000.0)
        finally:
            await conn.aclose()

    async with anyio.create_task_group() as group:
        for index in range(callers):
            group.start_soon(caller, index)
    load.seconds = anyio.current_time() - start
    load.client_cpu = 100.0 * (time.process_time() - cpu0) / load.seconds
    return load


def _count(load: Load, problem: str | None, ms: float) -> None:
    load.latencies.append(ms)
    if problem is None:
        load.ok += 1
    else:
        load.errors += 1
        load.first_error = load.first_error or problem


_FAKE_PID: list[int] = []


def _fake_pid() -> int:
    return _FAKE_PID[0] if _FAKE_PID else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by `pid` and its live children."""
    if not pid:
        return 0.0
    total = 0.0
    for member in process_tree(pid):
        stat = Path(f"/proc/{member}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / 100.0
    return total


def process_tree(pid: int) -> list[int]:
    """`pid` and its children (a `--workers` service's workers)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return [pid]
    return [pid, *(int(x) for x in text.split())]


def pss_mb(pid: int) -> float:
    """Proportional memory of the tree (shared pages split among sharers), MB."""
    total = 0
    for member in process_tree(pid):
        for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total / 1024.0


@dataclass
class Server:
    """One server process under test and the tool its callers call."""

    label: str
    port: int
    pid: int
    tool: str
    arguments: dict[str, Any]


@dataclass
class Sample:
    """One timed stretch of load against one server."""

    load: Load
    server_cpu_s: float
    fake_cpu_s: float


async def measure_once(server: Server, callers: int, seconds: float) -> Sample:
    """`callers` concurrent callers on `server` for `seconds`, with CPU used."""
    fake = _fake_pid()
    cpu0, fake0 = cpu_seconds(server.pid), cpu_seconds(fake)
    load = await drive(server.port, server.tool, server.arguments, callers, seconds)
    return Sample(load, cpu_seconds(server.pid) - cpu0, cpu_seconds(fake) - fake0)


def level_row(server: Server, samples: list[Sample]) -> dict[str, Any]:
    """One table row from a level's samples, pooled: totals over total time."""
    seconds = sum(s.load.seconds for s in samples)
    ok = sum(s.load.ok for s in samples)
    errors = sum(s.load.errors for s in samples)
    latencies = [ms for s in samples for ms in s.load.latencies]
    client_cpu = sum(s.load.client_cpu * s.load.seconds for s in samples) / seconds
    first_error = next((s.load.first_error for s in samples if s.load.first_error), "")
    row: dict[str, Any] = {
        "callers": samples[0].load.callers,
        "calls/s": round(ok / seconds, 1),
        "error rate": round(errors / (ok + errors), 4) if ok + errors else None,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "server CPU %": round(100.0 * sum(s.server_cpu_s for s in samples) / seconds),
        "client CPU %": round(client_cpu),
        "fake CPU %": round(100.0 * sum(s.fake_cpu_s for s in samples) / seconds),
        "server peak RSS MB": round(
            max(rss_mb(p, "VmHWM") for p in process_tree(server.pid)), 1
        ),
        "server PSS MB": round(pss_mb(server.pid), 1),
    }
    if first_error:
        row["first error"] = first_error[:120]
    return row


async def run_servers(
    servers: list[Server], levels: list[int], seconds: float, rounds: int
) -> dict[str, list[dict[str, Any]]]:
    """Every level on every server, the servers taking turns within each level.

    Each level runs `rounds` times; in each round every server gets `seconds`
    of load in turn. A slower or faster spell of the machine then falls on
    all of them alike instead of on whichever server ran at the time.
    """
    rows: dict[str, list[dict[str, Any]]] = {s.label: [] for s in servers}
    for callers in levels:
        samples: dict[str, list[Sample]] = {s.label: [] for s in servers}
        for _ in range(rounds):
            for server in servers:
                samples[server.label].append(
                    await measure_once(server, callers, seconds)
                )
        for server in servers:
            rows[server.label].append(level_row(server, samples[server.label]))
    return rows


def _targets(
    floor: list[dict[str, Any]], bridge: list[dict[str, Any]], label: str
) -> list[Target]:
    targets = []
    for f, b in zip(floor, bridge, strict=True):
        ratio = b["calls/s"] / f["calls/s"] if f["calls/s"] else 0.0
        targets.append(
            Target(
                f"HTTP throughput at {b['callers']} callers vs SDK floor ({label})",
                f"{ratio:.2f} x ({b['calls/s']} vs {f['calls/s']} calls/s)",
                ">= 0.80 x",
                ratio >= 0.8,
            )
        )
    top = bridge[-1]
    targets.append(
        Target(
            f"no errors at {top['callers']} concurrent callers ({label})",
            f"error rate {top['error rate']}",
            "0",
            top["error rate"] == 0,
        )
    )
    return targets


def _ratios(floor: list[dict[str, Any]], bridge: list[dict[str, Any]]) -> str:
    parts = [
        f"{b['callers']} callers {b['calls/s'] / f['calls/s']:.2f} x"
        for f, b in zip(floor, bridge, strict=True)
        if f["calls/s"]
    ]
    return "one process (the default, workers = 1) against the floor: " + ", ".join(
        parts
    )


async def upstream_cpu_ms(bench: Bench, samples: int = 300) -> float:
    """CPU (ms) one streamed upstream exchange costs the process making it.

    The bridge's own upstream request, replayed with httpx2 against the fake
    at zero think time: the part of a bridge call the no-op floor never pays.
    """
    from tools.bench.overhead import direct_call, one_sample

    await one_sample(bench)  # the fake now holds a real upstream request
    async with direct_call(bench) as call:
        for _ in range(30):
            await call()
        cpu0 = time.process_time()
        for _ in range(samples):
            await call()
    return (time.process_time() - cpu0) / samples * 1000.0


def _ceilings(floor: list[dict[str, Any]], upstream_ms: float) -> list[str]:
    """The best ratio a one-process bridge could reach at each level."""
    notes = [
        f"one upstream exchange (httpx2, streamed) costs {upstream_ms:.2f} ms "
        "of CPU in the process that makes it"
    ]
    for row in floor:
        if not row["calls/s"] or row["server CPU %"] < 90:
            continue  # the floor is not CPU-bound here: no ceiling follows
        floor_ms = 10.0 * row["server CPU %"] / row["calls/s"]
        ceiling = floor_ms / (floor_ms + upstream_ms)
        notes.append(
            f"{row['callers']} callers: the floor is CPU-bound "
            f"({row['server CPU %']} %) at {floor_ms:.2f} ms of CPU per call; a "
            f"one-process server doing the floor's work plus one upstream "
            f"exchange per call, and nothing else, reaches at most "
            f"{ceiling:.2f} x the floor"
        )
    return notes


async def run(bench: Bench, *, quick: bool) -> list[Section]:
    """Floor, bridge and bridge --workers, taking turns at 10, 100 and 500 callers."""
    started = time.perf_counter()
    levels = [10, 100, 500]
    seconds, rounds = (4.0, 1) if quick else (5.0, 3)
    bench.fake.reset()
    upstream_ms = await upstream_cpu_ms(bench, 100 if quick else 300)
    bench.fake.reset()
    _FAKE_PID[:] = [bench.fake_pid]
    bench.fake.control("POST", "latency", {"ms": LATENCY_MS})
    prompt = {"prompt": "Say hi in five words.", "max_tokens": 32}
    providers = [bench.provider("primary", fast=False)]
    config = bench.write_config(bench.config_data(providers))
    # Workers share health and plans through SQLite (memory is refused).
    state = f"sqlite://{bench.dir / 'throughput-state.db'}"
    shared = bench.write_config(bench.config_data(providers, state=state))
    several = f"bridge --workers {WORKERS}"
    plan = [
        ("floor", [*FLOOR_ARGV, "--latency-ms", str(LATENCY_MS)], "noop"),
        ("bridge", bridge_argv(str(config)), "complete"),
        (several, [*bridge_argv(str(shared)), "--workers", str(WORKERS)], "complete"),
    ]
    try:
        with ExitStack() as stack:
            servers = []
            for label, argv, tool in plan:
                port = free_port()
                proc = stack.enter_context(
                    spawn_http([*argv, "--http", "--port", str(port)], port)
                )
                args = {"prompt": "hi"} if tool == "noop" else prompt
                servers.append(Server(label, port, proc.pid, tool, args))
            for server in servers:
                await drive(server.port, server.tool, server.arguments, 5, 1.0)
            rows = await run_servers(servers, levels, seconds, rounds)
    finally:
        bench.fake.control("POST", "latency", {"ms": 0})
    floor, single = rows["floor"], rows["bridge"]
    table = [{"server": label, **r} for label, _, _ in plan for r in rows[label]]
    section = Section(
        key="throughput",
        title=f"Throughput over HTTP, upstream latency {LATENCY_MS:.0f} ms",
        method=METHOD,
        settings={
            "seconds per turn": seconds,
            "rounds per level": rounds,
            "levels": levels,
        },
        rows=table,
        targets=_targets(floor, rows[several], f"--workers {WORKERS}"),
        notes=[_ratios(floor, single), *_ceilings(floor, upstream_ms)],
        seconds=time.perf_counter() - started,
    )
    return [section]
