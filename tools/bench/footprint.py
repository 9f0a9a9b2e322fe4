"""Footprint: process start to `initialize` answered, memory, import time."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

import anyio

from tools.bench._clients import FLOOR_ARGV, bridge_argv
from tools.bench._env import REPO, Bench, child_env, free_port, rss_mb, spawn_http
from tools.bench._report import Section, Target
from tools.bench.inflight import HOLD_S
from tools.bench.overhead import one_sample, replayable
from tools.bench.throughput import LATENCY_MS, drive

__all__ = ["import_costs", "run", "start_to_initialize"]

CALLERS = 500
STARTUP_RATIO = 1.15
RSS_LIMIT_MB = 120.0
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "mb-bench", "version": "0"},
    },
}

METHOD = """\
Start-up: the wall time from spawning `python -m mcp_bridge --config FILE
serve` (or `python -m tools.bench.floor`, a minimal MCPServer with one tool)
to reading its answer to an `initialize` request written to its stdin at
once; several spawns, alternating between the two. The ratio is the median
of each bridge spawn's time over the floor spawn's just before it. Idle RSS is
read from /proc right after that answer. RSS under load is the peak (VmHWM)
of a `serve --http` process while 500 callers send calls for a few seconds:
`complete` to the bridge (upstream latency {latency:.0f} ms), the no-op tool
(waiting as long) to the floor; their idle RSS is read once they listen. The
memory note splits the bridge's growth per in-flight call: the floor's own
growth per call, and one in-flight upstream request, measured as the growth
of the suite's process while 500 copies of the bridge's upstream request,
sent through the bridge's client, wait at the fake. Imports: `python -X
importtime` of the same serve command; the top-level modules with the
largest cumulative import time."""


def start_to_initialize(argv: list[str]) -> tuple[float, float]:
    """Seconds from spawn to the initialize answer, and the RSS (MB) then."""
    line = (json.dumps(INITIALIZE) + "\n").encode()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *argv],
        cwd=REPO,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(line)
        proc.stdin.flush()
        answer = proc.stdout.readline()
        elapsed = time.perf_counter() - start
        if b'"result"' not in answer:
            raise RuntimeError(f"{argv} answered initialize with {answer[:200]!r}")
        return elapsed, rss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def import_costs(argv: list[str], top: int = 8) -> list[tuple[str, float]]:
    """The `top` top-level imports of `argv` by cumulative time (ms)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        cwd=REPO,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    costs: list[tuple[str, float]] = []
    for row in done.stderr.splitlines():
        if not row.startswith("import time:") or "cumulative" in row:
            continue
        _, cumulative, name = row.removeprefix("import time:").split("|")
        if not name.startswith(" ") or name.startswith("  "):
            continue  # nested import: counted in its parent's cumulative time
        costs.append((name.strip(), int(cumulative) / 1000.0))
    return sorted(costs, key=lambda c: -c[1])[:top]


async def _rss_under_load(
    bench: Bench, argv: list[str], call: tuple[str, dict[str, Any]], seconds: float
) -> tuple[float, float]:
    """Idle RSS, then peak RSS under CALLERS callers, of a `--http` server."""
    port = free_port()
    bench.fake.control("POST", "latency", {"ms": LATENCY_MS})
    try:
        with spawn_http([*argv, "--http", "--port", str(port)], port) as proc:
            idle = rss_mb(proc.pid)
            await drive(port, *call, CALLERS, seconds)
            return idle, rss_mb(proc.pid, "VmHWM")
    finally:
        bench.fake.control("POST", "latency", {"ms": 0})


async def upstream_kb_in_flight(bench: Bench, requests: int = CALLERS) -> float:
    """Memory (KB) one in-flight upstream request holds in the bridge's client.

    The bridge's own upstream request, sent `requests` times at once by a
    fresh process (`tools.bench.inflight`) while the fake holds every answer.
    """
    await one_sample(bench)  # the fake now holds a real upstream request
    url, headers, body = replayable(bench)
    spec = {"url": url, "headers": headers, "body": body, "requests": requests}
    # Held past the warm-up (which waits too) and the reading of RSS.
    bench.fake.control("POST", "latency", {"ms": 3000.0 * HOLD_S})
    try:
        done = await anyio.run_process(
            [sys.executable, "-m", "tools.bench.inflight"],
            input=json.dumps(spec).encode(),
            cwd=REPO,
            env=child_env(),
        )
    finally:
        bench.fake.control("POST", "latency", {"ms": 0})
    return float(done.stdout.decode().strip())


async def run(bench: Bench, *, quick: bool) -> list[Section]:
    """Start-up against the floor, memory idle and under load, import costs."""
    started = time.perf_counter()
    spawns = 3 if quick else 21
    config = str(
        bench.write_config(bench.config_data([bench.provider("primary", fast=False)]))
    )
    rows: list[dict[str, Any]] = []
    medians: dict[str, float] = {}
    servers = (("floor", FLOOR_ARGV), ("bridge", bridge_argv(config)))
    # Alternating spawns: a drift in the machine's load hits both sides alike.
    spawned: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in servers}
    for _ in range(spawns):
        for label, argv in servers:
            spawned[label].append(start_to_initialize(argv))
    for label, _ in servers:
        runs = spawned[label]
        medians[label] = statistics.median(r[0] for r in runs) * 1000.0
        rows.append(
            {
                "server": label,
                "start to initialize p50_ms": round(medians[label], 1),
                "min_ms": round(min(r[0] for r in runs) * 1000.0, 1),
                "idle RSS MB": round(statistics.median(r[1] for r in runs), 1),
            }
        )
    seconds = 3.0 if quick else 6.0
    floor_argv = [*FLOOR_ARGV, "--latency-ms", str(LATENCY_MS)]
    floor_idle, floor_peak = await _rss_under_load(
        bench, floor_argv, ("noop", {"prompt": "hi"}), seconds
    )
    prompt = {"prompt": "Say hi in five words.", "max_tokens": 32}
    idle, peak = await _rss_under_load(
        bench, bridge_argv(config), ("complete", prompt), seconds
    )
    for label, at_rest, top in (
        ("floor", floor_idle, floor_peak),
        ("bridge", idle, peak),
    ):
        rows.append(
            {
                "server": f"{label} --http, {CALLERS} callers",
                "idle RSS MB": round(at_rest, 1),
                "peak RSS MB": round(top, 1),
            }
        )
    upstream_kb = await upstream_kb_in_flight(bench)
    costs = import_costs(bridge_argv(config))
    version = import_costs(["-m", "mcp_bridge", "--version"], top=3)
    # Each bridge spawn against the floor spawn just before it: on a shared
    # machine the load drifts between spawns, and pairs cancel most of it.
    ratio = statistics.median(
        b[0] / f[0] for f, b in zip(spawned["floor"], spawned["bridge"], strict=True)
    )
    section = Section(
        key="footprint",
        title="Footprint: start-up, memory, imports",
        method=METHOD.format(latency=LATENCY_MS),
        settings={"spawns": spawns},
        rows=rows,
        targets=[
            Target(
                "start-up vs SDK floor",
                f"{ratio:.2f} x (median of paired spawns; p50 "
                f"{medians['bridge']:.0f} vs {medians['floor']:.0f} ms)",
                f"<= {STARTUP_RATIO} x",
                ratio <= STARTUP_RATIO,
            ),
            Target(
                "RSS under load",
                f"{peak:.1f} MB",
                f"< {RSS_LIMIT_MB:.0f} MB",
                peak < RSS_LIMIT_MB,
            ),
        ],
        notes=[
            _memory_note(floor_idle, floor_peak, idle, peak, upstream_kb),
            "largest imports on the serve path (cumulative ms): "
            + ", ".join(f"{n} {ms:.0f}" for n, ms in costs),
            "`--version` imports: " + ", ".join(f"{n} {ms:.0f}" for n, ms in version),
        ],
    )
    section.seconds = time.perf_counter() - started
    return [section]


def _memory_note(
    floor_idle: float, floor_peak: float, idle: float, peak: float, upstream_kb: float
) -> str:
    """Where the memory under load goes, per in-flight call."""
    per_call = (peak - idle) * 1024.0 / CALLERS
    sdk = (floor_peak - floor_idle) * 1024.0 / CALLERS
    own = per_call - sdk - upstream_kb
    return (
        f"under {CALLERS} callers each in-flight call holds {per_call:.0f} KB in "
        f"the bridge: {sdk:.0f} KB is what the floor holds per call (SDK, HTTP "
        f"server), {upstream_kb:.0f} KB one in-flight upstream request in "
        f"httpx2 (measured alone), {own:.0f} KB the rest (routing, parsing, "
        f"results)"
    )
