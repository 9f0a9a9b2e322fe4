"""The SDK floor: a minimal MCPServer with one no-op tool, run like the bridge.

`python -m tools.bench.floor` serves it over stdio; `--http --port N` over
streamable HTTP (stateless, like the bridge's default).
"""

from __future__ import annotations

import argparse
import sys

import anyio
from mcp.server.mcpserver import MCPServer

__all__ = ["build_floor", "main"]


def build_floor(latency_ms: float = 0.0) -> MCPServer:
    """A server whose only tool returns its input: the SDK's own cost.

    With `latency_ms` the tool first waits that long, standing in for the
    upstream's think time in throughput runs.
    """
    server = MCPServer(name="floor")

    @server.tool()
    async def noop(prompt: str = "") -> str:
        """Return the prompt unchanged (after the configured wait)."""
        if latency_ms:
            await anyio.sleep(latency_ms / 1000.0)
        return prompt

    return server


def main(argv: list[str] | None = None) -> int:
    """Serve the floor server over stdio or HTTP until stopped."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench.floor")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    server = build_floor(args.latency_ms)
    if args.http:
        import uvicorn

        app = server.streamable_http_app(stateless_http=True, host=args.host)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    else:
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
