"""MCP client sessions on the bridge and the SDK floor, per transport."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from mcp_bridge.server import build_server
from tools.bench._env import REPO, Bench, child_env, free_port, spawn_http
from tools.bench.floor import build_floor

__all__ = ["TRANSPORTS", "Call", "bridge_argv", "open_session", "timed"]

TRANSPORTS = ("memory", "stdio", "http")
FLOOR_ARGV = ["-m", "tools.bench.floor"]

Call = Callable[[], Awaitable[None]]


def bridge_argv(config_path: str) -> list[str]:
    """The bridge as Claude Code would start it (serve over stdio)."""
    return ["-m", "mcp_bridge", "--config", config_path, "serve"]


@asynccontextmanager
async def open_session(
    bench: Bench, data: Mapping[str, Any] | None, transport: str
) -> AsyncIterator[Client]:
    """A client on the bridge (config `data`) or, when None, on the floor."""
    if transport == "memory":
        server = build_floor() if data is None else build_server(bench.load(data))
        async with Client(server) as client:
            yield client
        return
    argv = FLOOR_ARGV if data is None else bridge_argv(str(bench.write_config(data)))
    if transport == "stdio":
        params = StdioServerParameters(
            command=sys.executable, args=argv, env=child_env(), cwd=REPO
        )
        async with Client(params) as client:
            yield client
        return
    port = free_port()
    http_argv = [*argv, "--http", "--port", str(port)]
    with spawn_http(http_argv, port):
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            yield client


def tool_call(client: Client, name: str, arguments: dict[str, Any]) -> Call:
    """A zero-argument coroutine function making one checked tool call."""

    async def call() -> None:
        result = await client.call_tool(name, arguments)
        if result.is_error:
            raise RuntimeError(f"{name} failed: {result.content}")

    return call


async def timed(call: Call, samples: int, warmup: int) -> list[float]:
    """Run `call` `warmup` times untimed, then `samples` times; latencies in ms."""
    for _ in range(warmup):
        await call()
    out: list[float] = []
    for _ in range(samples):
        start = anyio.current_time()
        await call()
        out.append((anyio.current_time() - start) * 1000.0)
    return out


def python() -> str:
    """The interpreter running the suite (and every child it starts)."""
    return sys.executable
