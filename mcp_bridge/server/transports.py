"""Serving the MCP server over stdio or streamable HTTP."""

from __future__ import annotations

import logging

import anyio
from starlette.applications import Starlette

from mcp_bridge.config import BridgeConfig
from mcp_bridge.server._memory import prepare_serving_process
from mcp_bridge.server._stdio import serve_stdio
from mcp_bridge.server.app import build_server

__all__ = ["build_http_app", "run_http", "run_stdio"]

logger = logging.getLogger(__name__)


def run_stdio(config: BridgeConfig) -> None:
    """Serve over stdin/stdout until the client closes them (blocks)."""
    server = build_server(config)
    prepare_serving_process()
    logger.info("serving MCP over stdio with %d provider(s)", len(config.providers))
    anyio.run(serve_stdio, server)


def build_http_app(config: BridgeConfig, *, host: str | None = None) -> Starlette:
    """The Starlette app serving MCP at /mcp; the router opens with its lifespan.

    Later layers (auth, metrics, shared state) wrap or extend this app.
    """
    # Imported here: stdio never needs the HTTP service's extra modules.
    from mcp_bridge.server._service import build_service_app

    return build_service_app(config, host=host or config.http.host)


def run_http(config: BridgeConfig, host: str, port: int) -> int:
    """Serve streamable HTTP on host:port until interrupted (blocks); exit code.

    With `[http] workers` above 1, that many processes share the port.
    """
    from mcp_bridge.server._service import serve_service

    if config.http.workers > 1:
        from mcp_bridge.server._workers import run_workers

        return run_workers(config, host, port, prepare_serving_process)

    app = build_http_app(config, host=host)
    prepare_serving_process()
    serve_service(app, config, host, port)
    return 0
